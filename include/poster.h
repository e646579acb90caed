/* poster.jpg: one frame about 10% into a video, as a JPEG, made the first time it is asked for
 * (media.h keeps it with the index); and the check, when a source is indexed, that a video
 * decodes at all, which gives its true picture size. Only this module, thumbs.c and
 * transcode.c decode video. */
#ifndef HLSFS_POSTER_H
#define HLSFS_POSTER_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "source.h"

#define POSTER_MAX_WIDTH 640

/* Reads the video's first keyframe with its decoder: returns 0 and fills in what the container
 * left out (the picture size, and the sample aspect ratio from the bitstream), -ENODATA when it
 * does not decode (the video is unusable), another negative errno when it cannot be read,
 * -ENOMEM. H.264 is read from its SPS, and where the decoder tells all of that from the headers
 * (HEVC) nothing more is decoded: a keyframe that is damaged past them is then found by the
 * first segment made of it (or served as it is, by the passthrough). */
int poster_probe(struct source *src, struct media_index *ix);

/* Decodes the keyframe at or before 10% of the video's duration and encodes it as a JPEG at
 * most POSTER_MAX_WIDTH wide, in the display aspect ratio. Returns 0 with *jpeg (free() it),
 * -ENODATA when that keyframe does not decode or no JPEG can be made of it, another negative
 * errno when it cannot be read, -ENOMEM. */
int poster_make(struct source *src, const struct media_index *ix, uint8_t **jpeg, size_t *size);

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
