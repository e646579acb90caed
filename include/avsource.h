/* libavformat reading a source through custom I/O, or bytes in memory: the one place where
 * FFmpeg's demuxers get their bytes from struct source (scan.c's index, subtitle.c's tracks and
 * sidecar files). Reads stop at size, which may be less than the file's (a recording's complete
 * part). */
#ifndef HLSFS_AVSOURCE_H
#define HLSFS_AVSOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "source.h"

struct avsource {
	struct source *src;
	const uint8_t *mem;  /* bytes in memory instead of src */
	uint64_t pos, size;  /* size: how far the demuxer may read */
	bool zeros;          /* answer reads with zeros: the demuxer needs no payload */
	int err;             /* the first source error, a negative errno */
};

/* Opens format fmt (NULL: probed) over io, with the context flags given added to custom I/O
 * (AVFMT_FLAG_NOPARSE...) and at most max_streams streams (0: FFmpeg's limit). Returns 0 with
 * *out (avsource_close it), -ENOMEM, or avformat_open_input's negative code; io->err then says
 * whether reading the source failed. */
int avsource_open(struct avsource *io, const AVInputFormat *fmt, int flags, int max_streams, AVFormatContext **out);
/* Closes what avsource_open opened, its I/O context included; *fc NULL is fine. */
void avsource_close(AVFormatContext **fc);

#endif
