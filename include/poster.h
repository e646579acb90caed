/* poster.jpg: one frame about 10% into a video, as a JPEG, made when the source is indexed so
 * its size is known to stat and kept with the index. Only this module, index.c and
 * transcode.c include FFmpeg's codec headers. */
#ifndef HLSFS_POSTER_H
#define HLSFS_POSTER_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "source.h"

#define POSTER_MAX_WIDTH 640

/* Decodes the keyframe at or before 10% of the video's duration and encodes it as a JPEG at
 * most POSTER_MAX_WIDTH wide, in the display aspect ratio. Returns 0 with *jpeg (free() it),
 * -ENODATA when the keyframe does not decode (the video is unusable), another negative errno
 * when it cannot be read, -ENOMEM. *jpeg may be NULL on success if only the JPEG failed. The decoded frame also fills in what
 * the container left out: the picture size, and the sample aspect ratio from the bitstream. */
int poster_make(struct source *src, struct media_index *ix, uint8_t **jpeg, size_t *size);

struct AVFrame;
/* Encodes a YUVJ420P picture as a baseline JPEG at quantizer qscale (2 best .. 31), bit-exact, so
 * the same picture gives the same bytes on every machine: the poster and the preview sheets.
 * Returns 0 with *jpeg (free() it), -ENOMEM, or -EIO. */
int poster_jpeg(const struct AVFrame *pic, int qscale, uint8_t **jpeg, size_t *size);

/* An HDR picture (PQ or HLG transfer) scaled to w x h (even) and mapped to 8-bit SDR (tonemap.h),
 * so that stills look as the rungs do: a new frame (av_frame_free() it), or NULL when pic is not
 * HDR or memory ran out (pic is then used as it is). */
struct AVFrame *poster_sdr(const struct AVFrame *pic, int w, int h);

#endif
