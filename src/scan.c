/* Builds a media_index with libavformat. An MP4/MOV file is read with the MP4/MOV demuxer: it
 * reads the moov box through our AVIOContext; afterwards av_read_frame() walks every sample with
 * the demuxer's own timing (edit lists, composition offsets, priming), but the sample payload it
 * asks for is answered with zeros instead of being read: listing a 3-hour film reads only its moov.
 * Payload is read for real only where sizes depend on it (NAL length fields shorter than 4 bytes)
 * or where samples are described later in the file (fragmented MP4).
 *
 * Other containers (Matroska/WebM, AVI, FLV, ...) have no sample table: the demuxer libavformat
 * probes reads the whole file once, and each frame it returns is looked for in the file near the
 * block, chunk or tag it came from (locate_payload), so that a sample is one (offset, size) range
 * of the source as in MP4. MPEG-TS, whose frames lie in pieces over transport packets, keeps per
 * frame where its PES starts instead (ts_frames, tsread.h). Containers that store a frame in
 * other pieces (MPEG-PS packs, Ogg pages, ASF payloads) are demuxed with parsers, and their
 * frames, like those of a Matroska track stored altered (header stripping, compression), are
 * kept as the offset the demuxer gave, the size and a CRC-32: a segment demuxes them again
 * (demuxread.h) and serves only frames that match. */
#include "scan.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>

#include "avsource.h"
#include "codec.h"
#include "demuxread.h"
#include "log.h"
#include "rotate.h"
#include "tsmux.h"
#include "tsread.h"

/* Timestamps beyond 100 days (90 kHz) are damage, not media; refusing them keeps every later
 * sum far from overflow. */
#define INDEX_MAX_TIME (100LL * 86400 * 90000)
/* Nor is a gap of ten minutes between two samples of a track; it would fill a segment with
 * hours of nothing. */
#define INDEX_MAX_GAP (600LL * 90000)

/* How far past its block, chunk or tag header a frame's bytes are looked for: headers are a few
 * bytes; a lace's sizes, an AVI chunk's padding or an FLV tag's fields stay far below this. */
#define LOCATE_NEAR 4096
#define LOCATE_FAR 65536
/* Bytes of a file's head that tell its container. */
#define SNIFF_SIZE 65536

/* FFmpeg's own messages go to our debug log: a damaged file is reported once, by us. */
static void av_log_to_debug(void *avcl, int level, const char *fmt, va_list vl)
{
	char line[512];
	size_t n;
	(void)avcl;
	if (level > AV_LOG_WARNING || !log_debug_enabled())
		return;
	vsnprintf(line, sizeof(line), fmt, vl);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("libav: %s", line);
}

static void scan_once(void)
{
	av_log_set_callback(av_log_to_debug);
}

void scan_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, scan_once);
}

static char *why_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *why_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Walks the top-level boxes for a 'moof': samples of a fragmented file are described next to
 * their data, so their index needs a full read. */
static int is_fragmented(struct source *src, uint64_t size)
{
	uint64_t off = 0;
	int boxes = 0;

	while (off + 8 <= size && boxes++ < 100000) {
		uint8_t h[16];
		uint64_t len;
		if (source_pread(src, h, 8, off) < 0)
			return 0;
		len = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3];
		if (!memcmp(h + 4, "moof", 4))
			return 1;
		if (len == 1) {
			if (off + 16 > size || source_pread(src, h + 8, 8, off + 8) < 0)
				return 0;
			len = 0;
			for (int i = 8; i < 16; i++)
				len = len << 8 | h[i];
			if (len < 16)
				return 0;
		} else if (len == 0) {
			return 0;  /* runs to the end of the file */
		} else if (len < 8) {
			return 0;
		}
		if (len > size - off)
			return 0;
		off += len;
	}
	return 0;
}

/* True when the file is one for the MP4/MOV path: it opens with an ISO base media box, or
 * libavformat recognises it as MP4/MOV, or as nothing (then the MP4/MOV path tries it). *sure
 * says whether it was recognised at all (which the message of a file that cannot be read
 * follows). */
static bool is_mp4_family(struct source *src, uint64_t size, bool *sure)
{
	static const char boxes[][5] = { "ftyp", "moov", "mdat", "free", "skip", "wide", "pnot",
					 "uuid", "moof", "styp", "sidx", "pdin", "junk" };
	const AVInputFormat *f;
	AVProbeData pd = { .filename = "" };
	uint8_t box[8], *head;
	size_t n = size < SNIFF_SIZE ? (size_t)size : SNIFF_SIZE;
	bool mp4 = true;

	*sure = false;
	if (n < 8 || source_pread(src, box, 8, 0) < 0)
		return true;
	for (size_t i = 0; i < sizeof(boxes) / sizeof(boxes[0]); i++)
		if (!memcmp(box + 4, boxes[i], 4))
			return *sure = true;
	if (!(head = calloc(1, n + AVPROBE_PADDING_SIZE)))
		return true;
	if (source_pread(src, head, n, 0) < 0)
		goto out;
	pd.buf = head;
	pd.buf_size = (int)n;
	f = av_probe_input_format(&pd, 1);
	mp4 = !f || !strcmp(f->name, "mov,mp4,m4a,3gp,3g2,mj2");
	*sure = f != NULL;
out:
	free(head);
	return mp4;
}

/* A name users know for a container. */
static const char *container_label(const AVInputFormat *f)
{
	static const struct { const char *name, *label; } known[] = {
		{ "mpegts", "MPEG-TS" }, { "mpegtsraw", "MPEG-TS" }, { "mpeg", "MPEG-PS" },
		{ "mpegvideo", "MPEG video" }, { "ogg", "Ogg" }, { "asf", "ASF/WMV" }, { "asf_o", "ASF/WMV" },
		{ "matroska,webm", "Matroska/WebM" }, { "avi", "AVI" }, { "flv", "FLV" },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(f->name, known[i].name))
			return known[i].label;
	return f->long_name ? f->long_name : f->name;
}

struct locate {
	uint8_t *buf;
	size_t cap;
};

/* Finds the first place at or after from where the file holds exactly data[0..size): a frame's
 * bytes follow its block, chunk or tag header within a few bytes, so a near window is tried
 * before a far one. Any exact match is right by construction: those bytes are the frame.
 * Returns 0 with *at set, -ENOENT when the frame is not there whole, or a source error. */
static int locate_payload(struct source *src, uint64_t file_size, struct locate *lc, uint64_t from,
			  const uint8_t *data, size_t size, uint64_t *at)
{
	static const size_t window[] = { LOCATE_NEAR, LOCATE_FAR };
	int ret;

	for (size_t w = 0; w < sizeof(window) / sizeof(window[0]); w++) {
		size_t n = size + window[w];
		const uint8_t *p;
		if (from >= file_size || file_size - from < size)
			return -ENOENT;
		if (n > file_size - from)
			n = (size_t)(file_size - from);
		if (n > lc->cap) {
			uint8_t *b = realloc(lc->buf, n);
			if (!b)
				return -ENOMEM;
			lc->buf = b;
			lc->cap = n;
		}
		if ((ret = source_pread(src, lc->buf, n, from)) < 0)
			return ret;
		if ((p = memmem(lc->buf, n, data, size))) {
			*at = from + (uint64_t)(p - lc->buf);
			return 0;
		}
		if (n == file_size - from)
			break;  /* the rest of the file was searched */
	}
	return -ENOENT;
}

static int track_push(struct index_track *t, uint32_t *cap, const struct index_sample *s)
{
	if (t->nb_samples == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 1024;
		struct index_sample *p;
		if (ncap <= *cap || ncap > UINT32_MAX / 2)
			return -ENOMEM;
		p = realloc(t->samples, sizeof(*p) * ncap);
		if (!p)
			return -ENOMEM;
		t->samples = p;
		*cap = ncap;
	}
	t->samples[t->nb_samples++] = *s;
	return 0;
}

/* MPEG-TS: the demuxer (without parsers) hands over each PES's payload with the offset of the
 * packet that starts it. Each PES is read again with tsread_es and must be exactly the demuxer's
 * bytes (so a sample's bytes are proven the demuxer's at index time, and a damaged packet is
 * named); then its frames are recorded as (that offset, bytes before the frame, size): H.264
 * access units without their leading AUD, AAC frames without their ADTS headers (the muxer
 * writes its own from the AudioSpecificConfig), anything else as the whole PES payload. */
struct ts_scan {
	struct tsread_src rd;
	unsigned stride;
	uint8_t *buf;
	size_t cap;
	/* per track slot (video, audio, renditions): the first AAC frame's profile, rate and
	 * channel bits, which every later frame must repeat (the muxer writes them from the config) */
	uint8_t adts_fixed[2 + INDEX_MAX_RENDITIONS][2];
	bool adts_seen[2 + INDEX_MAX_RENDITIONS];
	/* Video that is not Annex B H.264: FFmpeg's parser says which frames are keyframes (the
	 * random_access_indicator the demuxer goes by is often not set). */
	AVCodecParserContext *parser;
	AVCodecContext *parser_ctx;
	bool parser_tried;
	/* PES packets seen, and those left out as damaged (ts_damaged): where the first one was */
	uint64_t pes, damaged, first_damage;
	int damaged_track;
};

/* A PES whose transport packets are damaged (one lost, or the file cut inside it, as a capture
 * or an interrupted recording is) is left out, as a player skips it: its frames are not indexed,
 * so no byte of it is ever served. Counted; named once the file is indexed. */
static int ts_damaged(struct ts_scan *ts, uint64_t at, int track)
{
	if (!ts->damaged++) {
		ts->first_damage = at;
		ts->damaged_track = track;
	}
	return 0;
}

static int ts_read(void *opaque, uint8_t *buf, size_t n, uint64_t off)
{
	return source_pread(opaque, buf, n, off);
}

/* The packets' stride (188, 192 or 204) from the file's head; 0 when no run of sync bytes. */
static unsigned ts_sniff_stride(struct source *src, uint64_t size)
{
	size_t n = size < SNIFF_SIZE ? (size_t)size : SNIFF_SIZE;
	uint8_t *head = malloc(n ? n : 1);
	uint64_t first;
	unsigned st = 0;

	if (head && source_pread(src, head, n, 0) == 0)
		st = tsread_stride(head, n, &first);
	free(head);
	return st;
}

static bool ts_parser_key(struct ts_scan *ts, const AVStream *st, const uint8_t *d, size_t n)
{
	uint8_t *o;
	int on;

	if (!ts->parser_tried) {
		ts->parser_tried = true;
		if ((ts->parser = av_parser_init(st->codecpar->codec_id))) {
			ts->parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
			if (!(ts->parser_ctx = avcodec_alloc_context3(NULL)) ||
			    avcodec_parameters_to_context(ts->parser_ctx, st->codecpar) < 0) {
				av_parser_close(ts->parser);
				ts->parser = NULL;
			}
		}
	}
	if (!ts->parser || n > INT32_MAX)
		return false;
	av_parser_parse2(ts->parser, ts->parser_ctx, &o, &on, d, (int)n, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
	return ts->parser->key_frame == 1 || (ts->parser->key_frame == -1 && ts->parser->pict_type == AV_PICTURE_TYPE_I);
}

static size_t ts_next_start_code(const uint8_t *p, size_t n, size_t i)
{
	for (; i + 3 <= n; i++)
		if (!p[i] && !p[i + 1] && p[i + 2] == 1)
			return i;
	return n;
}

/* An H.264 access unit in Annex B: the bytes of its leading AUD (with the AUD's trailing zeros),
 * whether it holds an IDR slice, and whether SPS and PPS come before its first slice. */
static void ts_avc_unit(const uint8_t *p, size_t n, uint32_t *skip, bool *idr, bool *ps)
{
	bool sps = false, pps = false, slice = false;
	size_t i = ts_next_start_code(p, n, 0);

	*skip = 0;
	*idr = *ps = false;
	if (i < n && i + 3 < n && (p[i + 3] & 0x1f) == 9) {
		size_t j = ts_next_start_code(p, n, i + 3), aud_end = i + 5 <= n ? i + 5 : n;
		while (j > aud_end && !p[j - 1])
			j--;
		if (j < n)
			*skip = (uint32_t)j;
	}
	for (; i + 3 < n; i = ts_next_start_code(p, n, i + 3)) {
		unsigned type = p[i + 3] & 0x1f;
		if (type == 5)
			*idr = true;
		if (type >= 1 && type <= 5)
			slice = true;
		if (!slice && type == 7)
			sps = true;
		if (!slice && type == 8)
			pps = true;
	}
	*ps = sps && pps;
}

/* The AudioSpecificConfig of an ADTS stream, from FFmpeg's aac_adtstoasc filter fed its first
 * frame. */
static int ts_adts_asc(const AVCodecParameters *par, const uint8_t *frame, size_t n, struct index_track *t)
{
	const AVBitStreamFilter *f = av_bsf_get_by_name("aac_adtstoasc");
	AVBSFContext *bsf = NULL;
	AVPacket *pkt = NULL;
	const uint8_t *asc = NULL;
	size_t asc_size = 0;
	int ret = -EINVAL;

	if (!f || av_bsf_alloc(f, &bsf) < 0)
		return -ENOMEM;
	if (avcodec_parameters_copy(bsf->par_in, par) < 0 || !(pkt = av_packet_alloc()) ||
	    av_new_packet(pkt, (int)n) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(pkt->data, frame, n);
	if (av_bsf_init(bsf) < 0 || av_bsf_send_packet(bsf, pkt) < 0 || av_bsf_receive_packet(bsf, pkt) < 0)
		goto out;
	asc = av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &asc_size);
	if (!asc && bsf->par_out->extradata_size > 0) {
		asc = bsf->par_out->extradata;
		asc_size = (size_t)bsf->par_out->extradata_size;
	}
	if (!asc || !asc_size)
		goto out;
	if (!(t->extradata = malloc(asc_size))) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(t->extradata, asc, asc_size);
	t->extradata_size = asc_size;
	ret = 0;
out:
	av_packet_free(&pkt);
	av_bsf_free(&bsf);
	return ret;
}

static const unsigned adts_rates[13] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
					 22050, 16000, 12000, 11025, 8000, 7350 };

/* Records the frames of one PES (pkt) of a track. s0 holds its timing; pushes to t. */
static int ts_frames(struct ts_scan *ts, struct index_track *t, uint32_t *cap, unsigned slot,
		     const AVStream *st, const AVPacket *pkt, struct index_sample s0, char **why)
{
	const uint8_t *d = pkt->data;
	size_t n = (size_t)pkt->size;
	uint64_t pos = (uint64_t)pkt->pos + (ts->stride == 192 ? 4 : 0), bad;
	bool is_video = slot == 0;
	int ret;

	ts->pes++;
	if (n > ts->cap) {
		uint8_t *b = realloc(ts->buf, n);
		if (!b)
			return -ENOMEM;
		ts->buf = b;
		ts->cap = n;
	}
	ret = tsread_es(&ts->rd, (uint16_t)st->id, pos, 0, ts->buf, (uint32_t)n, &bad);
	if (ret == -EILSEQ || (ret == 0 && memcmp(ts->buf, d, n)))
		return ts_damaged(ts, ret ? bad : pos, pkt->stream_index);
	if (ret < 0)
		return ret;
	if (pkt->flags & AV_PKT_FLAG_CORRUPT)  /* the demuxer saw damage our checks do not name */
		return ts_damaged(ts, pos, pkt->stream_index);
	s0.pos = pos;
	if (is_video && t->annexb) {
		bool idr, ps;
		ts_avc_unit(d, n, &s0.skip, &idr, &ps);
		s0.size = (uint32_t)(n - s0.skip);
		s0.flags = (idr ? INDEX_SAMPLE_KEY : 0) | (ps ? INDEX_SAMPLE_PS : 0);
		return s0.size ? track_push(t, cap, &s0) : 0;
	}
	if (t->codec != INDEX_CODEC_AAC) {
		if (!is_video && n > TS_PES_MAX_BOUNDED - CODEC_ADTS_SIZE)
			return 0;  /* one PES of ours could not hold it */
		s0.size = (uint32_t)n;
		s0.flags = !is_video || (pkt->flags & AV_PKT_FLAG_KEY) || ts_parser_key(ts, st, d, n) ? INDEX_SAMPLE_KEY : 0;
		return track_push(t, cap, &s0);
	}
	/* ADTS frames, each kept without its header. */
	for (size_t off = 0, k = 0; off < n; k++) {
		const uint8_t *h = d + off;
		size_t hl, flen;
		struct index_sample s = s0;
		struct aac_config aac;
		if (n - off < 7 || h[0] != 0xff || (h[1] & 0xf6) != 0xf0)
			goto bad_adts;
		hl = (h[1] & 1) ? 7 : 9;
		flen = (size_t)(h[3] & 3) << 11 | (size_t)h[4] << 3 | h[5] >> 5;
		if (flen <= hl || flen > n - off || (h[6] & 3) != 0)
			goto bad_adts;
		if (!ts->adts_seen[slot]) {
			if (!t->extradata && (ret = ts_adts_asc(st->codecpar, h, flen, t)) < 0) {
				if (ret == -ENOMEM)
					return ret;
				goto bad_adts;
			}
			ts->adts_fixed[slot][0] = h[2] & 0xfd;
			ts->adts_fixed[slot][1] = h[3] & 0xc0;
			ts->adts_seen[slot] = true;
		} else if ((h[2] & 0xfd) != ts->adts_fixed[slot][0] || (h[3] & 0xc0) != ts->adts_fixed[slot][1]) {
			*why = why_printf("its AAC audio changes profile, rate or channels at byte %llu, which hlsfs cannot serve yet.",
					  (unsigned long long)pos);
			return -ENOTSUP;
		}
		if (codec_aac_parse(t->extradata, t->extradata_size, &aac) < 0 || aac.freq_index > 12)
			goto bad_adts;
		s.skip = (uint32_t)(off + hl);
		s.size = (uint32_t)(flen - hl);
		s.pts = s0.pts + av_rescale((int64_t)k * 1024, 90000, adts_rates[aac.freq_index]);
		s.dts = s0.dts + (s.pts - s0.pts);
		s.duration = 0;  /* the next frame's time says it */
		s.flags = INDEX_SAMPLE_KEY;
		if ((ret = track_push(t, cap, &s)) < 0)
			return ret;
		off += flen;
	}
	return 0;
bad_adts:
	*why = why_printf("its AAC audio in the PES at byte %llu is not whole ADTS frames hlsfs can serve (damaged, or a frame split across PES packets).",
			  (unsigned long long)pos);
	return -EINVAL;
}

/* MPEG-TS times are 33-bit and start anywhere: each track is unwrapped where its decode times
 * jump back (or on) by more than half the range, the other tracks are put on the video's side
 * of a wrap, and everything is moved so that the first presented video frame is at 0 (the A/V
 * offset stays as the source has it). */
#define TS_WRAP (1LL << 33)
static void ts_unwrap(struct index_track *t)
{
	int64_t add = 0;
	for (uint32_t i = 0; i < t->nb_samples; i++) {
		struct index_sample *s = &t->samples[i];
		if (i > 0) {
			int64_t prev = t->samples[i - 1].dts, d = s->dts + add;
			if (d < prev - TS_WRAP / 2)
				add += TS_WRAP;
			else if (d > prev + TS_WRAP / 2)
				add -= TS_WRAP;
		}
		s->dts += add;
		s->pts += add;
		if (s->pts < s->dts - TS_WRAP / 2)
			s->pts += TS_WRAP;
		else if (s->pts > s->dts + TS_WRAP / 2)
			s->pts -= TS_WRAP;
	}
}

/* A stream whose clock starts anywhere (MPEG-TS, MPEG-PS): its times made to start where its first
 * video frame is shown, as a file's do. */
static void from_first_frame(struct media_index *ix)
{
	int64_t origin = INT64_MAX;

	for (uint32_t i = 0; i < ix->video.nb_samples; i++)
		if (ix->video.samples[i].pts < origin)
			origin = ix->video.samples[i].pts;
	if (origin == INT64_MAX)
		return;
	for (unsigned k = 0; k < 2 + ix->nb_renditions; k++) {
		struct index_track *t = k == 0 ? &ix->video : k == 1 ? &ix->audio : &ix->renditions[k - 2];
		for (uint32_t i = 0; i < t->nb_samples; i++) {
			t->samples[i].pts -= origin;
			t->samples[i].dts -= origin;
		}
	}
}

static void ts_timeline(struct media_index *ix)
{
	for (unsigned k = 0; k < 2 + ix->nb_renditions; k++) {
		struct index_track *t = k == 0 ? &ix->video : k == 1 ? &ix->audio : &ix->renditions[k - 2];
		int64_t shift = 0;
		ts_unwrap(t);
		if (k > 0 && t->nb_samples && ix->video.nb_samples) {
			int64_t d = t->samples[0].dts - ix->video.samples[0].dts;
			while (d + shift > TS_WRAP / 2)
				shift -= TS_WRAP;
			while (d + shift < -TS_WRAP / 2)
				shift += TS_WRAP;
		}
		for (uint32_t i = 0; i < t->nb_samples; i++) {
			t->samples[i].pts += shift;
			t->samples[i].dts += shift;
		}
	}
	from_first_frame(ix);
}

static int copy_extradata(struct index_track *t, const AVCodecParameters *par)
{
	if (par->extradata_size <= 0)
		return 0;
	t->extradata = malloc((size_t)par->extradata_size);
	if (!t->extradata)
		return -ENOMEM;
	memcpy(t->extradata, par->extradata, (size_t)par->extradata_size);
	t->extradata_size = (size_t)par->extradata_size;
	return 0;
}

static const char *codec_label(enum AVCodecID id)
{
	const AVCodecDescriptor *d = avcodec_descriptor_get(id);
	return d ? d->long_name ? d->long_name : d->name : "an unknown codec";
}

/* Where each stream's samples go: the first audio track is muxed when it is AAC (that ADTS
 * can carry) or MP3; otherwise it, and every further audio track, becomes a rendition (copied
 * when AAC, transcoded when a decoder knows it). The first track the container marks as the
 * default one (Matroska's FlagDefault, MP4's enabled track) counts as the first, as players
 * play it first; the others follow in their order. Says in note what is left out. */
static int choose_audio(AVFormatContext *fc, struct media_index *ix, struct index_track **track_of, bool adts_in_band)
{
	bool first = true;
	unsigned lead = fc->nb_streams;

	for (unsigned i = 0; i < fc->nb_streams && lead == fc->nb_streams; i++)
		if (fc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO &&
		    (fc->streams[i]->disposition & AV_DISPOSITION_DEFAULT))
			lead = i;
	for (unsigned n = 0; n < fc->nb_streams; n++) {
		/* the default track first, then every stream in order without it */
		unsigned i = lead == fc->nb_streams ? n : n == 0 ? lead : n <= lead ? n - 1 : n;
		const AVCodecParameters *par = fc->streams[i]->codecpar;
		struct aac_config aac;
		bool adts_ok;
		if (par->codec_type != AVMEDIA_TYPE_AUDIO)
			continue;
		adts_ok = par->codec_id == AV_CODEC_ID_AAC &&
			  (codec_aac_parse(par->extradata, par->extradata_size > 0 ? (size_t)par->extradata_size : 0,
					   &aac) == 0 ||
			   (adts_in_band && par->extradata_size <= 0));  /* ADTS: its config comes with the frames */
		if (first && (adts_ok || par->codec_id == AV_CODEC_ID_MP3)) {
			ix->audio.codec = adts_ok ? INDEX_CODEC_AAC : INDEX_CODEC_MP3;
			track_of[i] = &ix->audio;
		} else if (ix->nb_renditions < INDEX_MAX_RENDITIONS && (adts_ok || avcodec_find_decoder(par->codec_id))) {
			struct index_track *t = &ix->renditions[ix->nb_renditions++];
			t->codec = adts_ok ? INDEX_CODEC_AAC : INDEX_CODEC_OTHER;
			track_of[i] = t;
		} else if (!ix->note) {
			ix->note = why_printf("its audio track %u (%s) is left out: %s", i, codec_label(par->codec_id),
						    ix->nb_renditions < INDEX_MAX_RENDITIONS ? "no decoder here reads it" :
						    "too many audio tracks");
		}
		first = false;
	}
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Timing of a track read from a container without a sample table, once all of it is known.
 * Where the container gives presentation times only (Matroska; frames reordered by B-frames),
 * decode times are made as a muxer makes them: the i-th decode time is the i-th smallest
 * presentation time, all moved back by the deepest reordering so that no frame is shown before
 * it is decoded. Then the checks the MP4 path makes while reading: no ten-minute gap, video
 * decode times strictly increasing, a repeated audio frame dropped, PTS >= DTS. */
static int settle_times(struct index_track *t, bool derive, bool is_video, char **why)
{
	uint32_t k = 0;

	if (derive && t->nb_samples > 0) {
		int64_t *sorted = malloc(sizeof(*sorted) * t->nb_samples), shift = 0;
		if (!sorted)
			return -ENOMEM;
		for (uint32_t i = 0; i < t->nb_samples; i++)
			sorted[i] = t->samples[i].pts;
		qsort(sorted, t->nb_samples, sizeof(*sorted), cmp_i64);
		for (uint32_t i = 0; i < t->nb_samples; i++)
			if (sorted[i] - t->samples[i].pts > shift)
				shift = sorted[i] - t->samples[i].pts;
		for (uint32_t i = 0; i < t->nb_samples; i++)
			t->samples[i].dts = sorted[i] - shift;
		free(sorted);
	}
	for (uint32_t i = 0; i < t->nb_samples; i++) {
		struct index_sample s = t->samples[i];
		if (s.dts < -INDEX_MAX_TIME) {
			*why = why_printf("its timestamps lie more than 100 days from the start (a damaged file?).");
			return -EINVAL;
		}
		if (k > 0 && s.dts - t->samples[k - 1].dts > INDEX_MAX_GAP) {
			*why = why_printf("its timestamps jump by more than ten minutes between two frames (a damaged file?).");
			return -EINVAL;
		}
		if (k > 0 && s.dts <= t->samples[k - 1].dts) {
			if (is_video) {
				*why = why_printf("its video timestamps go backwards or repeat.");
				return -EINVAL;
			}
			continue;  /* a repeated audio frame: dropped rather than overlapping */
		}
		if (s.pts < s.dts)
			s.pts = s.dts;
		t->samples[k++] = s;
	}
	t->nb_samples = k;
	return 0;
}

/* MPEG-4 Part 2 with B-frames whose container gives decode times only (AVI; DivX and XviD
 * files, their B-frames packed two to a sample or not). Its decoder decodes one coded picture
 * (VOP) per sample it is fed: the next in the order they lie in the file (a packed sample's
 * second picture is decoded for the placeholder sample after it). It shows a B-frame at once and
 * holds each other picture back until the next non-B picture comes. So the c-th picture, decoded
 * for sample c, is shown for sample c when it is a B-frame, else for the sample that decodes the
 * next non-B picture (the end: one frame after the last sample). Sample c gets that time and is a
 * keyframe when its picture is an I-VOP, so a segment starts where its keyframe is shown, open
 * GOPs included (the B-frames before it belong to the segment before). vops holds the pictures'
 * types; when there are fewer than samples (a damaged file), each sample is shown for the next
 * one and the container's keyframes are kept. */
static void shown_late(struct index_track *t, const char *vops, uint32_t nb_vops)
{
	uint32_t n = t->nb_samples, next_anchor = UINT32_MAX;
	bool paired = nb_vops >= n;  /* a packed picture after the last sample is never decoded */
	int64_t last_dur;

	if (n == 0)
		return;
	last_dur = t->samples[n - 1].duration ? t->samples[n - 1].duration
		   : n > 1 ? t->samples[n - 1].dts - t->samples[n - 2].dts : 1;
	for (uint32_t c = n; c-- > 0;) {
		struct index_sample *s = &t->samples[c];
		uint32_t shown = c + 1;
		if (paired && vops[c] == 'B')
			shown = c;
		else if (paired)
			shown = next_anchor == UINT32_MAX ? n : next_anchor;
		s->pts = shown < n ? t->samples[shown].dts : t->samples[n - 1].dts + last_dur;
		if (paired) {
			s->flags = vops[c] == 'I' ? s->flags | INDEX_SAMPLE_KEY : s->flags & ~INDEX_SAMPLE_KEY;
			if (vops[c] != 'B')
				next_anchor = c;
		}
	}
	t->shown_late = 1;
}

/* MPEG-1/2 video from MPEG-PS: a frame whose PES carried no PTS (the demuxer gives none) is shown
 * where its picture header's temporal reference says within its GOP: between the frames of the
 * same GOP with a PTS whose references lie on either side of it, in proportion (pulled-down film
 * has frames of two and three fields), or a frame's duration from the nearest one. */
struct mpeg12_pic {
	int32_t tr;   /* temporal reference; -1 when the frame has no picture header */
	bool no_pts;
};
struct mpeg12_pics {
	struct mpeg12_pic *pics;  /* per video sample, in decode order */
	uint32_t cap;
};

static int mpeg12_note(struct mpeg12_pics *m, uint32_t nb_samples, const uint8_t *p, size_t n, bool no_pts)
{
	struct mpeg12_pic pic = { -1, no_pts };

	for (size_t i = 0; i + 5 < n; i++)
		if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 && p[i + 3] == 0) {  /* picture start code */
			pic.tr = (int32_t)((p[i + 4] << 2) | (p[i + 5] >> 6));
			break;
		}
	if (nb_samples > m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 1024;
		struct mpeg12_pic *q;
		if (cap < nb_samples)
			cap = nb_samples;
		if (!(q = realloc(m->pics, sizeof(*q) * cap)))
			return -ENOMEM;
		m->pics = q;
		m->cap = cap;
	}
	m->pics[nb_samples - 1] = pic;
	return 0;
}

/* Whether every frame of v has its PTS now. */
static bool mpeg12_fill_pts(struct index_track *v, const struct mpeg12_pic *pics)
{
	bool all = true;
	int64_t frame;

	if (!v->fps_num || !v->fps_den)
		return false;
	frame = av_rescale(90000, v->fps_den, v->fps_num);
	for (uint32_t g = 0; g < v->nb_samples;) {
		uint32_t end = g + 1;
		while (end < v->nb_samples && !(v->samples[end].flags & INDEX_SAMPLE_KEY))
			end++;
		for (uint32_t i = g; i < end; i++) {
			uint32_t lo = UINT32_MAX, hi = UINT32_MAX;
			if (!pics[i].no_pts)
				continue;
			for (uint32_t k = g; k < end && pics[i].tr >= 0; k++) {
				if (pics[k].no_pts || pics[k].tr < 0 || pics[k].tr == pics[i].tr)
					continue;
				if (pics[k].tr < pics[i].tr && (lo == UINT32_MAX || pics[k].tr > pics[lo].tr))
					lo = k;
				if (pics[k].tr > pics[i].tr && (hi == UINT32_MAX || pics[k].tr < pics[hi].tr))
					hi = k;
			}
			if (lo != UINT32_MAX && hi != UINT32_MAX)
				v->samples[i].pts = v->samples[lo].pts + (v->samples[hi].pts - v->samples[lo].pts) *
					(pics[i].tr - pics[lo].tr) / (pics[hi].tr - pics[lo].tr);
			else if (lo != UINT32_MAX)
				v->samples[i].pts = v->samples[lo].pts + (pics[i].tr - pics[lo].tr) * frame;
			else if (hi != UINT32_MAX)
				v->samples[i].pts = v->samples[hi].pts - (pics[hi].tr - pics[i].tr) * frame;
			else
				all = false;
		}
		g = end;
	}
	return all;
}

/* Track t's frames are demuxed again when read, found by stream st's id (demuxread.h). */
static int demux_track(struct index_track *t, const AVStream *st, char **why)
{
	if (st->id < 0) {
		*why = why_printf("its stream %d has no id to find its frames by.", st->index);
		return -ENOTSUP;
	}
	t->demuxed = 1;
	t->demux_id = st->id;
	return 0;
}

static void track_meta(struct index_track *t, const AVStream *st)
{
	const AVCodecParameters *par = st->codecpar;
	const AVDictionaryEntry *lang = av_dict_get(st->metadata, "language", NULL, 0);
	const AVDictionaryEntry *title = av_dict_get(st->metadata, "title", NULL, 0);

	t->decoder_id = par->codec_id;
	if (par->codec_type == AVMEDIA_TYPE_AUDIO)  /* a video track's title is not shown anywhere */
		index_title_clean(title ? title->value : NULL, t->title);
	t->width = par->width > 0 ? (unsigned)par->width : 0;
	if (par->sample_aspect_ratio.num > 0 && par->sample_aspect_ratio.den > 0) {
		t->sar_num = (unsigned)par->sample_aspect_ratio.num;
		t->sar_den = (unsigned)par->sample_aspect_ratio.den;
	}
	t->height = par->height > 0 ? (unsigned)par->height : 0;
	t->sample_rate = par->sample_rate > 0 ? (unsigned)par->sample_rate : 0;
	t->channels = par->ch_layout.nb_channels > 0 ? (unsigned)par->ch_layout.nb_channels : 0;
	t->block_align = par->block_align > 0 ? (uint32_t)par->block_align : 0;
	t->bit_rate = par->bit_rate > 0 && par->bit_rate <= UINT32_MAX ? (uint32_t)par->bit_rate : 0;
	if (st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0) {
		t->fps_num = (unsigned)st->avg_frame_rate.num;
		t->fps_den = (unsigned)st->avg_frame_rate.den;
	}
	if (lang && strlen(lang->value) == 3 && strcmp(lang->value, "und"))
		memcpy(t->language, lang->value, 4);
	if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
		/* Phones record sideways and say how to turn the picture in the track's matrix. */
		size_t size = 0;
		const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
		if (m && size >= 9 * sizeof(int32_t))
			t->rotation = rotate_quarter(av_display_rotation_get((const int32_t *)m));
	}
}

/* MP4/MOV audio (and video without B-frames) is read from libavformat's sample table rather than
 * packet by packet (each packet costs the demuxer an allocation, and audio is most of a file's
 * samples): once a stream's first TABLE_CHECKED packets are each exactly what its table entries
 * make (position, size, times, duration, key and discard flags: no composition offsets), the
 * demuxer skips the stream (AVDISCARD_ALL), and its other samples come from the table when the
 * demuxer is done, made as the mov demuxer makes them (mov_read_packet). */
#define TABLE_CHECKED 16
bool scan_samples_from_table = true;

struct table_walk {
	int state;  /* 0: being checked; 1: read from the table from next on; -1: demuxed */
	int next;   /* the stream's next table entry */
};

struct table_reader {
	struct table_walk *walks;  /* per stream; NULL: every packet demuxed */
	bool demuxed;              /* the demuxer has given its last packet */
	uint32_t samples;          /* made from the table */
	uint64_t end;              /* the file's size: entries whose bytes run past it are not made */
};

/* The packet the mov demuxer makes of table entry e of st (without composition offsets). */
static void table_packet(AVStream *st, int e, AVPacket *pkt)
{
	const AVIndexEntry *ie = avformat_index_get_entry(st, e), *nx = avformat_index_get_entry(st, e + 1);
	int64_t next = nx ? nx->timestamp : st->duration;

	pkt->stream_index = st->index;
	pkt->pos = ie->pos;
	pkt->size = ie->size;
	pkt->pts = pkt->dts = ie->timestamp;
	pkt->duration = next >= ie->timestamp ? next - ie->timestamp : 0;
	pkt->flags = (ie->flags & AVINDEX_KEYFRAME ? AV_PKT_FLAG_KEY : 0) |
		     (ie->flags & AVINDEX_DISCARD_FRAME ? AV_PKT_FLAG_DISCARD : 0);
}

/* Whether the demuxer's packet pkt is what table_packet makes of its stream's next entry; after
 * TABLE_CHECKED of them, the stream is read from the table. */
static void table_check(AVStream *st, struct table_walk *w, const AVPacket *pkt)
{
	AVPacket *want = av_packet_alloc();

	if (!want || w->next >= avformat_index_get_entries_count(st)) {
		w->state = -1;
	} else {
		table_packet(st, w->next, want);
		if (pkt->pos == want->pos && pkt->size == want->size && pkt->pts == want->pts && pkt->dts == want->dts &&
		    pkt->duration == want->duration && (pkt->flags & (AV_PKT_FLAG_KEY | AV_PKT_FLAG_DISCARD)) == want->flags) {
			if (++w->next == TABLE_CHECKED) {
				st->discard = AVDISCARD_ALL;
				w->state = 1;
			}
		} else {
			w->state = -1;
		}
	}
	av_packet_free(&want);
}

/* The demuxer's next packet; once it is done, the table's entries of the streams read from it. */
static int next_packet(AVFormatContext *fc, AVPacket *pkt, struct table_reader *tr)
{
	if (!tr->demuxed) {
		int ret = av_read_frame(fc, pkt);
		if (ret != AVERROR_EOF || !tr->walks)
			return ret;
		tr->demuxed = true;
	}
	for (unsigned i = 0; i < fc->nb_streams; i++) {
		struct table_walk *w = &tr->walks[i];
		const AVIndexEntry *ie;
		if (w->state != 1 || w->next >= avformat_index_get_entries_count(fc->streams[i]))
			continue;
		ie = avformat_index_get_entry(fc->streams[i], w->next);
		if (!ie || (uint64_t)ie->pos > tr->end || (uint64_t)ie->size > tr->end - (uint64_t)ie->pos) {
			w->state = -1;  /* a truncated file: the stream ends where its bytes do */
			continue;
		}
		table_packet(fc->streams[i], w->next++, pkt);
		tr->samples++;
		return 0;
	}
	return AVERROR_EOF;
}

int scan_build_upto(struct source *src, uint64_t size, struct media_index **out, char **why)
{
	struct avsource io = { .src = src };
	AVFormatContext *fc = NULL;
	AVPacket *pkt = NULL;
	struct media_index *ix;
	struct avc_config avc = { 0 };
	uint32_t caps[2 + INDEX_MAX_RENDITIONS] = { 0 };
	struct index_track **track_of = NULL;
	int ret, vi = -1, fragmented = 0;
	uint64_t file_size;
	/* Containers without a sample table: */
	bool generic, derive[2 + INDEX_MAX_RENDITIONS] = { false };
	struct locate lc = { 0 };
	struct lace { int64_t pkt_pos; uint64_t end; } *lace = NULL;  /* per stream: the last frame found */
	bool video_no_pts = false;
	bool ts = false;  /* MPEG-TS: frames put together from transport packets */
	bool truncated = false;  /* MP4/MOV whose sample tables point past its end: served up to there */
	bool recognised = false;  /* libavformat or an MP4 box recognised the file's head */
	bool pieces = false;  /* frames in other pieces: demuxed again when read (demuxread.h) */
	bool mpeg12 = false;  /* MPEG-1/2 video in pieces: frames without a PTS are placed by mpeg12_fill_pts */
	struct mpeg12_pics m12 = { 0 };
	unsigned mpa_layer = 0;  /* the muxed MPEG audio track's layer, from its first frame */
	char *vops = NULL;  /* MPEG-4 Part 2 video: its coded pictures' types, in order (shown_late) */
	uint32_t nb_vops = 0, vops_cap = 0;
	struct ts_scan tss = { 0 };
	struct table_reader tr = { 0 };  /* MP4/MOV samples read from the sample table */
	/* MP4/MOV audio before its edit's start: per track slot, the last such frame, kept only when
	 * a presented one follows (as the decoder's priming, which the edit of every AAC track leaves
	 * out); the frames before it are dropped, as are those after the edit's end. */
	struct index_sample preroll[2 + INDEX_MAX_RENDITIONS];
	bool has_preroll[2 + INDEX_MAX_RENDITIONS] = { false }, presented[2 + INDEX_MAX_RENDITIONS] = { false };
	/* MPEG-TS being written: per stream, the last PES read and its timing, indexed once the
	 * next PES of its stream comes (see below) */
	AVPacket **held = NULL;
	struct index_sample *held_s = NULL;
	unsigned nb_held = 0;

	*out = NULL;
	*why = NULL;
	scan_init();

	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->identity = *source_identity(src);
	file_size = size;
	io.size = file_size;

	generic = !is_mp4_family(src, file_size, &recognised);
	if (!generic)
		fragmented = is_fragmented(src, file_size);

	ret = avsource_open(&io, generic ? NULL : av_find_input_format("mov"), AVFMT_FLAG_NOPARSE, INDEX_MAX_TRACKS, &fc);
	if (ret == -ENOMEM)
		goto fail;
	if (ret < 0) {
		if (io.err) {
			ret = io.err;
			*why = why_printf("it could not be read (%s).", source_strerror(src, ret));
		} else if (generic) {
			ret = -EINVAL;
			*why = why_printf("it is not a video file FFmpeg can read (a damaged or truncated file?), or it has more than %d tracks.", INDEX_MAX_TRACKS);
		} else if (file_size == 0) {
			ret = -EINVAL;
			*why = why_printf("it is empty (0 bytes).");
		} else if (!recognised) {
			ret = -EINVAL;
			*why = why_printf("it is not a video file FFmpeg can read (a damaged or truncated file, or not a video at all).");
		} else {
			ret = -EINVAL;
			*why = why_printf("it is not a readable MP4/MOV file: its moov box is missing or damaged (a truncated or unfinished file?), or it has more than %d tracks.", INDEX_MAX_TRACKS);
		}
		goto fail;
	}
	ts = generic && !strcmp(fc->iformat->name, "mpegts");
	if (ts && !(tss.stride = ts_sniff_stride(src, file_size))) {
		ret = -EINVAL;
		*why = why_printf("its MPEG-TS packets could not be found (no run of sync bytes 188, 192 or 204 bytes apart at its start).");
		goto fail;
	}
	tss.rd.read = ts_read;
	tss.rd.opaque = src;
	tss.rd.size = file_size;
	tss.rd.stride = tss.stride;
	/* Frames in pieces (MPEG-PS, Ogg, ASF): the parsers put them together, and every track is
	 * demuxed again when read (demuxread.h). */
	pieces = generic && demux_in_pieces(fc->iformat) && !ts;
	if (pieces)
		fc->flags &= ~AVFMT_FLAG_NOPARSE;
	/* Without a header that describes every stream (FLV, some AVI), the first packets tell. */
	if (generic && (ret = avformat_find_stream_info(fc, NULL)) < 0) {
		if (io.err) {
			ret = io.err;
			*why = why_printf("it could not be read (%s).", source_strerror(src, ret));
		} else {
			ret = -EINVAL;
			*why = why_printf("its %s streams could not be read (a damaged file?).", container_label(fc->iformat));
		}
		goto fail;
	}

	for (unsigned i = 0; i < fc->nb_streams; i++) {
		AVStream *st = fc->streams[i];
		st->discard = AVDISCARD_ALL;
		if (vi < 0 && st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
		    !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
			vi = (int)i;
	}
	for (unsigned i = 0; i < fc->nb_streams; i++)  /* subtitle.c reads them, when there are some */
		ix->subtitle_streams += fc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_SUBTITLE;
	if (vi < 0) {
		ret = -EINVAL;
		*why = why_printf("it has no video track.");
		goto fail;
	}
	ix->video.decoder_id = fc->streams[vi]->codecpar->codec_id;
	if ((ret = copy_extradata(&ix->video, fc->streams[vi]->codecpar)) < 0)
		goto fail;
	if (fc->streams[vi]->codecpar->codec_id == AV_CODEC_ID_H264 && ix->video.extradata_size &&
	    (ix->video.extradata[0] == 1 || ts) &&  /* Annex B parameter sets: only MPEG-TS's frames are read as such */
	    codec_avc_parse(ix->video.extradata, ix->video.extradata_size, &avc) == 0) {
		ix->video.codec = INDEX_CODEC_H264;
		ix->video.annexb = ix->video.extradata[0] == 0;
	} else if (avcodec_find_decoder(fc->streams[vi]->codecpar->codec_id)) {
		/* Not remuxable as it is (another codec, or H.264 without avcC): transcoded rungs only. */
		ix->video.codec = INDEX_CODEC_OTHER;
		avc.nal_length_size = 4;
	} else {
		ret = -ENOTSUP;
		*why = why_printf("its video is %s, which no decoder here can read.",
				  codec_label(fc->streams[vi]->codecpar->codec_id));
		goto fail;
	}
	track_meta(&ix->video, fc->streams[vi]);
	mpeg12 = pieces && (ix->video.decoder_id == AV_CODEC_ID_MPEG1VIDEO || ix->video.decoder_id == AV_CODEC_ID_MPEG2VIDEO);

	{
		const AVDictionaryEntry *t = av_dict_get(fc->metadata, "title", NULL, 0);
		if (t && t->value[0] && !(ix->title = strdup(t->value))) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	if (!(track_of = calloc(fc->nb_streams, sizeof(*track_of))) ||
	    (generic && !(lace = calloc(fc->nb_streams, sizeof(*lace))))) {
		ret = -ENOMEM;
		goto fail;
	}
	track_of[vi] = &ix->video;
	choose_audio(fc, ix, track_of, ts);
	if (ts && identity_growing(source_identity(src))) {
		if (!(held = calloc(fc->nb_streams, sizeof(*held))) || !(held_s = calloc(fc->nb_streams, sizeof(*held_s)))) {
			ret = -ENOMEM;
			goto fail;
		}
		nb_held = fc->nb_streams;
	}
	for (unsigned i = 0; i < fc->nb_streams; i++) {
		if (!track_of[i])
			continue;
		if (ts) {
			track_of[i]->ts_pid = (uint16_t)(fc->streams[i]->id & 0x1fff);
			track_of[i]->ts_stride = (uint16_t)tss.stride;
		}
		if (pieces && (ret = demux_track(track_of[i], fc->streams[i], why)) < 0)
			goto fail;
		fc->streams[i]->discard = AVDISCARD_DEFAULT;
		if ((int)i == vi)
			continue;
		if ((ret = copy_extradata(track_of[i], fc->streams[i]->codecpar)) < 0)
			goto fail;
		track_meta(track_of[i], fc->streams[i]);
	}

	/* Sample tables that point past the end of the file: a download or copy cut short, a recording
	 * whose writer stopped. What the file holds is served: a sample cut short, and every one after
	 * it, are left out (below), and the log says so. */
	for (unsigned si = 0; si < fc->nb_streams; si++) {
		if (!track_of[si])
			continue;
		for (int e = 0; e < avformat_index_get_entries_count(fc->streams[si]); e++) {
			const AVIndexEntry *ie = avformat_index_get_entry(fc->streams[si], e);
			if (ie && ie->pos < 0) {
				ret = -EINVAL;
				*why = why_printf("its sample tables are damaged (a sample before the start of the file).");
				goto fail;
			}
			if (ie && ((uint64_t)ie->pos > file_size || (uint64_t)ie->size > file_size - (uint64_t)ie->pos)) {
				truncated = true;
				break;
			}
		}
	}
	tr.end = file_size;

	/* An MP4's sample tables say how many samples each track has: room for them at once, rather
	 * than the copies of growing arrays (a long film has hundreds of thousands). */
	for (unsigned si = 0; !generic && !fragmented && si < fc->nb_streams; si++) {
		struct index_track *t = track_of[si];
		int n = avformat_index_get_entries_count(fc->streams[si]);
		unsigned slot;
		if (!t || n <= 0 || t->samples)
			continue;
		slot = t == &ix->video ? 0 : t == &ix->audio ? 1 : 2 + (unsigned)(t - ix->renditions);
		if (!(t->samples = malloc(sizeof(*t->samples) * (size_t)n))) {
			ret = -ENOMEM;
			goto fail;
		}
		caps[slot] = (uint32_t)n;
	}

	/* From here on the demuxer only fetches sample payload, which we answer with zeros. */
	io.zeros = !generic && !fragmented && avc.nal_length_size == 4;
	/* ... straight into the packet, not through the I/O buffer and a copy: each payload byte is
	 * then written once, not twice. */
	if (io.zeros)
		fc->pb->direct = 1;
	if (generic) {
		bool pts_only = !strcmp(fc->iformat->name, "matroska,webm");
		for (unsigned k = 0; k < 2 + INDEX_MAX_RENDITIONS; k++)
			derive[k] = pts_only;
		for (unsigned i = 0; i < fc->nb_streams; i++)
			lace[i].pkt_pos = -1;
	}
	if (!(pkt = av_packet_alloc())) {
		ret = -ENOMEM;
		goto fail;
	}
	if (!generic && !fragmented && scan_samples_from_table && !(tr.walks = calloc(fc->nb_streams, sizeof(*tr.walks)))) {
		ret = -ENOMEM;
		goto fail;
	}
	while ((ret = next_packet(fc, pkt, &tr)) >= 0) {
		int is_video = pkt->stream_index == vi;
		struct index_track *t = pkt->stream_index < (int)fc->nb_streams ? track_of[pkt->stream_index] : NULL;
		const AVRational tb = fc->streams[pkt->stream_index]->time_base;
		const AVRational ts90 = { 1, 90000 };
		struct index_sample s = { 0 };
		int64_t pts = pkt->pts, dts = pkt->dts;
		unsigned slot;
		bool no_pts = false;

		if (!t)
			goto next;
		slot = t == &ix->video ? 0 : t == &ix->audio ? 1 : 2 + (unsigned)(t - ix->renditions);
		/* Video too where its payload is not read (NAL lengths of 4 bytes) and it has no
		 * composition offsets (no B-frames): its packets then match the table as well. */
		if (tr.walks && (!is_video || io.zeros) && tr.walks[pkt->stream_index].state == 0)
			table_check(fc->streams[pkt->stream_index], &tr.walks[pkt->stream_index], pkt);
		if (t == &ix->audio && t->codec == INDEX_CODEC_MP3 && generic && !mpa_layer)
			mpa_layer = codec_mpa_layer(pkt->data, pkt->size > 0 ? (size_t)pkt->size : 0);
		if (pkt->size <= 0 || (!generic && pkt->pos < 0))
			goto next;
		if (pts == AV_NOPTS_VALUE) {
			pts = dts;
			video_no_pts |= is_video;
			no_pts = is_video;
		}
		if (dts == AV_NOPTS_VALUE) {
			dts = pts;
			derive[slot] = generic;
		}
		if (pts == AV_NOPTS_VALUE && generic && t->nb_samples > 0 && t->samples[t->nb_samples - 1].duration > 0) {
			/* A frame of a lace whose block did not say its duration: it follows the last. */
			const struct index_sample *last = &t->samples[t->nb_samples - 1];
			s.pts = s.dts = last->pts + last->duration;
		} else if (pts == AV_NOPTS_VALUE) {
			ret = -EINVAL;
			*why = why_printf(generic ? "its frames have no timestamps." : "its sample tables have no timestamps.");
			goto fail;
		} else {
			s.pts = av_rescale_q(pts, tb, ts90);
			s.dts = av_rescale_q(dts, tb, ts90);
		}
		if (s.pts > INDEX_MAX_TIME || s.pts < -INDEX_MAX_TIME || s.dts > INDEX_MAX_TIME || s.dts < -INDEX_MAX_TIME) {
			ret = -EINVAL;
			*why = why_printf("its timestamps lie more than 100 days from the start (a damaged sample table?).");
			goto fail;
		}
		if (s.pts < s.dts && !generic)
			s.pts = s.dts;  /* broken composition offset: TS needs PTS >= DTS */
		s.duration = pkt->duration > 0 ? (uint32_t)av_rescale_q(pkt->duration, tb, ts90) : 0;
		if (ts) {
			if (pkt->pos < 0)
				goto next;
			if (held) {
				/* A recording being written ends in the middle of a PES of each stream
				 * (a video frame whose packets are not all written, an audio PES
				 * short of its length), which the demuxer hands over when the file
				 * ends. A PES is whole once the next of its stream starts: each is
				 * indexed then, and the last of each stream is left out. */
				unsigned i = (unsigned)pkt->stream_index;
				AVPacket *h = held[i];
				if (!h && !(h = held[i] = av_packet_alloc())) {
					ret = -ENOMEM;
					goto fail;
				}
				if (h->size > 0) {
					ret = ts_frames(&tss, t, &caps[slot], slot, fc->streams[i], h, held_s[i], why);
					av_packet_unref(h);
					if (ret < 0)
						goto fail;
				}
				av_packet_move_ref(h, pkt);
				held_s[i] = s;
				goto next;
			}
			if ((ret = ts_frames(&tss, t, &caps[slot], slot, fc->streams[pkt->stream_index], pkt, s, why)) < 0)
				goto fail;
			goto next;
		}
		if (truncated && (pkt->pos < 0 || (pkt->flags & AV_PKT_FLAG_CORRUPT) ||
				  (uint64_t)pkt->pos + (uint64_t)pkt->size > file_size))
			goto next;  /* the sample the file ends in */
		s.pos = (uint64_t)pkt->pos;
		s.size = (uint32_t)pkt->size;
		if (t->demuxed) {
			/* Found again by its bytes near where the demuxer says it was. */
			if (pkt->pos < 0)
				s.pos = t->nb_samples ? t->samples[t->nb_samples - 1].pos : 0;
			s.check = demux_check(pkt->data, (size_t)pkt->size);
		} else if (generic) {
			/* The frame's own bytes, not its block's: after the last frame of the same block
			 * when it is one of a lace. */
			struct lace *l = &lace[pkt->stream_index];
			uint64_t from = (uint64_t)pkt->pos;
			if (pkt->pos < 0)
				ret = -ENOENT;
			else {
				if (l->pkt_pos == pkt->pos && l->end > from)
					from = l->end;
				ret = locate_payload(src, file_size, &lc, from, pkt->data, (size_t)pkt->size, &s.pos);
			}
			if (ret == -ENOENT && t->nb_samples == 0 && pkt->pos >= 0) {
				/* Every frame of the track altered (Matroska header stripping or
				 * compression): demuxed again when read. */
				if ((ret = demux_track(t, fc->streams[pkt->stream_index], why)) < 0)
					goto fail;
				s.pos = (uint64_t)pkt->pos;
				s.check = demux_check(pkt->data, (size_t)pkt->size);
			} else if (ret == -ENOENT) {
				ret = -ENOTSUP;
				*why = why_printf("its container (%s) stores a frame of track %d in a form hlsfs cannot serve yet (compressed or with a header stripped), not as it is in the file.",
						  container_label(fc->iformat), pkt->stream_index);
				goto fail;
			}
			if (ret < 0) {
				if (ret != -ENOMEM)
					*why = why_printf("it could not be read (%s).", source_strerror(src, ret));
				goto fail;
			}
			l->pkt_pos = pkt->pos;
			l->end = s.pos + s.size;
		}
		s.flags = (pkt->flags & AV_PKT_FLAG_KEY) ? INDEX_SAMPLE_KEY : 0;
		if (s.pos > file_size || (!t->demuxed && s.size > file_size - s.pos)) {
			ret = -EINVAL;
			*why = why_printf("it is truncated: its sample data runs past the end of the file.");
			goto fail;
		}
		if (is_video && ix->video.codec == INDEX_CODEC_H264 && avc.nal_length_size != 4) {
			int n = codec_avc_count_nals(pkt->data, (size_t)pkt->size, avc.nal_length_size);
			s.nals = n > 0 ? (uint32_t)n : 0;
		}
		if (!generic && t->nb_samples > 0 && s.dts - t->samples[t->nb_samples - 1].dts > INDEX_MAX_GAP) {
			ret = -EINVAL;
			*why = why_printf("its timestamps jump by more than ten minutes between two samples (a damaged sample table?).");
			goto fail;
		}
		if (!generic && t->nb_samples > 0 && s.dts <= t->samples[t->nb_samples - 1].dts) {
			if (is_video) {
				ret = -EINVAL;
				*why = why_printf("its video timestamps go backwards.");
				goto fail;
			}
			goto next;  /* a repeated audio frame: dropped rather than overlapping */
		}
		if (!is_video && t->codec == INDEX_CODEC_AAC && s.size > 8191 - CODEC_ADTS_SIZE)
			goto next;  /* no AAC frame is this large; ADTS cannot say its length */
		if (!is_video && s.size > TS_PES_MAX_BOUNDED - CODEC_ADTS_SIZE)
			goto next;  /* nor any audio frame: one PES could not hold it */
		if (!generic && (pkt->flags & AV_PKT_FLAG_DISCARD)) {
			if (is_video) {
				s.flags |= INDEX_SAMPLE_HIDDEN;
			} else {
				if (!presented[slot]) {
					preroll[slot] = s;
					has_preroll[slot] = true;
				}
				goto next;
			}
		} else if (!is_video) {
			if (has_preroll[slot] && (ret = track_push(t, &caps[slot], &preroll[slot])) < 0)
				goto fail;
			has_preroll[slot] = false;
			presented[slot] = true;
		}
		if ((ret = track_push(t, &caps[slot], &s)) < 0)
			goto fail;
		if (is_video && mpeg12 && (ret = mpeg12_note(&m12, ix->video.nb_samples, pkt->data, (size_t)pkt->size, no_pts)) < 0)
			goto fail;
		if (is_video && generic && ix->video.decoder_id == AV_CODEC_ID_MPEG4) {
			if (nb_vops + 4 > vops_cap) {
				char *q = realloc(vops, vops_cap = vops_cap ? vops_cap * 2 : 4096);
				if (!q) {
					ret = -ENOMEM;
					goto fail;
				}
				vops = q;
			}
			nb_vops += codec_mpeg4_vops(pkt->data, (size_t)pkt->size, vops + nb_vops, 4);
		}
next:
		av_packet_unref(pkt);
	}
	if (ret != AVERROR_EOF) {
		if (io.err) {
			ret = io.err;
			*why = why_printf("it could not be read (%s).", source_strerror(src, ret));
		} else {
			ret = -EINVAL;
			*why = why_printf("its sample tables are damaged.");
		}
		goto fail;
	}
	if (truncated && ix->video.nb_samples > 0) {
		/* Audio is cut where the video ends, as a player would stop there anyway; the log says
		 * how much of the file is served. */
		int64_t vstart = INT64_MAX, vend = INT64_MIN;
		char *was = ix->note;
		for (uint32_t i = 0; i < ix->video.nb_samples; i++) {
			const struct index_sample *v = &ix->video.samples[i];
			if (v->pts < vstart)
				vstart = v->pts;
			if (v->pts + (int64_t)v->duration > vend)
				vend = v->pts + (int64_t)v->duration;
		}
		for (unsigned k = 1; k < 2 + ix->nb_renditions; k++) {
			struct index_track *t = k == 1 ? &ix->audio : &ix->renditions[k - 2];
			while (t->nb_samples > 0 && t->samples[t->nb_samples - 1].pts >= vend)
				t->nb_samples--;
		}
		ix->note = why_printf("%s%sit is truncated (its sample tables point past the end of the file): the %.1f s of video it holds are served",
				      was ? was : "", was ? "; " : "", (double)(vend - vstart) / 90000);
		free(was);
	}
	if (ts && tss.damaged) {
		/* A few damaged PES are left out (ts_damaged); a file where they are common is not a
		 * stream hlsfs can vouch for. */
		char *was = ix->note;
		if (tss.damaged * 10 > tss.pes) {
			ret = -EINVAL;
			*why = why_printf("its MPEG-TS packets are damaged at byte %llu (track %d) and in %llu more of its %llu PES packets.",
					  (unsigned long long)tss.first_damage, tss.damaged_track,
					  (unsigned long long)(tss.damaged - 1), (unsigned long long)tss.pes);
			goto fail;
		}
		ix->note = why_printf("%s%sits MPEG-TS packets are damaged at byte %llu (track %d)%s; PES packets left out: %llu of %llu",
				      was ? was : "", was ? "; " : "", (unsigned long long)tss.first_damage, tss.damaged_track,
				      tss.damaged > 1 ? " and further on" : "", (unsigned long long)tss.damaged,
				      (unsigned long long)tss.pes);
		free(was);
	}
	if (ts)
		ts_timeline(ix);
	{
		/* An edit list that leaves every frame out is damage: then all are shown. */
		bool shown = false;
		for (uint32_t i = 0; i < ix->video.nb_samples && !shown; i++)
			shown = !(ix->video.samples[i].flags & INDEX_SAMPLE_HIDDEN);
		for (uint32_t i = 0; i < ix->video.nb_samples && !shown; i++)
			ix->video.samples[i].flags &= ~INDEX_SAMPLE_HIDDEN;
	}
	if (mpeg12 && video_no_pts)
		video_no_pts = !mpeg12_fill_pts(&ix->video, m12.pics);
	/* AVI says when a frame is decoded, not when it is shown: right only without reordering, or
	 * where each sample gives one picture one sample late (MPEG-4 Part 2). */
	if (generic && video_no_pts && fc->streams[vi]->codecpar->video_delay > 0 &&
	    ix->video.decoder_id == AV_CODEC_ID_MPEG4 && fc->streams[vi]->codecpar->video_delay == 1) {
		shown_late(&ix->video, vops, nb_vops);
	} else if (generic && video_no_pts && fc->streams[vi]->codecpar->video_delay > 0) {
		ret = -ENOTSUP;
		*why = why_printf("its container (%s) does not say when each frame is shown, and its video reorders frames (B-frames), which hlsfs cannot serve yet.",
				  container_label(fc->iformat));
		goto fail;
	}
	for (unsigned k = 0; generic && k < 2 + ix->nb_renditions; k++) {
		struct index_track *t = k == 0 ? &ix->video : k == 1 ? &ix->audio : &ix->renditions[k - 2];
		if ((ret = settle_times(t, derive[k], k == 0, why)) < 0)
			goto fail;
	}
	/* An MPEG-PS clock starts where the muxer's did (a DVD's or a camcorder's first frame some
	 * tenths of a second in), not at the first frame: placed by byte when read again (demuxread.c),
	 * its frames may move. */
	if (pieces && !strcmp(fc->iformat->name, "mpeg"))
		from_first_frame(ix);
	/* Durations the container left out: the next sample's DTS says it. */
	for (unsigned k = 0; k < 2 + ix->nb_renditions; k++) {
		struct index_track *t = k == 0 ? &ix->video : k == 1 ? &ix->audio : &ix->renditions[k - 2];
		for (uint32_t i = 0; i + 1 < t->nb_samples; i++)
			if (t->samples[i].duration == 0)
				t->samples[i].duration = (uint32_t)(t->samples[i + 1].dts - t->samples[i].dts);
		if (t->nb_samples > 1 && t->samples[t->nb_samples - 1].duration == 0)
			t->samples[t->nb_samples - 1].duration = t->samples[t->nb_samples - 2].duration;
	}
	if (ix->video.nb_samples == 0) {
		ret = -EINVAL;
		*why = why_printf("its video track has no frames.");
		goto fail;
	}
	if (ix->audio.nb_samples == 0) {
		free(ix->audio.extradata);
		free(ix->audio.samples);
		memset(&ix->audio, 0, sizeof(ix->audio));
	}
	/* MPEG audio that is not Layer III (MP2 in broadcast MPEG-TS, which libavformat names MP3):
	 * neither browsers nor Apple devices play it, so it becomes a rendition transcoded to AAC. */
	if (ix->audio.codec == INDEX_CODEC_MP3 && (mpa_layer == 1 || mpa_layer == 2)) {
		if (ix->nb_renditions < INDEX_MAX_RENDITIONS) {
			memmove(&ix->renditions[1], &ix->renditions[0], sizeof(ix->renditions[0]) * ix->nb_renditions);
			ix->renditions[0] = ix->audio;
			ix->renditions[0].codec = INDEX_CODEC_OTHER;
			ix->renditions[0].decoder_id = mpa_layer == 2 ? AV_CODEC_ID_MP2 : AV_CODEC_ID_MP1;
			ix->nb_renditions++;
		} else {
			free(ix->audio.extradata);
			free(ix->audio.samples);
			if (!ix->note)
				ix->note = why_printf("its MPEG audio Layer %u track is left out: too many audio tracks", mpa_layer);
		}
		memset(&ix->audio, 0, sizeof(ix->audio));
	}
	for (unsigned k = 0; k < ix->nb_renditions;) {  /* an audio track without samples offers nothing */
		if (ix->renditions[k].nb_samples > 0) {
			k++;
			continue;
		}
		free(ix->renditions[k].extradata);
		free(ix->renditions[k].samples);
		memmove(&ix->renditions[k], &ix->renditions[k + 1], sizeof(ix->renditions[0]) * (ix->nb_renditions - k - 1));
		ix->nb_renditions--;
	}
	if (tr.samples)
		log_debug("%u samples read from the sample table", tr.samples);
	ret = 0;
	*out = ix;
	ix = NULL;
fail:
	for (unsigned i = 0; i < nb_held; i++)
		av_packet_free(&held[i]);
	free(held);
	free(held_s);
	free(tr.walks);
	free(track_of);
	free(lace);
	free(m12.pics);
	free(vops);
	free(lc.buf);
	free(tss.buf);
	free(tss.rd.buf);
	av_parser_close(tss.parser);
	avcodec_free_context(&tss.parser_ctx);
	codec_avc_release(&avc);
	av_packet_free(&pkt);
	avsource_close(&fc);
	index_free(ix);
	if (ret < 0 && !*why)
		*why = why_printf("it could not be indexed (%s).", strerror(-ret));
	return ret;
}

int scan_build(struct source *src, struct media_index **out, char **why)
{
	return scan_build_upto(src, source_identity(src)->size, out, why);
}

/* Recordings being written. A writer appends whole units and rewrites nothing before them, so
 * the bytes up to the end of the last whole unit are as final as a finished file's: a fragmented
 * MP4 is complete up to its last whole moof + mdat pair. Walks the top-level boxes only. */
static int complete_fmp4(struct source *src, uint64_t size, uint64_t *end, uint64_t *head)
{
	uint64_t off = 0, moof_at = UINT64_MAX;
	bool moov = false, plain = false;
	int boxes = 0;

	*end = *head = 0;
	while (off + 8 <= size && boxes++ < 10000000) {
		uint8_t h[16];
		uint64_t len;
		int ret;
		if ((ret = source_pread(src, h, 8, off)) < 0)
			return ret;
		len = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3];
		if (len == 1) {
			if (off + 16 > size)
				break;
			if ((ret = source_pread(src, h + 8, 8, off + 8)) < 0)
				return ret;
			len = 0;
			for (int i = 8; i < 16; i++)
				len = len << 8 | h[i];
			if (len < 16)
				return -ENOTSUP;
		} else if (len == 0) {
			len = UINT64_MAX;  /* "to the end of the file": a box still being written */
		} else if (len < 8) {
			return -ENOTSUP;
		}
		if (len > size - off) {
			/* Being written: samples outside any fragment are a plain MP4's. */
			if (!memcmp(h + 4, "mdat", 4) && moof_at == UINT64_MAX)
				plain = true;
			break;
		}
		if (!memcmp(h + 4, "moov", 4)) {
			moov = true;
			if (!*head)
				*end = off + len;
		} else if (!memcmp(h + 4, "moof", 4)) {
			if (!moov || plain)
				return -ENOTSUP;
			moof_at = off;
		} else if (!memcmp(h + 4, "mdat", 4)) {
			if (moof_at == UINT64_MAX) {
				plain = true;  /* a plain MP4: its sample tables are in its moov */
			} else {
				*end = off + len;
				if (!*head)
					*head = off + len;
				moof_at = UINT64_MAX;
			}
		}
		off += len;
	}
	if (plain) {
		*end = *head = 0;
		/* Finished when its moov is there (then it is read as any MP4), else being written. */
		return moov && off + 8 > size ? -ENOTSUP : -EINPROGRESS;
	}
	return 0;  /* fragments so far, or its header still being written */
}

/* An MPEG-TS recording is complete up to its last whole packet: its writer appends packets and
 * never goes back. The PES each stream was writing there is cut short; scan_build_upto leaves
 * the last PES of every stream out of a growing source's index. Its first TS_GROW_HEAD packets
 * (PAT, PMT and its first frames with their timestamps) name it: they are final once written. */
#define TS_GROW_HEAD 512
static int complete_ts(uint64_t size, unsigned stride, uint64_t first, uint64_t *end, uint64_t *head)
{
	/* A 192-byte packet starts with its 4-byte time, before the sync byte. */
	uint64_t base = stride == 192 && first >= 4 ? first - 4 : first;
	uint64_t n = size > base ? (size - base) / stride : 0;

	*end = base + n * stride;
	*head = n >= TS_GROW_HEAD ? base + (uint64_t)TS_GROW_HEAD * stride : 0;
	return 0;
}

/* The header of the EBML element at off: its ID (with its length marker), the length of its data
 * (UINT64_MAX: "unknown", all ones, as a muxer writes it before it knows) and of its header.
 * Returns 1, 0 when the header is not all written yet, -ENOTSUP when it is no EBML header. */
static int ebml_element(struct source *src, uint64_t off, uint64_t size, uint32_t *id, uint64_t *len, unsigned *hl)
{
	uint8_t h[12];
	size_t n = size - off < sizeof(h) ? (size_t)(size - off) : sizeof(h);
	unsigned il = 1, sl = 1;
	bool ones;
	int ret;

	if (off >= size)
		return 0;
	if ((ret = source_pread(src, h, n, off)) < 0)
		return ret;
	while (il <= 4 && !(h[0] & (0x80 >> (il - 1))))
		il++;
	if (il > 4)
		return -ENOTSUP;
	if (n < il + 1)
		return 0;
	while (sl <= 8 && !(h[il] & (0x80 >> (sl - 1))))
		sl++;
	if (sl > 8)
		return -ENOTSUP;
	if (n < il + sl)
		return 0;
	*id = 0;
	for (unsigned i = 0; i < il; i++)
		*id = *id << 8 | h[i];
	*len = h[il] & (0xffu >> sl);
	ones = *len == (0xffu >> sl);
	for (unsigned i = 1; i < sl; i++) {
		*len = *len << 8 | h[il + i];
		ones &= h[il + i] == 0xff;
	}
	if (ones)
		*len = UINT64_MAX;
	*hl = il + sl;
	return 1;
}

/* A Matroska/WebM recording is complete up to its last whole Cluster. Its muxer writes each
 * Cluster once, whole, with its size; while it writes, the Segment's size is "unknown", and it
 * goes back only when it finishes: to the Segment's size, the SeekHead (a Void until then), the
 * Duration in Info, the CRC-32 of Info, Tracks and Tags (a Void until then) and the durations in
 * Tags. The first Cluster names it (*head_at, *head): final once written. A Cluster of unknown size
 * (a live muxer's) can only be told whole by what follows it: -EBUSY, served once finished. */
static int complete_mkv(struct source *src, uint64_t size, uint64_t *end, uint64_t *head, uint64_t *head_at)
{
	uint64_t off = 0, len, seg_end;
	uint32_t id;
	unsigned hl;
	int ret, n = 0;

	if ((ret = ebml_element(src, 0, size, &id, &len, &hl)) <= 0)
		return ret;
	if (len == UINT64_MAX || len > size - hl)
		return 0;
	off = hl + len;
	if ((ret = ebml_element(src, off, size, &id, &len, &hl)) <= 0)
		return ret == -ENOTSUP ? -EBUSY : ret;
	if (id != 0x18538067)  /* Segment */
		return -EBUSY;
	off += hl;
	seg_end = len == UINT64_MAX || len > UINT64_MAX - off ? UINT64_MAX : off + len;
	while (off < size && off < seg_end && n++ < 10000000) {
		if ((ret = ebml_element(src, off, size, &id, &len, &hl)) < 0)
			return ret == -ENOTSUP ? -EBUSY : ret;
		if (ret == 0)
			break;
		if (len == UINT64_MAX)
			return -EBUSY;  /* a live muxer's Cluster, or a damaged file */
		if (len > size - off - hl)
			break;  /* being written */
		if (id == 0x1F43B675) {  /* Cluster */
			if (!*head) {
				*head_at = off;
				*head = off + hl + len;
			}
			*end = off + hl + len;
		}
		off += hl + len;
	}
	return 0;
}

int scan_complete_at(struct source *src, uint64_t size, uint64_t *end, uint64_t *head, uint64_t *head_at)
{
	uint8_t magic[4];

	*head_at = 0;
	if (size >= 4 && source_pread(src, magic, 4, 0) == 0 && !memcmp(magic, "\x1a\x45\xdf\xa3", 4)) {
		*end = *head = 0;
		return complete_mkv(src, size, end, head, head_at);
	}
	return scan_complete(src, size, end, head);
}

int scan_complete(struct source *src, uint64_t size, uint64_t *end, uint64_t *head)
{
	uint8_t box[8], *buf;
	size_t n = size < SNIFF_SIZE ? (size_t)size : SNIFF_SIZE;
	uint64_t first;
	unsigned stride;
	int ret;
	bool recognised;

	*end = *head = 0;
	if (size < 8 || source_pread(src, box, 8, 0) < 0)
		return -ENOTSUP;
	if (!memcmp(box + 4, "ftyp", 4) || !memcmp(box + 4, "moov", 4) || !memcmp(box + 4, "styp", 4))
		return complete_fmp4(src, size, end, head);
	if (!(buf = calloc(1, n + AVPROBE_PADDING_SIZE)))
		return -ENOMEM;
	if ((ret = source_pread(src, buf, n, 0)) < 0) {
		free(buf);
		return ret;
	}
	if ((stride = tsread_stride(buf, n, &first))) {
		free(buf);
		return complete_ts(size, stride, first, end, head);
	}
	free(buf);
	/* Too short yet to show eight packets in a row: nothing complete so far. */
	if (n < 8 * 204 + 4 && (box[0] == 0x47 || box[4] == 0x47))
		return 0;
	if (is_mp4_family(src, size, &recognised))
		return -ENOTSUP;
	/* Any other container (AVI, FLV, ...) is indexed whole, once finished: their muxers go
	 * back to write sizes and tables into what they wrote (Matroska: scan_complete_at). */
	return -EBUSY;
}
