/* The cache: a plain key -> file store in cache_dir, recorded in the store (LMDB), bounded by
 * size (LRU) and age, crash-safe. It knows keys and bytes, not what they are: segment.h decides
 * what to keep under which key, source.h keeps remote blocks here. */
#ifndef HLSFS_CACHE_H
#define HLSFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* A key is CACHE_KEY_LEN hex digits (a 128-bit hash of what shapes the bytes). */
#define CACHE_KEY_LEN 32
/* A key starting with this instead of a hex digit is a preview sheet's (thumbs.h): kept like a
 * segment, in a file named .jpg, so that the segment files stay countable as such. */
#define CACHE_PREVIEW_MARK 'p'

struct cache_config {
	const char *dir;            /* cache_dir; NULL: no cache, every lookup misses */
	uint64_t max_bytes;         /* 0: unbounded */
	uint64_t ttl_seconds;       /* age cap of entries; 0: none */
	uint64_t block_ttl_seconds; /* the same for blocks of remote sources (remote_ttl) */
};

/* Starts the cache: removes what a killed process left, counts what is kept. Returns 0 or a
 * negative errno; with cfg->dir or store NULL the cache is off (cache_enabled() is false). */
int cache_init(const struct cache_config *cfg, struct store *store);
/* Starts the maintenance thread (recency, age limit): after daemonizing (fork). */
void cache_start(void);
/* Stops it and writes recency out. Safe to call twice, or without cache_init. */
void cache_shutdown(void);
bool cache_enabled(void);

/* Opens the entry of key when it is recorded with exactly size bytes and whole: the first open
 * in this process checks its bytes against the recorded checksum. Returns an fd (the caller
 * closes it), or -ENOENT (a damaged entry is dropped, said once in the log). */
int cache_open(const char *key, uint64_t size);
/* Whether an entry of key with size bytes is recorded, without opening it. */
bool cache_has(const char *key, uint64_t size);

/* Writing an entry: begin reserves its room (evicting least recently used entries), write appends,
 * commit puts it in place (written aside, renamed, then recorded: a kill -9 never leaves a
 * recorded partial entry). A cache that cannot be written (read-only, full disk) says so once
 * and every call fails; the caller then serves what it made without keeping it. */
struct cache_writer;
/* Returns 0 with *out, -EFBIG when size cannot fit even an empty cache, or a negative errno. */
int cache_write_begin(const char *key, uint64_t size, struct cache_writer **out);
/* Appends n bytes. Returns 0 or a negative errno (then abort). */
int cache_write(struct cache_writer *w, const void *p, size_t n);
/* With durable, syncs the file before it is renamed (segments: costly to make again; remote
 * blocks skip it, as their checksum catches a torn one). Frees w. Returns 0 or a negative errno. */
int cache_write_commit(struct cache_writer *w, bool durable);
/* Drops what was written and frees w; NULL is fine. */
void cache_write_abort(struct cache_writer *w);

/* Blocks of remote sources (source.h's block store), kept as entries beside the segments under
 * the same size cap, with their own age limit. material names the block (URL, identity, block
 * number); get fills exactly n bytes and returns 0, or returns -ENOENT; put keeps a copy when
 * it can (a full or unwritable cache keeps nothing, and says so once). */
int cache_block_get(const char *material, void *buf, size_t n);
void cache_block_put(const char *material, const void *buf, size_t n);
bool cache_block_has(const char *material);

#endif
