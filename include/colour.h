/* The colours of the pictures hlsfs makes (transcoded rungs, poster.jpg, preview sheets): which
 * matrix and range a decoded picture is in, and a scaler that converts it to the ones its output
 * is tagged with. A player takes an untagged picture below 720 lines for BT.601 and a JPEG for
 * BT.601 full range, so a picture scaled from an HD source as it is would show shifted hues. */
#ifndef HLSFS_COLOUR_H
#define HLSFS_COLOUR_H

#include <stdbool.h>

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

/* The SWS_CS_* matrix of a decoded picture: the one it is tagged with, or where it is not, the
 * one a player takes for a picture of its size (BT.709 from 720 lines or 1280 columns up). */
int colour_matrix(const AVFrame *f);
/* The matrix hlsfs keeps for a video of width x height (pictures of it are seldom converted). */
int colour_matrix_of_size(int width, int height);
/* Whether a decoded picture is full range (JPEG). */
bool colour_full_range(const AVFrame *f);

/* A scaler kept from picture to picture (zero-initialised; colour_scaler_free). */
struct colour_scaler {
	struct SwsContext *sws;
	int key[9];
};

/* sc's scaler from in to w x h in format fmt (bicubic, bit-exact) that converts in's matrix and
 * range to dst_matrix (SWS_CS_*) and full or limited range; dst_matrix < 0: none converted, for
 * pictures whose colours another step maps (HDR). Made again only when one of these changes.
 * Returns NULL when swscale refuses. */
struct SwsContext *colour_scaler(struct colour_scaler *sc, const AVFrame *in, int w, int h, enum AVPixelFormat fmt,
				 int dst_matrix, bool dst_full);
void colour_scaler_free(struct colour_scaler *sc);

#endif
