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
 * of the source as in MP4. A container that stores a frame in pieces or altered (MPEG-TS and
 * MPEG-PS packets, Ogg pages, Matroska header stripping or compression) is refused, never served
 * with wrong bytes. */
#include "scan.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>

#include "codec.h"
#include "log.h"
#include "rotate.h"
#include "tsmux.h"

/* Timestamps beyond 100 days (90 kHz) are damage, not media; refusing them keeps every later
 * sum far from overflow. */
#define INDEX_MAX_TIME (100LL * 86400 * 90000)
/* Nor is a gap of ten minutes between two samples of a track; it would fill a segment with
 * hours of nothing. */
#define INDEX_MAX_GAP (600LL * 90000)
/* Tracks beyond this are refused: libavformat's sample walk costs grow with their square. */
#define INDEX_MAX_TRACKS 64

#define IO_BUFFER_SIZE 65536
/* How far past its block, chunk or tag header a frame's bytes are looked for: headers are a few
 * bytes; a lace's sizes, an AVI chunk's padding or an FLV tag's fields stay far below this. */
#define LOCATE_NEAR 4096
#define LOCATE_FAR 65536
/* Bytes of a file's head that tell its container. */
#define SNIFF_SIZE 65536

struct io_ctx {
	struct source *src;
	uint64_t pos, size;
	int fake;      /* answer reads with zeros: payload is not needed */
	int err;       /* first source error, as a negative errno */
};

static int io_read(void *opaque, uint8_t *buf, int n)
{
	struct io_ctx *c = opaque;
	int r;

	if (c->pos >= c->size)
		return AVERROR_EOF;
	if ((uint64_t)n > c->size - c->pos)
		n = (int)(c->size - c->pos);
	if (c->fake) {
		memset(buf, 0, (size_t)n);
	} else if ((r = source_pread(c->src, buf, (size_t)n, c->pos)) < 0) {
		if (!c->err)
			c->err = r;
		return AVERROR(-r);
	}
	c->pos += (uint64_t)n;
	return n;
}

static int64_t io_seek(void *opaque, int64_t off, int whence)
{
	struct io_ctx *c = opaque;
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
 * libavformat recognises it as MP4/MOV, or as nothing (then the MP4/MOV path says why it is not
 * readable, as it always has for an empty or damaged .mp4). */
static bool is_mp4_family(struct source *src, uint64_t size)
{
	static const char boxes[][5] = { "ftyp", "moov", "mdat", "free", "skip", "wide", "pnot",
					 "uuid", "moof", "styp", "sidx", "pdin", "junk" };
	const AVInputFormat *f;
	AVProbeData pd = { .filename = "" };
	uint8_t box[8], *head;
	size_t n = size < SNIFF_SIZE ? (size_t)size : SNIFF_SIZE;
	bool mp4 = true;

	if (n < 8 || source_pread(src, box, 8, 0) < 0)
		return true;
	for (size_t i = 0; i < sizeof(boxes) / sizeof(boxes[0]); i++)
		if (!memcmp(box + 4, boxes[i], 4))
			return true;
	if (!(head = calloc(1, n + AVPROBE_PADDING_SIZE)))
		return true;
	if (source_pread(src, head, n, 0) < 0)
		goto out;
	pd.buf = head;
	pd.buf_size = (int)n;
	f = av_probe_input_format(&pd, 1);
	mp4 = !f || !strcmp(f->name, "mov,mp4,m4a,3gp,3g2,mj2");
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

/* Containers that cut frames into pieces (transport packets, pack payloads, pages, ASF
 * payloads): a frame is not one range of the file, so they are refused before reading them. */
static bool stores_pieces(const AVInputFormat *f)
{
	static const char *const names[] = { "mpegts", "mpegtsraw", "mpeg", "mpegvideo", "ogg", "asf", "asf_o" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(f->name, names[i]))
			return true;
	return false;
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
 * when AAC, transcoded when a decoder knows it). Says in audio_note what is left out. */
static int choose_audio(AVFormatContext *fc, struct media_index *ix, struct index_track **track_of)
{
	bool first = true;

	for (unsigned i = 0; i < fc->nb_streams; i++) {
		const AVCodecParameters *par = fc->streams[i]->codecpar;
		struct aac_config aac;
		bool adts_ok;
		if (par->codec_type != AVMEDIA_TYPE_AUDIO)
			continue;
		adts_ok = par->codec_id == AV_CODEC_ID_AAC &&
			  codec_aac_parse(par->extradata, par->extradata_size > 0 ? (size_t)par->extradata_size : 0,
					  &aac) == 0;
		if (first && (adts_ok || par->codec_id == AV_CODEC_ID_MP3)) {
			ix->audio.codec = adts_ok ? INDEX_CODEC_AAC : INDEX_CODEC_MP3;
			track_of[i] = &ix->audio;
		} else if (ix->nb_renditions < INDEX_MAX_RENDITIONS && (adts_ok || avcodec_find_decoder(par->codec_id))) {
			struct index_track *t = &ix->renditions[ix->nb_renditions++];
			t->codec = adts_ok ? INDEX_CODEC_AAC : INDEX_CODEC_OTHER;
			track_of[i] = t;
		} else if (!ix->audio_note) {
			ix->audio_note = why_printf("its audio track %u (%s) is left out: %s", i, codec_label(par->codec_id),
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

static void track_meta(struct index_track *t, const AVStream *st)
{
	const AVCodecParameters *par = st->codecpar;
	const AVDictionaryEntry *lang = av_dict_get(st->metadata, "language", NULL, 0);

	t->decoder_id = par->codec_id;
	t->width = par->width > 0 ? (unsigned)par->width : 0;
	if (par->sample_aspect_ratio.num > 0 && par->sample_aspect_ratio.den > 0) {
		t->sar_num = (unsigned)par->sample_aspect_ratio.num;
		t->sar_den = (unsigned)par->sample_aspect_ratio.den;
	}
	t->height = par->height > 0 ? (unsigned)par->height : 0;
	t->sample_rate = par->sample_rate > 0 ? (unsigned)par->sample_rate : 0;
	t->channels = par->ch_layout.nb_channels > 0 ? (unsigned)par->ch_layout.nb_channels : 0;
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

int scan_build(struct source *src, struct media_index **out, char **why)
{
	struct io_ctx io = { .src = src };
	AVFormatContext *fc = NULL;
	AVIOContext *pb = NULL;
	AVPacket *pkt = NULL;
	struct media_index *ix;
	struct avc_config avc = { 0 };
	uint8_t *iobuf;
	uint32_t caps[2 + INDEX_MAX_RENDITIONS] = { 0 };
	struct index_track **track_of = NULL;
	int ret, vi = -1, fragmented = 0;
	uint64_t file_size;
	/* Containers without a sample table: */
	bool generic, derive[2 + INDEX_MAX_RENDITIONS] = { false };
	struct locate lc = { 0 };
	struct lace { int64_t pkt_pos; uint64_t end; } *lace = NULL;  /* per stream: the last frame found */
	bool video_no_pts = false;

	*out = NULL;
	*why = NULL;
	scan_init();

	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->identity = *source_identity(src);
	file_size = ix->identity.size;
	io.size = file_size;

	generic = !is_mp4_family(src, file_size);
	if (!generic)
		fragmented = is_fragmented(src, file_size);

	iobuf = av_malloc(IO_BUFFER_SIZE);
	if (!iobuf || !(pb = avio_alloc_context(iobuf, IO_BUFFER_SIZE, 0, &io, io_read, NULL, io_seek))) {
		av_free(iobuf);
		ret = -ENOMEM;
		goto fail;
	}
	if (!(fc = avformat_alloc_context())) {
		ret = -ENOMEM;
		goto fail;
	}
	fc->pb = pb;
	fc->max_streams = INDEX_MAX_TRACKS;
	fc->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_NOPARSE;
	ret = avformat_open_input(&fc, NULL, generic ? NULL : av_find_input_format("mov"), NULL);
	if (ret < 0) {
		fc = NULL;  /* freed by avformat_open_input */
		if (io.err) {
			ret = io.err;
			*why = why_printf("it could not be read (%s).", source_strerror(src, ret));
		} else if (generic) {
			ret = -EINVAL;
			*why = why_printf("it is not a video file FFmpeg can read (a damaged or truncated file?), or it has more than %d tracks.", INDEX_MAX_TRACKS);
		} else {
			ret = -EINVAL;
			*why = why_printf("it is not a readable MP4/MOV file: its moov box is missing or damaged (a truncated or unfinished file?), or it has more than %d tracks.", INDEX_MAX_TRACKS);
		}
		goto fail;
	}
	if (generic && stores_pieces(fc->iformat)) {
		ret = -ENOTSUP;
		*why = why_printf("its container (%s) stores frames in pieces, which hlsfs cannot serve yet.",
				  container_label(fc->iformat));
		goto fail;
	}
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
	if (vi < 0) {
		ret = -EINVAL;
		*why = why_printf("it has no video track.");
		goto fail;
	}
	ix->video.decoder_id = fc->streams[vi]->codecpar->codec_id;
	if ((ret = copy_extradata(&ix->video, fc->streams[vi]->codecpar)) < 0)
		goto fail;
	if (fc->streams[vi]->codecpar->codec_id == AV_CODEC_ID_H264 &&
	    codec_avc_parse(ix->video.extradata, ix->video.extradata_size, &avc) == 0) {
		ix->video.codec = INDEX_CODEC_H264;
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
	choose_audio(fc, ix, track_of);
	for (unsigned i = 0; i < fc->nb_streams; i++) {
		if (!track_of[i])
			continue;
		fc->streams[i]->discard = AVDISCARD_DEFAULT;
		if ((int)i == vi)
			continue;
		if ((ret = copy_extradata(track_of[i], fc->streams[i]->codecpar)) < 0)
			goto fail;
		track_meta(track_of[i], fc->streams[i]);
	}

	/* The sample tables must fit the file: the demuxer would hand a cut sample over as if whole. */
	for (unsigned si = 0; si < fc->nb_streams; si++) {
		if (!track_of[si])
			continue;
		for (int e = 0; e < avformat_index_get_entries_count(fc->streams[si]); e++) {
			const AVIndexEntry *ie = avformat_index_get_entry(fc->streams[si], e);
			if (ie && (ie->pos < 0 || (uint64_t)ie->pos > file_size || (uint64_t)ie->size > file_size - (uint64_t)ie->pos)) {
				ret = -EINVAL;
				*why = why_printf("it is truncated: its sample tables point past the end of the file.");
				goto fail;
			}
		}
	}

	/* From here on the demuxer only fetches sample payload, which we answer with zeros. */
	io.fake = !generic && !fragmented && avc.nal_length_size == 4;
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
	while ((ret = av_read_frame(fc, pkt)) >= 0) {
		int is_video = pkt->stream_index == vi;
		struct index_track *t = pkt->stream_index < (int)fc->nb_streams ? track_of[pkt->stream_index] : NULL;
		const AVRational tb = fc->streams[pkt->stream_index]->time_base;
		const AVRational ts90 = { 1, 90000 };
		struct index_sample s = { 0 };
		int64_t pts = pkt->pts, dts = pkt->dts;
		unsigned slot;

		if (!t)
			goto next;
		slot = t == &ix->video ? 0 : t == &ix->audio ? 1 : 2 + (unsigned)(t - ix->renditions);
		if (pkt->size <= 0 || (!generic && pkt->pos < 0))
			goto next;
		if (pts == AV_NOPTS_VALUE) {
			pts = dts;
			video_no_pts |= is_video;
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
		s.pos = (uint64_t)pkt->pos;
		s.size = (uint32_t)pkt->size;
		if (generic) {
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
			if (ret == -ENOENT) {
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
		if (s.pos > file_size || s.size > file_size - s.pos) {
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
		if ((ret = track_push(t, &caps[t == &ix->video ? 0 : t == &ix->audio ? 1 : 2 + (t - ix->renditions)], &s)) < 0)
			goto fail;
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
	/* AVI says when a frame is decoded, not when it is shown: right only without reordering. */
	if (generic && video_no_pts && fc->streams[vi]->codecpar->video_delay > 0) {
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
	ret = 0;
	*out = ix;
	ix = NULL;
fail:
	free(track_of);
	free(lace);
	free(lc.buf);
	codec_avc_release(&avc);
	av_packet_free(&pkt);
	avformat_close_input(&fc);
	if (pb) {
		av_freep(&pb->buffer);
		avio_context_free(&pb);
	}
	index_free(ix);
	if (ret < 0 && !*why)
		*why = why_printf("it could not be indexed (%s).", strerror(-ret));
	return ret;
}
