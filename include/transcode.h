/* Transcoded rungs: decode a segment's span from the source, scale it, encode it with an H.264
 * encoder under the rung's VBV, and write it as MPEG-TS padded with null packets to exactly the
 * size the plan promised. Only this module, scan.c and poster.c include FFmpeg's codec headers. */
#ifndef HLSFS_TRANSCODE_H
#define HLSFS_TRANSCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synth.h"

struct transcode_config {
	const char *encoder;   /* libavcodec encoder name, e.g. libx264, h264_nvenc */
	const char *preset;    /* e.g. veryfast */
	const char *profile;   /* baseline, main or high */
};

/* True when this FFmpeg has an H.264 encoder of that name. */
bool transcode_encoder_exists(const char *name);

/* Sets the encoder settings every transcode uses. */
void transcode_init(const struct transcode_config *cfg);

/* Decoder threads per transcode (frame and slice threads); 0, the default: one per core. The
 * bytes are the same whatever the count. */
void transcode_set_decoder_threads(unsigned n);

/* Writes a fingerprint of the encoder settings (they shape the bytes; the cache key holds it). */
void transcode_fingerprint(char *out, size_t size);

/* Makes every transcode under way, and every later one, give up (-ECANCELED) at its next
 * frame: at unmount, so it does not wait for encodes nobody will read. */
void transcode_stop(void);

/* Transcodes segment seg of rung `rung` of in. Returns 0 with *out (free() it), exactly
 * plan->rungs[rung].sizes[seg] bytes; -EIO when the source cannot be read or no encode fits its
 * bound; -ENOMEM. */
int transcode_segment(const struct synth_input *in, unsigned rung, uint32_t seg, uint8_t **out);

/* What the caller of transcode_segment_stream hears and says while it runs. */
struct transcode_watch {
	/* The bytes [0, ready) are final (they never change after); last with the whole size. */
	void (*progress)(void *ctx, uint64_t ready);
	/* Called before each source sample is decoded; it may block, to leave the CPU to work
	 * that is waited for. Either may be NULL. */
	void (*turn)(void *ctx);
	void *ctx;
};

/* The same into buf (plan->rungs[rung].sizes[seg] bytes), told to watch (may be NULL) as it goes.
 * A GOP whose encode would leave the segment over its bound is encoded again at a lower rate
 * before any of its bytes are reported, so the first encode's reported bytes are the segment's.
 * Returns 0, -EIO, -ENOMEM, -ECANCELED (at unmount). */
int transcode_segment_stream(const struct synth_input *in, unsigned rung, uint32_t seg, uint8_t *buf,
			     const struct transcode_watch *watch);

/* Makes segment seg of audio rendition rn of in: copied AAC (exact size) or AAC encoded on
 * the rendition's frame grid (padded to its bound). Returns 0 with *out (free() it), exactly
 * plan->renditions[rn].sizes[seg] bytes; -EIO; -ENOMEM. */
int transcode_rendition_segment(const struct synth_input *in, unsigned rn, uint32_t seg, uint8_t **out);

#endif
