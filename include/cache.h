/* The segment cache: generated segments kept as files in cache_dir, recorded in the store,
 * bounded by size (LRU) and age, generated once however many readers ask (single flight),
 * and prepared ahead of a reader by a small worker pool (prefetch). */
#ifndef HLSFS_CACHE_H
#define HLSFS_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "media.h"

struct store;
struct synth;

struct cache_config {
	const char *dir;         /* cache_dir; NULL: no segment cache */
	uint64_t max_bytes;      /* 0: unbounded */
	uint64_t ttl_seconds;    /* 0: no age limit */
	uint64_t block_ttl_seconds; /* the same for blocks of remote sources (remote_ttl) */
	unsigned workers;        /* generations at once */
	unsigned prefetch;       /* segments prepared ahead of a reader */
	bool passthrough;        /* cache remuxed (passthrough) segments too */
};

/* Starts the cache (scans what is on disk, starts the workers). Returns 0 or a negative errno;
 * with cfg->dir NULL it only sets up direct synthesis. */
int cache_init(const struct cache_config *cfg, struct store *store);
/* Starts the prefetch workers and the maintenance thread: after daemonizing (fork). */
void cache_start(void);
void cache_shutdown(void);

/* An open segment: a cache file (fd >= 0), direct remuxing (synth), or a transcoded segment
 * made for this open alone (mem, without a cache). */
struct cache_segment {
	int fd;
	struct synth *synth;
	uint8_t *mem;
	uint64_t size;
};

/* Opens segment seg of variant `variant` of media m for reading, from the cache when it holds
 * it, else generating it into the cache (transcoded segments always, remuxed ones with
 * cache_passthrough), else making it for this open alone. Takes over the caller's reference
 * on m. Returns 0 or a negative errno. */
int cache_open_segment(struct media *m, unsigned variant, uint32_t seg, struct cache_segment *out);
void cache_close_segment(struct cache_segment *cs);

/* Reads from an open segment that is not a file (fd < 0). */
ssize_t cache_read_segment(struct cache_segment *cs, char *buf, size_t size, uint64_t off);

/* Blocks of remote sources (source.h's block store), kept as entries beside the segments under
 * the same size cap, with their own age limit. material names the block (URL, identity, block
 * number); get fills exactly n bytes and returns 0, or returns -ENOENT; put keeps a copy when
 * it can (a full or unwritable cache keeps nothing, and says so once). */
int cache_block_get(const char *material, void *buf, size_t n);
void cache_block_put(const char *material, const void *buf, size_t n);
bool cache_block_has(const char *material);

#endif
