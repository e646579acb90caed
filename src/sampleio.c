/* Sample bytes from a source: a pread, tsread_es over the source for MPEG-TS, or demux_read. */
#include "sampleio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "source.h"

static int read_source(void *opaque, uint8_t *buf, size_t n, uint64_t off)
{
	return source_pread(opaque, buf, n, off);
}

void sample_reader_init(struct sample_reader *r, struct source *src)
{
	memset(r, 0, sizeof(*r));
	r->src = src;
	r->ts.read = read_source;
	r->ts.opaque = src;
	r->ts.size = src ? source_size(src) : 0;  /* a recording being written: as opened */
	demux_reader_init(&r->dx, src);
}

void sample_reader_release(struct sample_reader *r)
{
	free(r->ts.buf);
	r->ts.buf = NULL;
	r->ts.cap = r->ts.len = 0;
	demux_reader_release(&r->dx);
}

int sample_read(struct sample_reader *r, const struct index_track *t, const struct index_sample *s, uint8_t *buf,
		uint64_t *bad)
{
	int ret;

	*bad = s->pos;
	if (t->demuxed) {
		if ((ret = demux_read(&r->dx, t, s, buf)) == -EILSEQ)
			snprintf(r->damage, sizeof(r->damage),
				 "the frame demuxed near byte %llu is not the one indexed there (was the file changed?)",
				 (unsigned long long)s->pos);
		return ret;
	}
	if (!t->ts_stride)
		return source_pread(r->src, buf, s->size, s->pos);
	r->ts.stride = t->ts_stride;
	if ((ret = tsread_es(&r->ts, t->ts_pid, s->pos, s->skip, buf, s->size, bad)) == -EILSEQ)
		snprintf(r->damage, sizeof(r->damage), "the MPEG-TS packets at byte %llu are damaged",
			 (unsigned long long)*bad);
	return ret;
}

uint64_t sample_end(const struct index_track *t, const struct index_sample *s)
{
	uint64_t packets;

	if (t->demuxed)
		return s->pos + 2 * (uint64_t)s->size + 65536;  /* its pieces, others' between them */
	if (!t->ts_stride)
		return s->pos + s->size;
	/* The frame's own packets, and as many again of other PIDs between them. */
	packets = ((uint64_t)s->skip + s->size) / 184 + 2;
	return s->pos + 2 * packets * t->ts_stride;
}

int sample_decoder(const struct index_track *t, AVCodecContext **out)
{
	const AVCodec *codec = avcodec_find_decoder(t->decoder_id);
	AVCodecContext *dec;

	*out = NULL;
	if (!codec || !(dec = avcodec_alloc_context3(codec)))
		return -EIO;
	if (t->extradata_size) {
		if (!(dec->extradata = av_mallocz(t->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE))) {
			avcodec_free_context(&dec);
			return -ENOMEM;
		}
		memcpy(dec->extradata, t->extradata, t->extradata_size);
		dec->extradata_size = (int)t->extradata_size;
	}
	/* What the container says that some decoders need (WMV and MS-MPEG-4 their picture size,
	 * WMA its block size and rate). */
	if (t->sample_rate) {
		dec->sample_rate = (int)t->sample_rate;
		if (t->channels)
			av_channel_layout_default(&dec->ch_layout, (int)t->channels);
		dec->block_align = (int)t->block_align;
		dec->bit_rate = t->bit_rate;
	} else {
		dec->width = (int)t->width;
		dec->height = (int)t->height;
	}
	/* H.264 whose SPS does not say how many frames reordering holds back (no VUI
	 * bitstream_restriction, as many hardware and broadcast encoders write it): libavcodec
	 * guesses from the pictures seen so far, and a fresh decoder that guesses too few gives a
	 * later picture before an earlier one and drops the earlier ("no picture ooo"). Strict
	 * compliance makes it hold back the most the level allows from the first picture on: no
	 * guess, so no picture lost, and the output order is the bitstream's alone. For an SPS that
	 * gives the depth this changes nothing (libavcodec's h264_ps.c, h264_slice.c). */
	if (t->decoder_id == AV_CODEC_ID_H264)
		dec->strict_std_compliance = FF_COMPLIANCE_STRICT;
	*out = dec;
	return 0;
}
