/* HDR to SDR for the rungs (tonemap.h). */
#include "tonemap.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

/* BT.2020 and BT.709 luma weights. */
#define KR2020 0.2627f
#define KB2020 0.0593f
#define KR709 0.2126f
#define KB709 0.0722f
#define MOBIUS_KNEE 0.3f

static void build_grid(struct tonemap *t);

static float lut(const float *table, unsigned n, float x)
{
	float pos, frac;
	unsigned i;

	if (!(x > 0.0f))
		return table[0];
	if (x >= 1.0f)
		return table[n];
	pos = x * (float)n;
	i = (unsigned)pos;
	frac = pos - (float)i;
	return table[i] + (table[i + 1] - table[i]) * frac;
}

static double pq_eotf(double e)
{
	const double m1 = 2610.0 / 16384, m2 = 2523.0 / 4096 * 128, c1 = 3424.0 / 4096, c2 = 2413.0 / 4096 * 32,
		     c3 = 2392.0 / 4096 * 32;
	double p = pow(e, 1 / m2);
	return pow(fmax(p - c1, 0) / (c2 - c3 * p), 1 / m1) * 10000.0 / 100.0;  /* 1.0 = 100 cd/m2 */
}

static double hlg_inverse_oetf(double e)
{
	const double a = 0.17883277, b = 1 - 4 * a, c = 0.5 - a * log(4 * a);
	return e <= 0.5 ? e * e / 3 : (exp((e - c) / a) + b) / 12;  /* scene light 0..1 */
}

void tonemap_init(struct tonemap *t, enum tonemap_transfer transfer, double peak_nits, bool full_range)
{
	float j = MOBIUS_KNEE, peak;

	t->transfer = transfer;
	t->full_range = full_range;
	t->peak = peak = (float)((peak_nits > 100 ? peak_nits : 1000.0) / 100.0);
	for (unsigned i = 0; i <= TONEMAP_LUT; i++) {
		double e = (double)i / TONEMAP_LUT;
		t->to_linear[i] = (float)(transfer == TONEMAP_PQ ? pq_eotf(e) : hlg_inverse_oetf(e));
		/* HLG's display light: 1000 cd/m2 peak, system gamma 1.2 on the scene luminance */
		t->ootf[i] = (float)(10.0 * pow(e, 0.2));
	}
	for (unsigned i = 0; i <= 4 * TONEMAP_LUT; i++)
		t->oetf[i] = (float)pow((double)i / (4 * TONEMAP_LUT), 1 / 2.4);
	t->mobius_a = -j * j * (peak - 1.0f) / (j * j - 2.0f * j + peak);
	t->mobius_b = (j * j - 2.0f * j * peak + peak) / fmaxf(peak - 1.0f, 1e-6f);
	build_grid(t);
}

static float mobius(const struct tonemap *t, float x)
{
	const float j = MOBIUS_KNEE, a = t->mobius_a, b = t->mobius_b;

	if (x <= j)
		return x;
	return (b * b + 2.0f * b * j + j * j) / (b - a) * (x + a) / (x + b);
}

/* v scaled to limited range, rounded and kept within it. */
static uint8_t to8(float v, float lo, float range, float hi)
{
	float x = lo + v * range + 0.5f;
	return x <= 16.0f ? 16 : x >= hi ? (uint8_t)hi : (uint8_t)x;
}

/* One pixel: its 10-bit Y'CbCr in, its BT.709 Y' (0..1) and Cb, Cr (-0.5..0.5) out. */
static void pixel(const struct tonemap *t, unsigned y10, float cb, float cr, float *yo, float *cbo, float *cro)
{
	float y = t->full_range ? (float)y10 / 1023.0f : ((float)y10 - 64.0f) / 876.0f;
	float r = y + 2.0f * (1.0f - KR2020) * cr, b = y + 2.0f * (1.0f - KB2020) * cb;
	float g = (y - KR2020 * r - KB2020 * b) / (1.0f - KR2020 - KB2020);
	float m, s, r7, g7, b7;

	r = lut(t->to_linear, TONEMAP_LUT, r);
	g = lut(t->to_linear, TONEMAP_LUT, g);
	b = lut(t->to_linear, TONEMAP_LUT, b);
	if (t->transfer == TONEMAP_HLG) {
		float gain = lut(t->ootf, TONEMAP_LUT, KR2020 * r + (1.0f - KR2020 - KB2020) * g + KB2020 * b);
		r *= gain;
		g *= gain;
		b *= gain;
	}
	m = fmaxf(r, fmaxf(g, b));
	if (m > MOBIUS_KNEE) {
		s = mobius(t, m) / m;
		r *= s;
		g *= s;
		b *= s;
	}
	r7 = 1.6605f * r - 0.5876f * g - 0.0728f * b;
	g7 = -0.1246f * r + 1.1329f * g - 0.0083f * b;
	b7 = -0.0182f * r - 0.1006f * g + 1.1187f * b;
	r7 = lut(t->oetf, 4 * TONEMAP_LUT, r7);
	g7 = lut(t->oetf, 4 * TONEMAP_LUT, g7);
	b7 = lut(t->oetf, 4 * TONEMAP_LUT, b7);
	*yo = KR709 * r7 + (1.0f - KR709 - KB709) * g7 + KB709 * b7;
	*cbo = (b7 - *yo) / (2.0f * (1.0f - KB709));
	*cro = (r7 - *yo) / (2.0f * (1.0f - KR709));
}

/* The grid (tonemap.h), from pixel(). */
static void build_grid(struct tonemap *t)
{
	const float cdiv = t->full_range ? 1023.0f : 896.0f;

	for (unsigned i = 0; i <= 64; i++)
		for (unsigned j = 0; j <= 32; j++)
			for (unsigned k = 0; k <= 32; k++) {
				unsigned y10 = i * 16 > 1023 ? 1023 : i * 16, cb10 = j * 32 > 1023 ? 1023 : j * 32,
					 cr10 = k * 32 > 1023 ? 1023 : k * 32;
				size_t at = ((size_t)i * 33 + j) * 33 + k;
				pixel(t, y10, ((float)cb10 - 512.0f) / cdiv, ((float)cr10 - 512.0f) / cdiv, &t->grid_y[at],
				      &t->grid_cb[at], &t->grid_cr[at]);
			}
}

/* Where a chroma pair lies on the grid: the corner's offset and the four weights in (Cb, Cr). */
struct cell {
	size_t base;
	float w[4];
};

static struct cell chroma_cell(unsigned cb10, unsigned cr10)
{
	float fb = (float)cb10 / 32.0f, fr = (float)cr10 / 32.0f;
	unsigned j = (unsigned)fb, k = (unsigned)fr;
	struct cell c;

	fb -= (float)j;
	fr -= (float)k;
	c.base = (size_t)j * 33 + k;
	c.w[0] = (1.0f - fb) * (1.0f - fr);
	c.w[1] = (1.0f - fb) * fr;
	c.w[2] = fb * (1.0f - fr);
	c.w[3] = fb * fr;
	return c;
}

/* The grid's value g at luma code y10 and chroma cell c. */
static float at_grid(const float *g, const struct cell *c, unsigned y10)
{
	float fy = (float)y10 / 16.0f, lo, hi;
	unsigned i = (unsigned)fy;
	const float *p = g + (size_t)i * 33 * 33 + c->base, *q = p + 33 * 33;

	fy -= (float)i;
	lo = c->w[0] * p[0] + c->w[1] * p[1] + c->w[2] * p[33] + c->w[3] * p[34];
	hi = c->w[0] * q[0] + c->w[1] * q[1] + c->w[2] * q[33] + c->w[3] * q[34];
	return lo + (hi - lo) * fy;
}

void tonemap_yuv420(const struct tonemap *t, uint8_t *const dst[3], const int dst_stride[3],
		    const uint8_t *const src[3], const int src_stride[3], unsigned w, unsigned h)
{
	for (unsigned y = 0; y + 1 < h; y += 2) {
		const uint16_t *u = (const uint16_t *)(src[1] + (size_t)(y / 2) * src_stride[1]);
		const uint16_t *v = (const uint16_t *)(src[2] + (size_t)(y / 2) * src_stride[2]);
		const uint16_t *r0 = (const uint16_t *)(src[0] + (size_t)y * src_stride[0]);
		const uint16_t *r1 = (const uint16_t *)(src[0] + (size_t)(y + 1) * src_stride[0]);
		uint8_t *d0 = dst[0] + (size_t)y * dst_stride[0], *d1 = d0 + dst_stride[0];
		uint8_t *du = dst[1] + (size_t)(y / 2) * dst_stride[1], *dv = dst[2] + (size_t)(y / 2) * dst_stride[2];
		for (unsigned x = 0; x + 1 < w; x += 2) {
			struct cell c = chroma_cell(u[x / 2] & 1023, v[x / 2] & 1023);
			unsigned a = r0[x] & 1023, b = r0[x + 1] & 1023, e = r1[x] & 1023, f = r1[x + 1] & 1023;
			unsigned mean = (a + b + e + f + 2) / 4;
			d0[x] = to8(at_grid(t->grid_y, &c, a), 16.0f, 219.0f, 235.0f);
			d0[x + 1] = to8(at_grid(t->grid_y, &c, b), 16.0f, 219.0f, 235.0f);
			d1[x] = to8(at_grid(t->grid_y, &c, e), 16.0f, 219.0f, 235.0f);
			d1[x + 1] = to8(at_grid(t->grid_y, &c, f), 16.0f, 219.0f, 235.0f);
			du[x / 2] = to8(at_grid(t->grid_cb, &c, mean), 128.0f, 224.0f, 240.0f);
			dv[x / 2] = to8(at_grid(t->grid_cr, &c, mean), 128.0f, 224.0f, 240.0f);
		}
	}
}

static struct tonemap *shared[4];
static pthread_once_t shared_once[4] = { PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT };

static void make_shared(unsigned i)
{
	if ((shared[i] = malloc(sizeof(*shared[i]))))
		tonemap_init(shared[i], i & 2 ? TONEMAP_HLG : TONEMAP_PQ, 1000.0, i & 1);
}
static void make_shared0(void) { make_shared(0); }
static void make_shared1(void) { make_shared(1); }
static void make_shared2(void) { make_shared(2); }
static void make_shared3(void) { make_shared(3); }

const struct tonemap *tonemap_shared(enum tonemap_transfer transfer, bool full_range)
{
	static void (*const make[4])(void) = { make_shared0, make_shared1, make_shared2, make_shared3 };
	unsigned i = (transfer == TONEMAP_HLG ? 2u : 0u) | (full_range ? 1u : 0u);

	pthread_once(&shared_once[i], make[i]);
	return shared[i];
}
