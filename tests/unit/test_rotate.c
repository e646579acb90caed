/* rotate_plane against the definition of each quarter turn, on odd sizes that cut through
 * the tiles, and rotate_quarter on the angles display matrices give. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rotate.h"

/* Pixel (x, y) of a w x h plane, distinct for every position up to 64K pixels. */
static uint8_t px(unsigned x, unsigned y)
{
	return (uint8_t)(x * 7 + y * 13 + (x * y >> 3));
}

static void check_turn(unsigned w, unsigned h, unsigned deg)
{
	ptrdiff_t ss = w + 5, ds = (deg % 180 ? h : w) + 3;  /* strides wider than the rows */
	unsigned dw = deg % 180 ? h : w, dh = deg % 180 ? w : h;
	uint8_t *src = malloc((size_t)ss * h), *dst = malloc((size_t)ds * dh);
	int bad = 0;

	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			src[y * ss + x] = px(x, y);
	memset(dst, 0xEE, (size_t)ds * dh);
	CHECK_EQ(rotate_plane(dst, ds, src, ss, w, h, deg), 0);
	for (unsigned y = 0; y < dh; y++) {
		for (unsigned x = 0; x < dw; x++) {
			unsigned sx, sy;  /* the source pixel shown at (x, y) after turning clockwise */
			switch (deg) {
			case 90:  sx = y; sy = h - 1 - x; break;
			case 180: sx = w - 1 - x; sy = h - 1 - y; break;
			case 270: sx = w - 1 - y; sy = x; break;
			default:  sx = x; sy = y; break;
			}
			bad += dst[y * ds + x] != px(sx, sy);
		}
		for (unsigned x = dw; x < (unsigned)ds; x++)
			bad += dst[y * ds + x] != 0xEE;  /* nothing written past the row */
	}
	if (bad)
		fprintf(stderr, "rotate %ux%u by %u: %d wrong bytes\n", w, h, deg, bad);
	CHECK_EQ(bad, 0);
	free(src);
	free(dst);
}

int main(void)
{
	static const unsigned sizes[][2] = { { 1, 1 }, { 2, 1 }, { 1, 3 }, { 32, 32 }, { 33, 31 }, { 100, 37 }, { 64, 130 } };
	uint8_t a[4] = { 1, 2, 3, 4 }, b[4] = { 0 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (unsigned deg = 0; deg < 360; deg += 90)
			check_turn(sizes[i][0], sizes[i][1], deg);
	/* 2x2: [1 2 / 3 4] turned clockwise is [3 1 / 4 2] */
	CHECK_EQ(rotate_plane(b, 2, a, 2, 2, 2, 90), 0);
	CHECK(b[0] == 3 && b[1] == 1 && b[2] == 4 && b[3] == 2);
	CHECK_EQ(rotate_plane(b, 2, a, 2, 2, 2, 45), -EINVAL);

	/* Display matrices give counterclockwise angles: -90 is a clockwise quarter turn. */
	CHECK_EQ(rotate_quarter(0.0), 0);
	CHECK_EQ(rotate_quarter(-90.0), 90);
	CHECK_EQ(rotate_quarter(90.0), 270);
	CHECK_EQ(rotate_quarter(180.0), 180);
	CHECK_EQ(rotate_quarter(-180.0), 180);
	CHECK_EQ(rotate_quarter(-89.5), 90);
	CHECK_EQ(rotate_quarter(270.0), 90);
	CHECK_EQ(rotate_quarter(-0.4), 0);
	CHECK_EQ(rotate_quarter(359.6), 0);
	CHECK_EQ(rotate_quarter(45.0), 0);
	CHECK_EQ(rotate_quarter(0.0 / 0.0), 0);
	return check_report("rotate");
}
