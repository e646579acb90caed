/* Segments: "give me segment k of variant v of this media". Chooses each segment's cache key and
 * format version, produces it once however many readers ask (remux or transcode), keeps it in
 * the cache, and prepares the next ones ahead of a reader (prefetch). A new kind of output lands
 * here and in its producer alone. */
#ifndef HLSFS_SEGMENT_H
#define HLSFS_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "media.h"

struct synth;

/* How far the kernel reads ahead of a reader through the mount (fs.c sets it): a web server's first
 * read of a segment still being encoded waits for this many final bytes, which a transcoded
 * segment's first GOP is made long enough to hold (transcode.c). */
#define SEGMENT_READAHEAD (64u << 10)

struct segment_config {
	unsigned workers;        /* generations at once (at least 1) */
	unsigned prefetch;       /* segments prepared ahead of a reader */
	bool cache_passthrough;  /* keep remuxed (passthrough) segments in the cache too */
};

/* The format versions of the bytes segment writes (part of every segment name's version). */
const char *segment_format(void);

/* Sets the configuration; call before segment_open. */
void segment_init(const struct segment_config *cfg);
/* Starts the prefetch workers: after daemonizing (fork). */
void segment_start(void);
/* At unmount: encodes under way give up at their next frame, the workers stop, queued work is
 * dropped. Safe to call twice. */
void segment_shutdown(void);

struct production;

/* An open segment: a cache file (fd >= 0), direct remuxing (synth), a transcoded segment being
 * made (prod: reads wait for the bytes they ask), or a transcoded segment made for this open
 * alone (mem, when there is no cache). */
struct segment_file {
	int fd;
	struct production *prod;
	struct synth *synth;
	struct media *m;     /* held while synth reads its index and plan */
	uint8_t *mem;
	uint64_t size;
};

/* Opens segment seg of variant `variant` of media m for reading: from the cache when it holds
 * it, else producing it into the cache (transcoded segments always, remuxed ones with
 * cache_passthrough), else making it for this open alone. Takes over the caller's reference on
 * m. Returns 0 or a negative errno. */
int segment_open(struct media *m, unsigned variant, uint32_t seg, struct segment_file *out);
void segment_close(struct segment_file *sf);

/* A player reading a variant's playlist of a video none of whose segments was opened yet (since the
 * media was built) asks for its first segment next: a VOD starts at 0. When the variant is a
 * transcoded rung, that segment is made from now on, as prefetch (the player's read joins it), so a
 * cold start does not wait the round trip and the player's set-up between the playlist and its
 * first segment. Once per media; nothing for a recording being written (players start at its end),
 * with prefetch=0 or without a cache. */
void segment_prepare_start(struct media *m, unsigned variant);

/* Reads from an open segment that is not a file (fd < 0). */
ssize_t segment_read(struct segment_file *sf, char *buf, size_t size, uint64_t off);

#endif
