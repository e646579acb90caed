/* Subtitle indexing. Embedded tracks: the source is opened a second time with every stream but
 * the text subtitles discarded, so an MP4's demuxer reads only their samples (a few kilobytes),
 * and each packet goes through the track's FFmpeg decoder, which hands back ASS events whatever
 * the format. Times are the demuxer's, edit lists applied, on the same 90 kHz timeline as the
 * video samples (scan.c), so a cue lands on the frame it was authored for. Sidecars: the file
 * is read whole (they are small) through source.c, beneath the source root, converted to UTF-8,
 * and demuxed from memory with the demuxer its extension names; its times are the player's,
 * which for a video starting at 0 are the source timeline's. */
#include "subtitle.h"

#include <dirent.h>
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <uchardet/uchardet.h>

#include "hash.h"
#include "avsource.h"
#include "log.h"
#include "remote.h"
#include "strbuf.h"
#include "webvtt.h"

#define SIDECAR_MAX_BYTES (16u << 20)    /* a subtitle file beyond this is not a subtitle file */
#define CUE_OPEN_END_TICKS (5 * 90000)   /* a cue that never says its end shows this long at most */
#define MAX_CUES (1u << 20)

/* ---- Building one track ---- */

struct track_build {
	struct index_subtitle t;
	uint32_t cap;
	struct strbuf text;
	AVCodecContext *dec;
	AVRational tb;
};

static int add_cue(struct track_build *b, int64_t start, int64_t end, const char *payload, size_t n)
{
	struct index_cue *c;
	if (n == 0)
		return 0;
	if (b->t.nb_cues == MAX_CUES || b->text.len + n > UINT32_MAX / 2)
		return 0;
	if (b->t.nb_cues == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 64;
		struct index_cue *p = realloc(b->t.cues, sizeof(*p) * ncap);
		if (!p)
			return -ENOMEM;
		b->t.cues = p;
		b->cap = ncap;
	}
	c = &b->t.cues[b->t.nb_cues++];
	c->start = start;
	c->end = end;
	c->text_off = (uint32_t)b->text.len;
	c->text_len = (uint32_t)n;
	strbuf_add(&b->text, payload, n);
	return b->text.failed ? -ENOMEM : 0;
}

/* Decodes one packet into cues. */
static int decode_packet(struct track_build *b, AVPacket *pkt)
{
	const AVRational ts90 = { 1, 90000 };
	AVSubtitle sub;
	struct strbuf pay;
	int got = 0, ret = 0;
	int64_t start, end;

	if (pkt->pts == AV_NOPTS_VALUE)
		return 0;
	if (avcodec_decode_subtitle2(b->dec, &sub, &got, pkt) < 0 || !got)
		return 0;  /* a damaged cue is left out; the rest of the track stands */
	strbuf_init(&pay);
	for (unsigned i = 0; i < sub.num_rects; i++) {
		const AVSubtitleRect *r = sub.rects[i];
		const char *text;
		if (r->type != SUBTITLE_ASS || !r->ass || !(text = webvtt_ass_event_text(r->ass)))
			continue;
		if (pay.len)
			strbuf_add(&pay, "\n", 1);
		{
			size_t before = pay.len;
			webvtt_from_ass_text(text, strlen(text), &pay);
			if (pay.len == before && before)
				pay.len--;  /* nothing came of it: no dangling line break */
		}
	}
	start = av_rescale_q(pkt->pts, b->tb, ts90) + (int64_t)sub.start_display_time * 90;
	if (pkt->duration > 0)
		end = av_rescale_q(pkt->pts + pkt->duration, b->tb, ts90);
	else if (sub.end_display_time > sub.start_display_time && sub.end_display_time != UINT32_MAX)
		end = av_rescale_q(pkt->pts, b->tb, ts90) + (int64_t)sub.end_display_time * 90;
	else
		end = INT64_MAX;  /* until the next cue */
	if (pay.failed)
		ret = -ENOMEM;
	else if (end > start)
		ret = add_cue(b, start, end, pay.data, pay.len);
	strbuf_release(&pay);
	avsubtitle_free(&sub);
	return ret;
}

static int cmp_cue(const void *a, const void *b)
{
	const struct index_cue *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->text_off < y->text_off ? -1 : x->text_off > y->text_off;  /* stable: file order */
}

/* Sorts the cues, closes open-ended ones, and moves the track into ix. */
static int finish_track(struct track_build *b, struct media_index *ix)
{
	size_t len;
	struct index_subtitle *t = &b->t;

	if (t->nb_cues == 0 || ix->nb_subtitles == INDEX_MAX_SUBTITLES)
		return 0;
	qsort(t->cues, t->nb_cues, sizeof(t->cues[0]), cmp_cue);
	for (uint32_t i = 0; i < t->nb_cues; i++) {
		struct index_cue *c = &t->cues[i];
		if (c->end == INT64_MAX) {
			c->end = c->start + CUE_OPEN_END_TICKS;
			if (i + 1 < t->nb_cues && t->cues[i + 1].start > c->start && t->cues[i + 1].start < c->end)
				c->end = t->cues[i + 1].start;
		}
	}
	if (!(t->text = strbuf_steal(&b->text, &len)))
		return -ENOMEM;
	t->text_size = (uint32_t)len;
	ix->subtitles[ix->nb_subtitles++] = *t;
	memset(t, 0, sizeof(*t));
	return 0;
}

static void release_track(struct track_build *b)
{
	free(b->t.cues);
	free(b->t.text);
	strbuf_release(&b->text);
	avcodec_free_context(&b->dec);
	memset(b, 0, sizeof(*b));
}

static int open_decoder(struct track_build *b, const AVStream *st)
{
	const AVCodec *c = avcodec_find_decoder(st->codecpar->codec_id);
	if (!c || !(b->dec = avcodec_alloc_context3(c)))
		return -ENOENT;
	if (avcodec_parameters_to_context(b->dec, st->codecpar) < 0)
		return -EINVAL;
	b->dec->pkt_timebase = st->time_base;
	b->tb = st->time_base;
	if (avcodec_open2(b->dec, c, NULL) < 0)
		return -EINVAL;
	strbuf_init(&b->text);
	return 0;
}

/* ---- Embedded tracks ---- */

/* Reads every packet of the tracks in b (b[i] for stream i < n, dec NULL for streams not read;
 * streams a demuxer adds on the way are not read). */
static int read_tracks(AVFormatContext *fc, struct track_build *b, unsigned n)
{
	AVPacket *pkt = av_packet_alloc();
	int ret = 0;
	if (!pkt)
		return -ENOMEM;
	while (av_read_frame(fc, pkt) >= 0) {
		if (pkt->stream_index >= 0 && (unsigned)pkt->stream_index < n && b[pkt->stream_index].dec)
			ret = decode_packet(&b[pkt->stream_index], pkt);
		av_packet_unref(pkt);
		if (ret < 0)
			break;
	}
	av_packet_free(&pkt);
	return ret;
}

static int scan_embedded(struct source *src, const char *path, struct media_index *ix)
{
	struct avsource io = { .src = src, .size = source_identity(src)->size };
	AVFormatContext *fc = NULL;
	struct track_build *b = NULL;
	unsigned text = 0, nb;
	int ret;

	if (avsource_open(&io, NULL, 0, 0, &fc) < 0)
		return 0;  /* scan.c read it: whatever fails here only costs the subtitles */
	nb = fc->nb_streams;
	if ((remote_is_url(path) || source_is_link(path)) && !strcmp(fc->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2")) {
		/* An MP4's cues lie spread over its whole mdat: reading them from an archive would fetch a
		 * block per cue, most of the file, while the video is only being listed. */
		log_debug("%s: embedded subtitles of a remote MP4 are not read", path);
		ret = 0;
		goto out;
	}
	if (!(b = calloc(nb, sizeof(*b)))) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < nb; i++) {
		AVStream *st = fc->streams[i];
		const AVCodecDescriptor *d = avcodec_descriptor_get(st->codecpar->codec_id);
		st->discard = AVDISCARD_ALL;
		if (st->codecpar->codec_type != AVMEDIA_TYPE_SUBTITLE)
			continue;
		if (d && (d->props & AV_CODEC_PROP_BITMAP_SUB)) {
			log_warn("%s: subtitle track %u is %s, a picture format: only text subtitles are offered", path, i,
				 d->long_name ? d->long_name : d->name);
			continue;
		}
		if (!d || !(d->props & AV_CODEC_PROP_TEXT_SUB) || open_decoder(&b[i], st) < 0) {
			log_warn("%s: subtitle track %u (%s) cannot be decoded; it is left out", path, i,
				 d ? d->name : "an unknown format");
			avcodec_free_context(&b[i].dec);
			continue;
		}
		{
			const AVDictionaryEntry *lang = av_dict_get(st->metadata, "language", NULL, 0);
			const AVDictionaryEntry *title = av_dict_get(st->metadata, "title", NULL, 0);
			webvtt_language(lang ? lang->value : NULL, b[i].t.language);
			index_title_clean(title ? title->value : NULL, b[i].t.title);
		}
		if (st->disposition & AV_DISPOSITION_FORCED)
			b[i].t.flags |= INDEX_SUB_FORCED;
		st->discard = AVDISCARD_DEFAULT;
		text++;
	}
	ret = 0;
	if (!text)
		goto out;
	if ((ret = read_tracks(fc, b, nb)) < 0)
		goto out;
	for (unsigned i = 0; i < nb && ret == 0; i++)
		if (b[i].dec)
			ret = finish_track(&b[i], ix);
out:
	for (unsigned i = 0; b && i < nb; i++)
		release_track(&b[i]);
	free(b);
	avsource_close(&fc);
	return ret;
}

/* ---- Sidecars ---- */

static bool valid_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			     (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!len || i + len > n)
			return false;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

/* Converts n bytes in charset from to UTF-8 (bytes iconv cannot take become U+FFFD). Returns a
 * malloc'd buffer with *out_n bytes and AVPROBE_PADDING_SIZE zeros after them, or NULL. */
static uint8_t *to_utf8(const uint8_t *in, size_t n, const char *from, size_t *out_n)
{
	iconv_t cd = iconv_open("UTF-8", from);
	size_t cap = n * 3 + 16, left_in = n, left_out;
	uint8_t *out;
	char *ip = (char *)in, *op;

	if (cd == (iconv_t)-1)
		return NULL;
	if (!(out = malloc(cap + AVPROBE_PADDING_SIZE))) {
		iconv_close(cd);
		return NULL;
	}
	op = (char *)out;
	left_out = cap;
	while (left_in > 0) {
		if (iconv(cd, &ip, &left_in, &op, &left_out) != (size_t)-1)
			break;
		if (errno == E2BIG) {
			size_t used = (size_t)(op - (char *)out);
			uint8_t *p = realloc(out, cap * 2 + AVPROBE_PADDING_SIZE);
			if (!p)
				goto fail;
			out = p;
			cap *= 2;
			op = (char *)out + used;
			left_out = cap - used;
			continue;
		}
		/* EILSEQ or EINVAL: one byte the charset does not map */
		if (left_out < 3) {
			left_out = 0;
			errno = E2BIG;
			continue;
		}
		memcpy(op, "\xef\xbf\xbd", 3);
		op += 3;
		left_out -= 3;
		ip++;
		left_in--;
	}
	iconv_close(cd);
	*out_n = (size_t)(op - (char *)out);
	memset(out + *out_n, 0, AVPROBE_PADDING_SIZE);
	return out;
fail:
	iconv_close(cd);
	free(out);
	return NULL;
}

/* The text of a sidecar as UTF-8: a BOM says UTF-8 or UTF-16; valid UTF-8 is taken as it is;
 * anything else is what uchardet says it is (cp1252 when it cannot tell: the legacy encoding
 * of most SubRip files, and a superset of latin-1's printable characters). */
static uint8_t *sidecar_utf8(const uint8_t *buf, size_t n, size_t *out_n, const char **charset)
{
	uint8_t *out;
	if (n >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
		buf += 3;
		n -= 3;
	} else if (n >= 2 && (!memcmp(buf, "\xff\xfe", 2) || !memcmp(buf, "\xfe\xff", 2))) {
		*charset = buf[0] == 0xff ? "UTF-16LE" : "UTF-16BE";
		return to_utf8(buf + 2, n - 2, *charset, out_n);
	}
	if (valid_utf8(buf, n)) {
		*charset = "UTF-8";
		if (!(out = malloc(n + AVPROBE_PADDING_SIZE)))
			return NULL;
		memcpy(out, buf, n);
		memset(out + n, 0, AVPROBE_PADDING_SIZE);
		*out_n = n;
		return out;
	}
	{
		uchardet_t ud = uchardet_new();
		char cs[64] = "";
		if (ud) {
			if (uchardet_handle_data(ud, (const char *)buf, n) == 0) {
				uchardet_data_end(ud);
				snprintf(cs, sizeof(cs), "%s", uchardet_get_charset(ud));
			}
			uchardet_delete(ud);
		}
		/* latin-1 as detectors name it is cp1252 in practice (curly quotes at 0x91-0x94). */
		if (!cs[0] || !strcasecmp(cs, "ISO-8859-1") || !strcasecmp(cs, "ASCII") || !strcasecmp(cs, "UTF-8"))
			snprintf(cs, sizeof(cs), "WINDOWS-1252");
		*charset = strcasecmp(cs, "WINDOWS-1252") ? "" : "WINDOWS-1252";
		out = to_utf8(buf, n, cs, out_n);
		if (!out)
			out = to_utf8(buf, n, "WINDOWS-1252", out_n);
		return out;
	}
}

static int scan_sidecar(const char *path, const char *lang, uint32_t flags, struct media_index *ix)
{
	struct source *src = NULL;
	struct avsource io = { 0 };
	AVFormatContext *fc = NULL;
	struct track_build b = { 0 };
	uint8_t *raw = NULL, *text = NULL;
	const char *ext = strrchr(path, '.') + 1, *fmt, *charset = "";
	size_t n = 0;
	char why[256] = "";
	int ret;

	fmt = !strcasecmp(ext, "srt") ? "srt" : !strcasecmp(ext, "vtt") ? "webvtt" : "ass";
	if ((ret = source_open(path, &src, why, sizeof(why))) < 0) {
		log_warn("%s: this subtitle file cannot be opened (%s); it is left out", path, why[0] ? why : strerror(-ret));
		return 0;
	}
	if (source_identity(src)->size > SIDECAR_MAX_BYTES) {
		log_warn("%s: this subtitle file is larger than %u MiB; it is left out", path, SIDECAR_MAX_BYTES >> 20);
		goto out;
	}
	if (!(raw = malloc(source_identity(src)->size + 1))) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = source_pread(src, raw, source_identity(src)->size, 0)) < 0) {
		log_warn("%s: this subtitle file cannot be read (%s); it is left out", path, source_strerror(src, ret));
		ret = 0;
		goto out;
	}
	if (!(text = sidecar_utf8(raw, source_identity(src)->size, &n, &charset))) {
		log_warn("%s: this subtitle file's text encoding cannot be converted; it is left out", path);
		goto out;
	}
	log_debug("%s: subtitle text read as %s", path, charset[0] ? charset : "detected charset");
	io.mem = text;
	io.size = n;
	if (avsource_open(&io, av_find_input_format(fmt), 0, 0, &fc) < 0 || fc->nb_streams < 1 ||
	    fc->streams[0]->codecpar->codec_type != AVMEDIA_TYPE_SUBTITLE || open_decoder(&b, fc->streams[0]) < 0) {
		log_warn("%s: this subtitle file cannot be read as %s; it is left out", path,
			 !strcmp(fmt, "srt") ? "SubRip" : !strcmp(fmt, "webvtt") ? "WebVTT" : "ASS/SSA");
		ret = 0;
		goto out;
	}
	snprintf(b.t.language, sizeof(b.t.language), "%s", lang);
	b.t.flags = flags | INDEX_SUB_SIDECAR;
	{
		struct track_build *bs = calloc(fc->nb_streams, sizeof(*bs));
		if (!bs) {
			ret = -ENOMEM;
			goto out;
		}
		bs[0] = b;
		ret = read_tracks(fc, bs, 1);
		b = bs[0];
		free(bs);
	}
	if (ret == 0) {
		unsigned before = ix->nb_subtitles;
		if ((ret = finish_track(&b, ix)) == 0 && ix->nb_subtitles == before)
			log_warn("%s: this subtitle file holds no cues; it is left out", path);
	}
out:
	release_track(&b);
	avsource_close(&fc);
	free(text);
	free(raw);
	source_close(src);
	return ret;
}

/* ---- Finding sidecars ---- */

/* The folder and the video's own name of a local video path (a link file NAME.mp4.url stands for
 * NAME.mp4). Returns -ENOENT for a remote video. */
static int split_path(const char *path, char *dir, size_t dsize, char *video, size_t vsize)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	if (remote_is_url(path) || !slash)
		return -ENOENT;
	if ((size_t)(slash - path) + 1 >= dsize || strlen(slash + 1) >= vsize)
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (!dir[0])
		snprintf(dir, dsize, "/");
	snprintf(video, vsize, "%s", slash + 1);
	n = strlen(video);
	if (source_is_link(video))
		video[n - strlen(SOURCE_LINK_SUFFIX)] = '\0';
	return 0;
}

/* Subtitle-looking names of a folder, kept while its time stays the same: a folder of a
 * thousand videos is read once, not once per stat of each of their files. */
#define DIR_CACHE 64

struct dir_names {
	char *dir;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	char **names;
	unsigned n;
};

static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dir_names dirs[DIR_CACHE];
static unsigned dir_next;

static bool subtitle_ext(const char *name)
{
	const char *e = strrchr(name, '.');
	return e && (!strcasecmp(e, ".srt") || !strcasecmp(e, ".vtt") || !strcasecmp(e, ".ass") || !strcasecmp(e, ".ssa"));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dir_names_clear(struct dir_names *d)
{
	for (unsigned i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	free(d->dir);
	memset(d, 0, sizeof(*d));
}

/* Calls fn for every sidecar of video in dir, in name order, with the lock held. */
static void each_sidecar(const char *dir, const char *video,
			 void (*fn)(const char *dir, const char *name, const char *lang, uint32_t flags, void *arg), void *arg)
{
	struct stat st;
	struct dir_names *d = NULL;

	if (stat(dir, &st) < 0)
		return;
	pthread_mutex_lock(&dir_lock);
	for (unsigned i = 0; i < DIR_CACHE; i++)
		if (dirs[i].dir && !strcmp(dirs[i].dir, dir))
			d = &dirs[i];
	if (d && (d->dev != st.st_dev || d->ino != st.st_ino || d->mtime.tv_sec != st.st_mtim.tv_sec ||
		  d->mtime.tv_nsec != st.st_mtim.tv_nsec))
		dir_names_clear(d);
	else if (!d) {
		d = &dirs[dir_next++ % DIR_CACHE];
		dir_names_clear(d);
	}
	if (!d->dir) {
		DIR *dh = opendir(dir);
		struct dirent *de;
		unsigned cap = 0;
		if (dh && (d->dir = strdup(dir))) {
			d->dev = st.st_dev;
			d->ino = st.st_ino;
			d->mtime = st.st_mtim;
			while ((de = readdir(dh))) {
				if (!subtitle_ext(de->d_name))
					continue;
				if (d->n == cap) {
					char **p = realloc(d->names, sizeof(*p) * (cap ? cap * 2 : 16));
					if (!p)
						break;
					d->names = p;
					cap = cap ? cap * 2 : 16;
				}
				if (!(d->names[d->n] = strdup(de->d_name)))
					break;
				d->n++;
			}
			if (d->n)
				qsort(d->names, d->n, sizeof(d->names[0]), cmp_str);
		}
		if (dh)
			closedir(dh);
	}
	for (unsigned i = 0; d->dir && i < d->n; i++) {
		char lang[8];
		uint32_t flags;
		if (webvtt_sidecar_match(video, d->names[i], lang, &flags))
			fn(dir, d->names[i], lang, flags, arg);
	}
	pthread_mutex_unlock(&dir_lock);
}

static void tag_one(const char *dir, const char *name, const char *lang, uint32_t flags, void *arg)
{
	uint64_t *h = arg;
	char path[4096];
	struct stat st;
	(void)lang;
	(void)flags;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) || stat(path, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return;
	{
		int64_t f[4] = { (int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
				 (int64_t)st.st_ino, (int64_t)st.st_dev };
		*h = hash_fnv1a(name, strlen(name) + 1, *h);
		*h = hash_fnv1a(f, sizeof(f), *h);
	}
}

uint64_t subtitle_sidecar_tag(const char *path)
{
	char dir[4096], video[1024];
	uint64_t h = 0;
	if (split_path(path, dir, sizeof(dir), video, sizeof(video)) < 0)
		return 0;
	each_sidecar(dir, video, tag_one, &h);
	return h;
}

struct found {
	char (*paths)[4096];
	char (*langs)[8];
	uint32_t *flags;
	unsigned n;
};

static void found_one(const char *dir, const char *name, const char *lang, uint32_t flags, void *arg)
{
	struct found *f = arg;
	if (f->n == INDEX_MAX_SUBTITLES)
		return;
	if ((size_t)snprintf(f->paths[f->n], sizeof(f->paths[0]), "%s/%s", dir, name) >= sizeof(f->paths[0]))
		return;
	snprintf(f->langs[f->n], sizeof(f->langs[0]), "%s", lang);
	f->flags[f->n++] = flags;
}

int subtitle_scan(struct source *src, const char *path, struct media_index *ix)
{
	char dir[4096], video[1024];
	struct found f = { 0 };
	int ret = 0;

	if (ix->subtitle_streams && (ret = scan_embedded(src, path, ix)) < 0)
		return ret;
	if (split_path(path, dir, sizeof(dir), video, sizeof(video)) < 0)
		return 0;
	f.paths = calloc(INDEX_MAX_SUBTITLES, sizeof(*f.paths));
	f.langs = calloc(INDEX_MAX_SUBTITLES, sizeof(*f.langs));
	f.flags = calloc(INDEX_MAX_SUBTITLES, sizeof(*f.flags));
	if (!f.paths || !f.langs || !f.flags) {
		ret = -ENOMEM;
		goto out;
	}
	each_sidecar(dir, video, found_one, &f);
	ix->sidecar_tag = subtitle_sidecar_tag(path);
	for (unsigned i = 0; i < f.n && ret == 0; i++)
		ret = scan_sidecar(f.paths[i], f.langs[i], f.flags[i], ix);
out:
	free(f.paths);
	free(f.langs);
	free(f.flags);
	return ret;
}
