/* Colour matrices and ranges of decoded pictures: see colour.h. */
#include "colour.h"

#include <string.h>

#include <libavutil/pixfmt.h>

int colour_matrix_of_size(int width, int height)
{
	return height >= 720 || width >= 1280 ? SWS_CS_ITU709 : SWS_CS_ITU601;
}

int colour_matrix(const AVFrame *f)
{
	switch (f->colorspace) {
	case AVCOL_SPC_BT709: return SWS_CS_ITU709;
	case AVCOL_SPC_FCC: return SWS_CS_FCC;
	case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
	case AVCOL_SPC_BT2020_NCL:
	case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
	case AVCOL_SPC_BT470BG:
	case AVCOL_SPC_SMPTE170M: return SWS_CS_ITU601;
	default: return colour_matrix_of_size(f->width, f->height);
	}
}

bool colour_full_range(const AVFrame *f)
{
	return f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P || f->format == AV_PIX_FMT_YUVJ422P ||
	       f->format == AV_PIX_FMT_YUVJ444P || f->format == AV_PIX_FMT_YUVJ440P;
}

struct SwsContext *colour_scaler(struct colour_scaler *sc, const AVFrame *in, int w, int h, enum AVPixelFormat fmt,
				 int dst_matrix, bool dst_full)
{
	int key[9] = { in->width, in->height, in->format, w, h, (int)fmt, dst_matrix, dst_full,
		       dst_matrix < 0 ? 0 : colour_matrix(in) * 2 + colour_full_range(in) };

	if (sc->sws && !memcmp(key, sc->key, sizeof(key)))
		return sc->sws;
	sws_freeContext(sc->sws);
	sc->sws = sws_getContext(in->width, in->height, in->format, w, h, fmt, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT,
				 NULL, NULL, NULL);
	if (sc->sws && dst_matrix >= 0 &&
	    sws_setColorspaceDetails(sc->sws, sws_getCoefficients(colour_matrix(in)), colour_full_range(in),
				     sws_getCoefficients(dst_matrix), dst_full, 0, 1 << 16, 1 << 16) < 0) {
		sws_freeContext(sc->sws);
		sc->sws = NULL;
	}
	if (sc->sws)
		memcpy(sc->key, key, sizeof(key));
	return sc->sws;
}

void colour_scaler_free(struct colour_scaler *sc)
{
	sws_freeContext(sc->sws);
	sc->sws = NULL;
}
