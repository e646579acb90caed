/* libavformat over struct source: see avsource.h. */
#include "avsource.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define IO_BUFFER_SIZE 65536

static int read_packet(void *opaque, uint8_t *buf, int n)
{
	struct avsource *c = opaque;
	int r;

	if (c->pos >= c->size)
		return AVERROR_EOF;
	if ((uint64_t)n > c->size - c->pos)
		n = (int)(c->size - c->pos);
	if (c->zeros) {
		memset(buf, 0, (size_t)n);
	} else if (c->mem) {
		memcpy(buf, c->mem + c->pos, (size_t)n);
	} else if ((r = source_pread(c->src, buf, (size_t)n, c->pos)) < 0) {
		if (!c->err)
			c->err = r;
		return AVERROR(-r);
	}
	c->pos += (uint64_t)n;
	return n;
}

static int64_t seek(void *opaque, int64_t off, int whence)
{
	struct avsource *c = opaque;
	int64_t base;

	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		return (int64_t)c->size;
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)c->pos;
		break;
	case SEEK_END:
		base = (int64_t)c->size;
		break;
	default:
		return AVERROR(EINVAL);
	}
	if (off < -base || base + off < 0)
		return AVERROR(EINVAL);
	c->pos = (uint64_t)(base + off);
	return (int64_t)c->pos;
}

int avsource_open(struct avsource *io, const AVInputFormat *fmt, int flags, int max_streams, AVFormatContext **out)
{
	uint8_t *buf = av_malloc(IO_BUFFER_SIZE);
	AVIOContext *pb;
	AVFormatContext *fc;
	int ret;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	if (!(pb = avio_alloc_context(buf, IO_BUFFER_SIZE, 0, io, read_packet, NULL, seek))) {
		av_free(buf);
		return -ENOMEM;
	}
	if (!(fc = avformat_alloc_context())) {
		av_freep(&pb->buffer);
		avio_context_free(&pb);
		return -ENOMEM;
	}
	fc->pb = pb;
	fc->flags |= AVFMT_FLAG_CUSTOM_IO | flags;
	if (max_streams > 0)
		fc->max_streams = max_streams;
	if ((ret = avformat_open_input(&fc, NULL, fmt, NULL)) < 0) {
		/* fc is freed; custom I/O is the caller's to free */
		av_freep(&pb->buffer);
		avio_context_free(&pb);
		return ret;
	}
	*out = fc;
	return 0;
}

void avsource_close(AVFormatContext **fc)
{
	AVIOContext *pb;

	if (!*fc)
		return;
	pb = (*fc)->pb;
	avformat_close_input(fc);
	if (pb) {
		av_freep(&pb->buffer);
		avio_context_free(&pb);
	}
}
