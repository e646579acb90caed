/* tonemap_yuv420 on pictures of known content: black stays black, grey stays grey (no tint), brighter
 * in gives brighter out, 100 cd/m2 white in PQ and HLG comes out near SDR white, a saturated BT.2020 red
 * stays red, and strides wider than the rows are kept to. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tonemap.h"

/* One 2 x 2 block of 10-bit Y (all four pixels), Cb, Cr through t: out[0] luma, out[1] Cb, out[2] Cr. */
static void block(const struct tonemap *t, unsigned y, unsigned cb, unsigned cr, uint8_t out[3])
{
	uint16_t ys[2][3] = { { y, y, 999 }, { y, y, 999 } }, u[2] = { cb, 0 }, v[2] = { cr, 0 };
	uint8_t dy[2][5], du[3], dv[3];
	const uint8_t *src[3] = { (const uint8_t *)ys, (const uint8_t *)u, (const uint8_t *)v };
	uint8_t *dst[3] = { &dy[0][0], du, dv };
	const int ss[3] = { (int)sizeof(ys[0]), (int)sizeof(u), (int)sizeof(v) }, ds[3] = { 5, 3, 3 };

	memset(dy, 0xEE, sizeof(dy));
	tonemap_yuv420(t, dst, ds, src, ss, 2, 2);
	CHECK(dy[0][0] == dy[0][1] && dy[0][0] == dy[1][0] && dy[0][0] == dy[1][1]);
	CHECK(dy[0][2] == 0xEE && dy[1][2] == 0xEE);  /* past the width: untouched */
	out[0] = dy[0][0];
	out[1] = du[0];
	out[2] = dv[0];
}

static void check_transfer(enum tonemap_transfer tr, unsigned white10)
{
	struct tonemap *t = malloc(sizeof(*t));
	uint8_t o[3], prev = 0;

	tonemap_init(t, tr, 1000.0, false);
	block(t, 64, 512, 512, o);
	CHECK(o[0] == 16 && o[1] == 128 && o[2] == 128);
	for (unsigned y = 64; y <= 940; y += 4) {
		block(t, y, 512, 512, o);
		CHECK(o[0] >= prev);
		CHECK(o[1] >= 127 && o[1] <= 129 && o[2] >= 127 && o[2] <= 129);
		prev = o[0];
	}
	CHECK(prev >= 230);  /* the signal's peak is SDR white */
	block(t, white10, 512, 512, o);
	CHECK(o[0] >= 180 && o[0] <= 235);
	/* BT.2020 red (R' = 0.6, G' = B' = 0 at this luma): red in BT.709 too */
	block(t, 64 + (unsigned)(0.2627 * 0.6 * 876), 512 - (unsigned)(0.2627 * 0.6 / 1.8814 * 896),
	      512 + (unsigned)((0.6 - 0.2627 * 0.6) / 1.4746 * 896), o);
	CHECK(o[2] > 170 && o[1] < 128);
	free(t);
}

int main(void)
{
	check_transfer(TONEMAP_PQ, 509);   /* PQ code of 100 cd/m2: 0.508 */
	check_transfer(TONEMAP_HLG, 600);  /* HLG 0.6, close to its reference white at 1000 cd/m2 */
	return check_report("tonemap");
}
