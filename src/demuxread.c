/* Sample bytes through libavformat's demuxer: see demuxread.h. */
#include "demuxread.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/crc.h>

#include "source.h"

/* Frames demuxed ahead of the one asked for are kept for the reads that follow (the other
 * tracks' frames in between), up to these bounds; the oldest go first. */
#define HELD_MAX 2048
#define HELD_BYTES_MAX (64u << 20)
/* A frame asked for at most this far past the last one demuxed is read on to, not sought. */
#define FORWARD_MAX (8u << 20)
/* ... or at most this far behind it, as parsers hand frames over late. */
#define BACK_MAX (1u << 20)
/* Demuxing stops looking for a frame once it is this far past where the index found it. */
#define PAST_MAX (4u << 20)
/* A seek by time starts this long before the frame, so that it lands before it. */
#define SEEK_LEAD 90000

struct demux_held {
	AVPacket *pkt;
	int id;
	uint32_t check;
};

bool demux_in_pieces(const AVInputFormat *f)
{
	static const char *const names[] = { "mpegts", "mpegtsraw", "mpeg", "mpegvideo", "ogg", "asf", "asf_o" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(f->name, names[i]))
			return true;
	return false;
}

uint32_t demux_check(const uint8_t *p, size_t n)
{
	return av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), 0, p, n);
}

void demux_reader_init(struct demux_reader *d, struct source *src)
{
	memset(d, 0, sizeof(*d));
	d->src = src;
	d->last_pos = -1;
}

static void drop_held(struct demux_reader *d, size_t i)
{
	d->held_bytes -= (size_t)d->held[i].pkt->size;
	av_packet_free(&d->held[i].pkt);
	memmove(&d->held[i], &d->held[i + 1], (d->nb_held - i - 1) * sizeof(d->held[0]));
	d->nb_held--;
}

void demux_reader_release(struct demux_reader *d)
{
	while (d->nb_held)
		drop_held(d, d->nb_held - 1);
	free(d->held);
	av_packet_free(&d->pkt);
	avsource_close(&d->fc);
	memset(d, 0, sizeof(*d));
	d->last_pos = -1;
}

static int open_demuxer(struct demux_reader *d)
{
	int ret;

	if (d->opened)
		return d->opened < 0 ? d->opened : 0;
	d->io.src = d->src;
	d->io.size = source_size(d->src);
	/* Opened as scan.c opens it: parsers only for containers that store frames in pieces. */
	ret = avsource_open(&d->io, NULL, AVFMT_FLAG_NOPARSE, INDEX_MAX_TRACKS, &d->fc);
	if (ret >= 0 && demux_in_pieces(d->fc->iformat))
		d->fc->flags &= ~AVFMT_FLAG_NOPARSE;
	if (ret >= 0 && !d->pkt && !(d->pkt = av_packet_alloc()))
		ret = AVERROR(ENOMEM);
	if (ret < 0)
		d->opened = d->io.err ? d->io.err : ret == AVERROR(ENOMEM) ? -ENOMEM : -EILSEQ;
	else
		d->opened = 1;
	return d->opened < 0 ? d->opened : 0;
}

/* Back to the start of the file with a fresh demuxer: where a seek cannot go. */
static int restart(struct demux_reader *d)
{
	avsource_close(&d->fc);
	memset(&d->io, 0, sizeof(d->io));
	d->opened = 0;
	return open_demuxer(d);
}

/* Whether a frame of stream id, size bytes and that check is sample s of track t. */
static bool matches(int id, int size, uint32_t check, const struct index_track *t, const struct index_sample *s)
{
	return id == t->demux_id && (uint32_t)size == s->size && check == s->check;
}

/* Identical bytes are the same frame's bytes wherever they were found: a held frame of the
 * track with this size and check answers the read. */
static bool take_held(struct demux_reader *d, const struct index_track *t, const struct index_sample *s,
		      uint8_t *buf)
{
	for (size_t i = 0; i < d->nb_held; i++)
		if (matches(d->held[i].id, d->held[i].pkt->size, d->held[i].check, t, s)) {
			memcpy(buf, d->held[i].pkt->data, s->size);
			drop_held(d, i);
			return true;
		}
	return false;
}

static int hold(struct demux_reader *d, AVPacket *pkt, int id, uint32_t check)
{
	AVPacket *copy;

	while (d->nb_held && (d->nb_held >= HELD_MAX || d->held_bytes + (size_t)pkt->size > HELD_BYTES_MAX))
		drop_held(d, 0);
	if (d->nb_held == d->held_cap) {
		size_t cap = d->held_cap ? d->held_cap * 2 : 64;
		struct demux_held *h = realloc(d->held, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		d->held = h;
		d->held_cap = cap;
	}
	if (!(copy = av_packet_alloc()))
		return -ENOMEM;
	av_packet_move_ref(copy, pkt);
	d->held[d->nb_held++] = (struct demux_held){ copy, id, check };
	d->held_bytes += (size_t)copy->size;
	return 0;
}

static int stream_of(const AVFormatContext *fc, int id)
{
	for (unsigned i = 0; i < fc->nb_streams; i++)
		if (fc->streams[i]->id == id)
			return (int)i;
	return -1;
}

/* Demuxers that find their way from any byte (start codes) are placed by offset; the others
 * (pages and payloads with state: Ogg, ASF) by time, libavformat's own seek. */
static int seek_to(struct demux_reader *d, const struct index_track *t, const struct index_sample *s, int attempt)
{
	const char *name = d->fc->iformat->name;
	bool by_byte = !strcmp(name, "mpeg") || !strcmp(name, "mpegvideo");
	int si = stream_of(d->fc, t->demux_id);

	while (d->nb_held)
		drop_held(d, d->nb_held - 1);
	d->last_pos = -1;
	if (by_byte || si < 0) {
		/* The second try starts earlier: a frame may begin in a piece before the one the
		 * demuxer named. */
		uint64_t back = attempt ? (uint64_t)PAST_MAX : 0;
		int64_t at = s->pos > back ? (int64_t)(s->pos - back) : 0;
		if (at == 0 || av_seek_frame(d->fc, -1, at, AVSEEK_FLAG_BYTE | AVSEEK_FLAG_ANY) < 0)
			return restart(d);
		return 0;
	}
	{
		const AVStream *st = d->fc->streams[si];
		int64_t lead = attempt ? 10 * SEEK_LEAD : SEEK_LEAD;
		int64_t ts = av_rescale_q(s->dts - lead, (AVRational){ 1, 90000 }, st->time_base);
		int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
		if (ts <= start || av_seek_frame(d->fc, si, ts, AVSEEK_FLAG_BACKWARD) < 0)
			return restart(d);  /* before the first keyframe, or no way to seek there */
		return 0;
	}
}

/* Whether to read on rather than seek: the frame lies just ahead of the last one demuxed, or just
 * behind it (a parser hands a frame over only once the piece after its start is read). */
static bool near_ahead(const struct demux_reader *d, const struct index_sample *s)
{
	uint64_t last = (uint64_t)d->last_pos;
	return d->last_pos >= 0 && (last <= s->pos ? s->pos - last <= FORWARD_MAX : last - s->pos <= BACK_MAX);
}

int demux_read(struct demux_reader *d, const struct index_track *t, const struct index_sample *s, uint8_t *buf)
{
	int ret;

	if ((ret = open_demuxer(d)) < 0)
		return ret;
	if (take_held(d, t, s, buf))
		return 0;
	/* Read on from where the demuxer is when the frame lies just ahead (try -1); else seek to
	 * it (0), then to well before it (1). */
	for (int attempt = near_ahead(d, s) ? -1 : 0; attempt < 2; attempt++) {
		if (attempt >= 0 && seek_to(d, t, s, attempt) < 0)
			continue;
		while ((ret = av_read_frame(d->fc, d->pkt)) >= 0) {
			const AVStream *st = d->fc->streams[d->pkt->stream_index];
			uint32_t check;
			if (d->pkt->pos >= 0)
				d->last_pos = d->pkt->pos;
			if (d->pkt->size <= 0) {
				av_packet_unref(d->pkt);
				continue;
			}
			check = demux_check(d->pkt->data, (size_t)d->pkt->size);
			if (matches(st->id, d->pkt->size, check, t, s)) {
				memcpy(buf, d->pkt->data, s->size);
				av_packet_unref(d->pkt);
				return 0;
			}
			if (d->pkt->pos >= 0 && (uint64_t)d->pkt->pos > s->pos + PAST_MAX) {
				av_packet_unref(d->pkt);
				break;  /* past it: not there as indexed */
			}
			if ((ret = hold(d, d->pkt, st->id, check)) < 0) {
				av_packet_unref(d->pkt);
				return ret;
			}
		}
		if (d->io.err)
			return d->io.err;
		if (ret == AVERROR(ENOMEM))
			return -ENOMEM;
		d->last_pos = -1;  /* at its end or past the frame: the next read seeks */
	}
	return -EILSEQ;
}
