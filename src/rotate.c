/* Quarter turns of picture planes. The source is walked in square tiles so that both the rows
 * read and the columns written stay in cache; the result does not depend on the tile size. */
#include "rotate.h"

#include <errno.h>
#include <math.h>

#define TILE 32

int rotate_plane(uint8_t *dst, ptrdiff_t dst_stride, const uint8_t *src, ptrdiff_t src_stride, unsigned w,
		 unsigned h, unsigned degrees)
{
	if (degrees != 0 && degrees != 90 && degrees != 180 && degrees != 270)
		return -EINVAL;
	for (unsigned ty = 0; ty < h; ty += TILE) {
		unsigned yend = ty + TILE < h ? ty + TILE : h;
		for (unsigned tx = 0; tx < w; tx += TILE) {
			unsigned xend = tx + TILE < w ? tx + TILE : w;
			for (unsigned y = ty; y < yend; y++) {
				const uint8_t *row = src + (ptrdiff_t)y * src_stride;
				for (unsigned x = tx; x < xend; x++) {
					/* where source pixel (x, y) lands */
					unsigned dx, dy;
					switch (degrees) {
					case 90:  dx = h - 1 - y; dy = x; break;
					case 180: dx = w - 1 - x; dy = h - 1 - y; break;
					case 270: dx = y; dy = w - 1 - x; break;
					default:  dx = x; dy = y; break;
					}
					dst[(ptrdiff_t)dy * dst_stride + dx] = row[x];
				}
			}
		}
	}
	return 0;
}

int rotate_yuv420(uint8_t *const dst[3], const int dst_stride[3], const uint8_t *const src[3], const int src_stride[3],
		  unsigned w, unsigned h, unsigned degrees)
{
	int ret = 0;
	for (int p = 0; p < 3 && ret == 0; p++)
		ret = rotate_plane(dst[p], dst_stride[p], src[p], src_stride[p], p ? w / 2 : w, p ? h / 2 : h, degrees);
	return ret;
}

unsigned rotate_quarter(double degrees_ccw)
{
	double cw;

	if (!isfinite(degrees_ccw))
		return 0;
	cw = fmod(-degrees_ccw, 360.0);
	if (cw < 0)
		cw += 360.0;
	for (unsigned q = 0; q <= 360; q += 90)
		if (fabs(cw - q) <= 1.0)
			return q % 360;
	return 0;
}
