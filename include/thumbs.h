/* Scrubbing previews: thumbs/thumbs.vtt, WebVTT cues pointing into JPEG sprite sheets with the
 * #xywh= fragment (the convention of video.js thumbnails plugins, JW Player, Plyr and hls.js-based
 * players). One tile per interval, each the video's keyframe at or before the interval's middle,
 * decoded once however many tiles show it. The cue text (and so thumbs.vtt's size) follows from
 * the index alone; the sheets are made the first time one of them is stat'ed or opened, kept in the
 * cache, and their sizes known from then on. Only this module, poster.c and transcode.c decode
 * video. */
#ifndef HLSFS_THUMBS_H
#define HLSFS_THUMBS_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "plan.h"

#define THUMBS_INTERVAL_S 10       /* seconds a tile stands for, made longer to keep within THUMBS_MAX_TILES */
#define THUMBS_MAX_TILES 1000
#define THUMBS_WIDTH 160           /* pixels; height from the display aspect ratio, even */
#define THUMBS_COLUMNS 10
#define THUMBS_ROWS 10             /* a sheet holds up to COLUMNS x ROWS tiles */
#define THUMBS_MAX_SHEETS ((THUMBS_MAX_TILES + THUMBS_COLUMNS * THUMBS_ROWS - 1) / (THUMBS_COLUMNS * THUMBS_ROWS))

struct thumbs;

/* Plans the previews of a video: tiles, sheets, and the text of thumbs.vtt. path and id name the
 * source (for the cache key and to read it later); ix and p must outlive the result. Returns 0
 * with *out (thumbs_free), -EINVAL when the video has no usable picture size, or -ENOMEM. */
int thumbs_plan(const char *path, const struct source_identity *id, const struct media_index *ix,
		const struct plan *p, struct thumbs **out);
void thumbs_free(struct thumbs *t);

/* thumbs.vtt: borrowed from t. */
void thumbs_vtt(const struct thumbs *t, const char **text, size_t *len);
/* Sprite sheets: sprite-000.jpg .. sprite-(n-1).jpg. */
uint32_t thumbs_sheets(const struct thumbs *t);

/* The size of sheet i, making the sheets first when neither memory nor the cache has them
 * (decoding the video's keyframes: call it from a file's stat or open, never for a listing).
 * Returns 0 with *size, -ENOENT for a sheet out of range, or a negative errno (the source cannot
 * be read, or changed: -EIO). */
int thumbs_size(struct thumbs *t, uint32_t i, uint64_t *size);

/* Opens sheet i for reading: *fd >= 0 (a cache file, the caller closes it) or *mem (a copy, the
 * caller frees it), with *size. Returns 0 or a negative errno. */
int thumbs_open(struct thumbs *t, uint32_t i, int *fd, uint8_t **mem, uint64_t *size);

#endif
