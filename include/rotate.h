/* Turning pictures by quarter turns, for sources whose container asks for a rotated display
 * (phone videos): one plane of 8-bit samples at a time, no FFmpeg, no allocation. */
#ifndef HLSFS_ROTATE_H
#define HLSFS_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when a turn by degrees swaps the picture's width and height (90 and 270). */
static inline bool rotate_swaps(unsigned degrees)
{
	return degrees == 90 || degrees == 270;
}

/* Writes the w x h plane src (rows of src_stride bytes) turned clockwise by degrees (0, 90,
 * 180 or 270) into dst, whose rows are dst_stride bytes: h x w for 90 and 270, w x h for 0 and
 * 180. The planes must not overlap. Returns 0, or -EINVAL for another angle. */
int rotate_plane(uint8_t *dst, ptrdiff_t dst_stride, const uint8_t *src, ptrdiff_t src_stride, unsigned w,
		 unsigned h, unsigned degrees);

/* rotate_plane on the three planes of a w x h 4:2:0 picture (w and h even): the luma plane and
 * the two chroma planes of half its width and height. */
int rotate_yuv420(uint8_t *const dst[3], const int dst_stride[3], const uint8_t *const src[3], const int src_stride[3],
		  unsigned w, unsigned h, unsigned degrees);

/* The clockwise quarter turn (0, 90, 180, 270) nearest to degrees counterclockwise, as the
 * display matrix of MP4 and MOV gives them (any real number), or 0 when the angle is more
 * than a degree away from every quarter turn. */
unsigned rotate_quarter(double degrees_ccw);

#endif
