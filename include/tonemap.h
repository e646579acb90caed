/* HDR pictures made fit for SDR rungs: 10-bit 4:2:0 Y'CbCr in BT.2020 with the PQ (SMPTE ST 2084,
 * HDR10) or HLG (ARIB STD-B67, phone HDR) transfer, turned into 8-bit 4:2:0 BT.709 limited range.
 * Each pixel: to R'G'B', to linear light (100 cd/m2 = 1.0), its brightest component mapped by the
 * Mobius curve (linear up to 0.3, then rolling off to the signal's peak at 1.0, the hue kept), the
 * gamut taken from BT.2020 to BT.709, the BT.709 transfer (BT.1886 inverse, gamma 2.4), then
 * Y'CbCr. That is computed once per source on a grid of 65 x 33 x 33 input values (Y', Cb, Cr) and
 * interpolated for each pixel (luma per pixel, chroma per 2x2 block at its mean luma), which costs a
 * few nanoseconds a pixel where the computation costs tens. Plain C with no run-time CPU choice,
 * so every machine running the same build writes the same bytes (libzimg, which FFmpeg's zscale
 * uses, picks its SIMD code by CPU). No FFmpeg, no allocation after tonemap_init. */
#ifndef HLSFS_TONEMAP_H
#define HLSFS_TONEMAP_H

#include <stdbool.h>
#include <stdint.h>

enum tonemap_transfer { TONEMAP_PQ, TONEMAP_HLG };

#define TONEMAP_LUT 4096

struct tonemap {
	float peak;                       /* the signal's peak, 1.0 = 100 cd/m2 */
	bool full_range;                  /* input Y'CbCr full range (else limited, 64-940) */
	float to_linear[TONEMAP_LUT + 1]; /* nonlinear 0..1 -> linear */
	float mobius_a, mobius_b;
	float ootf[TONEMAP_LUT + 1];      /* HLG: scene luminance 0..1 -> its OOTF gain Ys^0.2 */
	enum tonemap_transfer transfer;
	float oetf[4 * TONEMAP_LUT + 1];  /* linear 0..1 -> BT.709 nonlinear 0..1 */
	/* The mapping on its grid: output Y' (0..1), Cb and Cr (-0.5..0.5) of input Y' code 16 * i,
	 * Cb code 32 * j, Cr code 32 * k (codes clamped to 1023), at [(i * 33 + j) * 33 + k]. */
	float grid_y[65 * 33 * 33], grid_cb[65 * 33 * 33], grid_cr[65 * 33 * 33];
};

/* Prepares t for a transfer and a peak in cd/m2 (0: 1000, the usual mastering peak). */
void tonemap_init(struct tonemap *t, enum tonemap_transfer transfer, double peak_nits, bool full_range);

/* The mapping for a transfer and range at the usual peak (1000 cd/m2), made once per process and
 * kept; NULL when out of memory. Safe from any thread. */
const struct tonemap *tonemap_shared(enum tonemap_transfer transfer, bool full_range);

/* Maps the w x h 10-bit picture src (planes of uint16_t samples, strides in bytes) into the 8-bit
 * picture dst (strides in bytes); w and h even. */
void tonemap_yuv420(const struct tonemap *t, uint8_t *const dst[3], const int dst_stride[3],
		    const uint8_t *const src[3], const int src_stride[3], unsigned w, unsigned h);

#endif
