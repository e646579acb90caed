/* Playlist writers. Every number comes from the plan, so the text (and its size, which stat
 * reports) is the same on every machine for the same source and configuration. */
#include "playlist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "naming.h"
#include "strbuf.h"
#include "webvtt.h"

/* A media playlist: VOD with ENDLIST, or EVENT (a recording), with ENDLIST once it ended. */
static int media_text(const struct plan *p, const char *version, uint32_t target_duration, bool event, bool ended,
		      char **text, size_t *len)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%" PRIu32 "\n"
			   "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:%s\n%s",
		      target_duration, event ? "EVENT" : "VOD", p->independent ? "#EXT-X-INDEPENDENT-SEGMENTS\n" : "");
	for (uint32_t i = 0; i < p->nb_segments; i++) {
		char name[NAMING_MAX];
		uint64_t ms = plan_segment_ms(p, i);
		naming_segment(i, version, name);
		strbuf_printf(&sb, "#EXTINF:%" PRIu64 ".%03" PRIu64 ",\n%s\n", ms / 1000, ms % 1000, name);
	}
	if (!event || ended)
		strbuf_printf(&sb, "#EXT-X-ENDLIST\n");
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}

int playlist_media(const struct plan *p, const char *version, char **text, size_t *len)
{
	return media_text(p, version, p->target_duration, false, false, text, len);
}

int playlist_media_event(const struct plan *p, const char *version, uint32_t target_duration, bool ended,
			 char **text, size_t *len)
{
	return media_text(p, version, target_duration, true, ended, text, len);
}

/* An I-frame playlist; target_duration 0: the ceiling of the longest keyframe span. */
static int iframes_text(const struct plan_iframe *f, uint32_t n, const char *version, uint32_t target_duration,
			bool event, bool ended, char **text, size_t *len)
{
	struct strbuf sb;
	uint64_t max_ms = 0;
	uint32_t seg = UINT32_MAX;
	char name[NAMING_MAX] = "";

	for (uint32_t i = 0; i < n; i++)
		if (f[i].ms > max_ms)
			max_ms = f[i].ms;
	if (!target_duration)
		target_duration = (max_ms + 999) / 1000 ? (uint32_t)((max_ms + 999) / 1000) : 1;
	strbuf_init(&sb);
	strbuf_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:%" PRIu32 "\n"
			   "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:%s\n#EXT-X-I-FRAMES-ONLY\n",
		      target_duration, event ? "EVENT" : "VOD");
	for (uint32_t i = 0; i < n; i++) {
		if (f[i].segment != seg) {
			seg = f[i].segment;
			naming_segment(seg, version, name);
		}
		strbuf_printf(&sb, "#EXTINF:%" PRIu64 ".%03" PRIu64 ",\n#EXT-X-BYTERANGE:%" PRIu64 "@%" PRIu64 "\n%s\n",
			      f[i].ms / 1000, f[i].ms % 1000, f[i].size, f[i].offset, name);
	}
	if (!event || ended)
		strbuf_printf(&sb, "#EXT-X-ENDLIST\n");
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}

int playlist_iframes(const struct plan_iframe *f, uint32_t n, const char *version, char **text, size_t *len)
{
	return iframes_text(f, n, version, 0, false, false, text, len);
}

int playlist_iframes_event(const struct plan_iframe *f, uint32_t n, const char *version, uint32_t target_duration,
			   bool ended, char **text, size_t *len)
{
	return iframes_text(f, n, version, target_duration, true, ended, text, len);
}

/* ",mp4a.40.N" or ",mp4a.40.34" for the audio, "" without; -EINVAL when it does not tell. */
static int audio_codecs(const struct media_index *ix, char *out, size_t size)
{
	struct aac_config aac;

	out[0] = '\0';
	if (ix->audio.codec == INDEX_CODEC_AAC) {
		if (codec_aac_parse(ix->audio.extradata, ix->audio.extradata_size, &aac) < 0)
			return -EINVAL;
		snprintf(out, size, ",mp4a.40.%u", aac.object_type);
	} else if (ix->audio.codec == INDEX_CODEC_MP3) {
		snprintf(out, size, ",mp4a.40.34");
	}
	return 0;
}

int playlist_codecs(const struct media_index *ix, char *out, size_t size)
{
	struct avc_config avc;
	char audio[32];
	int n;

	out[0] = '\0';
	if (codec_avc_parse(ix->video.extradata, ix->video.extradata_size, &avc) < 0 ||
	    audio_codecs(ix, audio, sizeof(audio)) < 0)
		return -EINVAL;
	codec_avc_release(&avc);
	n = snprintf(out, size, "avc1.%02x%02x%02x%s", avc.profile, avc.compat, avc.level, audio);
	if (n < 0 || (size_t)n >= size) {
		out[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

struct stream_inf {
	uint64_t peak, average;
	unsigned width, height;
	bool start;  /* listed first: the passthrough, when players start with it that way */
	char codecs[128];
	const char *name;
};

/* The order of the master: the variant to start with first, then by ascending BANDWIDTH. */
static int by_bandwidth(const void *a, const void *b)
{
	const struct stream_inf *x = a, *y = b;
	if (x->start != y->start)
		return x->start ? -1 : 1;
	if (x->peak != y->peak)
		return x->peak < y->peak ? -1 : 1;
	return x->height < y->height ? -1 : x->height > y->height;
}

/* CODECS of an AAC track from its AudioSpecificConfig, "" when it does not tell. */
static void aac_codecs(const struct index_track *t, bool transcoded, char *out, size_t size)
{
	struct aac_config aac;
	out[0] = '\0';
	if (transcoded)
		snprintf(out, size, "mp4a.40.2");  /* our encoder writes AAC-LC */
	else if (codec_aac_parse(t->extradata, t->extradata_size, &aac) == 0)
		snprintf(out, size, "mp4a.40.%u", aac.object_type);
}

/* The EXT-X-MEDIA group of the audio renditions; the muxed audio, when there is some, is its
 * default member without a URI. Adds to *extra_peak and *extra_avg the heaviest rendition's
 * rates (a variant's BANDWIDTH covers its video and the heaviest audio) and to codecs every
 * rendition's codec. */
static void audio_group(struct strbuf *sb, const struct media_index *ix, const struct plan *p,
			char (*names)[NAMING_MAX], uint64_t *extra_peak, uint64_t *extra_avg, char *codecs, size_t csize)
{
	char used[INDEX_MAX_RENDITIONS + 1][NAMING_MAX + INDEX_TITLE_MAX + 16];
	unsigned nused = 0;
	bool muxed = p->has_audio;

	*extra_peak = *extra_avg = 0;
	for (unsigned k = 0; k <= p->nb_renditions; k++) {
		const struct index_track *t;
		char name[NAMING_MAX + INDEX_TITLE_MAX + 16], c[32], lang[8], unknown[16];
		bool dup;
		if (k == 0 && !muxed)
			continue;
		t = k == 0 ? &ix->audio : &ix->renditions[k - 1];
		/* LANGUAGE is an RFC 5646 tag ("fr", not the track's "fre"); NAME says it in words, with
		 * the track's title. */
		webvtt_language(t->language[0] ? t->language : NULL, lang);
		snprintf(unknown, sizeof(unknown), "Audio %u", nused + 1);
		webvtt_track_name(lang, t->title, unknown, name, sizeof(name));
		do {  /* NAME must be unique in the group */
			dup = false;
			for (unsigned i = 0; i < nused; i++)
				dup |= !strcmp(used[i], name);
			if (dup) {
				size_t l = strlen(name);
				snprintf(name + l, sizeof(name) - l, " %u", nused + 1);
			}
		} while (dup);
		snprintf(used[nused++], sizeof(used[0]), "%s", name);
		strbuf_printf(sb, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"%s\"", name);
		if (strcmp(lang, "und"))
			strbuf_printf(sb, ",LANGUAGE=\"%s\"", lang);
		strbuf_printf(sb, ",DEFAULT=%s,AUTOSELECT=YES", nused == 1 ? "YES" : "NO");
		/* CHANNELS (Apple asks for it on every audio rendition): a transcode gives stereo,
		 * a copy what the track says. */
		if (k > 0 && p->renditions[k - 1].transcode)
			strbuf_printf(sb, ",CHANNELS=\"2\"");
		else if (t->channels > 0 && t->channels <= 16)
			strbuf_printf(sb, ",CHANNELS=\"%u\"", t->channels);
		if (k > 0) {
			const struct plan_rendition *r = &p->renditions[k - 1];
			strbuf_printf(sb, ",URI=\"%s/%s\"", names[plan_variants(p) + k - 1], NAMING_PLAYLIST);
			if (r->peak_bps > *extra_peak)
				*extra_peak = r->peak_bps;
			if (r->average_bps > *extra_avg)
				*extra_avg = r->average_bps;
			aac_codecs(t, r->transcode, c, sizeof(c));
			if (c[0] && !strstr(codecs, c) && strlen(codecs) + strlen(c) + 2 < csize) {
				if (codecs[0])
					strcat(codecs, ",");
				strcat(codecs, c);
			}
		}
		strbuf_printf(sb, "\n");
	}
}

int playlist_master(const struct media_index *ix, const struct plan *p, char (*names)[NAMING_MAX],
		    const struct plan_iframe *iframes, uint32_t n_iframes, char **text, size_t *len)
{
	const struct index_track *v = &ix->video;
	struct stream_inf inf[PLAN_MAX_RUNGS + 1];
	unsigned n = plan_variants(p);
	struct strbuf sb;
	char audio[32], rcodecs[96] = "";
	bool audio_known = audio_codecs(ix, audio, sizeof(audio)) == 0;
	uint64_t extra_peak = 0, extra_avg = 0;

	for (unsigned i = 0; i < n; i++) {
		int r = plan_variant_rung(p, i);
		struct stream_inf *s = &inf[i];
		s->name = names[i];
		s->start = false;
		if (r < 0) {
			s->peak = p->peak_bps;
			s->average = p->average_bps;
			s->start = true;  /* decided below, once the audio's share is known */
			s->width = v->width;
			s->height = v->height;
			if (playlist_codecs(ix, s->codecs, sizeof(s->codecs)) < 0)
				s->codecs[0] = '\0';
		} else {
			const struct plan_rung *rung = &p->rungs[r];
			unsigned flags = rung->profile_idc == 77 ? 0x40 : rung->profile_idc == 66 ? 0xc0 : 0x00;
			s->peak = rung->peak_bps;
			s->average = rung->average_bps;
			s->width = rung->width;
			s->height = rung->height;
			if (audio_known)
				snprintf(s->codecs, sizeof(s->codecs), "avc1.%02x%02x%02x%s", rung->profile_idc, flags,
					 rung->level, audio);
			else
				s->codecs[0] = '\0';
		}
	}
	strbuf_init(&sb);
	strbuf_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:3\n%s", p->independent ? "#EXT-X-INDEPENDENT-SEGMENTS\n" : "");
	if (p->nb_renditions)
		audio_group(&sb, ix, p, names, &extra_peak, &extra_avg, rcodecs, sizeof(rcodecs));
	/* Safari starts with the first variant listed; hls.js takes the first one's BANDWIDTH (at
	 * most 5 Mbit/s) as its bandwidth estimate and starts with the best variant within it. The
	 * passthrough costs no encoding and is the best picture, while a rung's first segment is a
	 * cold encode (1-5 s on 2 cores): it comes first when both players would start with it. */
	for (unsigned i = 0; i < n; i++)
		inf[i].start = inf[i].start && inf[i].peak + extra_peak <= PLAYLIST_START_MAX_BPS;
	qsort(inf, n, sizeof(inf[0]), by_bandwidth);
	for (unsigned i = 0; i < n; i++) {
		strbuf_printf(&sb, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64 ",AVERAGE-BANDWIDTH=%" PRIu64,
			      inf[i].peak + extra_peak, inf[i].average + extra_avg);
		if (inf[i].codecs[0] && rcodecs[0] && strlen(inf[i].codecs) + strlen(rcodecs) + 2 < sizeof(inf[i].codecs)) {
			/* every format a player may need for this variant, its renditions' included */
			char *c = inf[i].codecs, *tok, *save = NULL, copy[96];
			snprintf(copy, sizeof(copy), "%s", rcodecs);
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				if (!strstr(c, tok))
					strcat(strcat(c, ","), tok);
		}
		if (inf[i].codecs[0])
			strbuf_printf(&sb, ",CODECS=\"%s\"", inf[i].codecs);
		strbuf_printf(&sb, ",RESOLUTION=%ux%u", inf[i].width, inf[i].height);
		if (v->fps_num && v->fps_den) {
			uint64_t milli = ((uint64_t)v->fps_num * 1000 + v->fps_den / 2) / v->fps_den;
			strbuf_printf(&sb, ",FRAME-RATE=%" PRIu64 ".%03" PRIu64, milli / 1000, milli % 1000);
		}
		if (p->nb_renditions)
			strbuf_printf(&sb, ",AUDIO=\"aud\"");
		strbuf_printf(&sb, "\n%s/%s\n", inf[i].name, NAMING_PLAYLIST);
	}
	if (n_iframes && p->passthrough) {
		/* BANDWIDTH: the heaviest keyframe over the time it stands for; the average over all. */
		uint64_t peak = 0, bytes = 0, ms = 0;
		struct avc_config avc;
		for (uint32_t i = 0; i < n_iframes; i++) {
			uint64_t bps = iframes[i].size * 8 * 1000 / iframes[i].ms;
			if (bps > peak)
				peak = bps;
			bytes += iframes[i].size;
			ms += iframes[i].ms;
		}
		strbuf_printf(&sb, "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%" PRIu64 ",AVERAGE-BANDWIDTH=%" PRIu64,
			      peak ? peak : 1, ms && bytes * 8 * 1000 / ms ? bytes * 8 * 1000 / ms : 1);
		if (codec_avc_parse(v->extradata, v->extradata_size, &avc) == 0) {
			strbuf_printf(&sb, ",CODECS=\"avc1.%02x%02x%02x\"", avc.profile, avc.compat, avc.level);
			codec_avc_release(&avc);
		}
		/* names[0] is the passthrough's folder: variant 0 */
		strbuf_printf(&sb, ",RESOLUTION=%ux%u,URI=\"%s/%s\"\n", v->width, v->height, names[0], NAMING_IFRAMES);
	}
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}

int playlist_master_subtitles(const struct webvtt_rendition *r, unsigned n, char **text, size_t *len)
{
	struct strbuf sb;
	const char *p = *text, *end = *text + *len;
	bool rows_done = false;
	char *out;

	if (!n)
		return 0;
	strbuf_init(&sb);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		bool inf = l > 18 && !strncmp(p, "#EXT-X-STREAM-INF:", 18);
		if (!rows_done && (inf || !strncmp(p, "#EXT-X-I-FRAME-STREAM-INF:", 26))) {
			for (unsigned k = 0; k < n; k++) {
				strbuf_printf(&sb, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"%s\",LANGUAGE=\"%s\","
						   "DEFAULT=NO,AUTOSELECT=YES",
					      r[k].name, r[k].track->language);
				if (r[k].track->flags & INDEX_SUB_FORCED)
					strbuf_printf(&sb, ",FORCED=YES");
				strbuf_printf(&sb, ",URI=\"%s/%s\"\n", r[k].folder, NAMING_PLAYLIST);
			}
			rows_done = true;
		}
		strbuf_add(&sb, p, l);
		if (inf)
			strbuf_printf(&sb, ",SUBTITLES=\"subs\"");
		if (nl)
			strbuf_add(&sb, "\n", 1);
		p += l + (nl ? 1 : 0);
	}
	if (!(out = strbuf_steal(&sb, len)))
		return -ENOMEM;
	free(*text);
	*text = out;
	return 0;
}
