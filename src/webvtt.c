/* WebVTT writer. A cue's payload is made once, at index time, from the ASS event FFmpeg's text
 * subtitle decoders all produce; here the payloads are laid out per segment with the timestamp
 * map RFC 8216 3.5 asks for. Every number comes from the index and the plan, so each file's
 * text, and the size stat reports for it, is the same on every machine. */
#include "webvtt.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

enum { STYLE_I = 1, STYLE_B = 2 };

struct cue_writer {
	struct strbuf *out;
	size_t start;        /* where this payload began in out */
	unsigned open;       /* tags open in out, opened i before b */
	unsigned want;       /* tags the text asks for from here on */
	bool line_has_text;  /* the current line holds something besides white space */
	bool pending_break;  /* a line break not written yet (never two in a row: no blank line) */
	unsigned pending_space;
};

static void close_tags(struct cue_writer *w)
{
	if (w->open & STYLE_B)
		strbuf_add(w->out, "</b>", 4);
	if (w->open & STYLE_I)
		strbuf_add(w->out, "</i>", 4);
	w->open = 0;
}

/* Writes text bytes (already escaped), first settling breaks and tags. */
static void emit(struct cue_writer *w, const char *s, size_t n)
{
	if (w->open != w->want) {
		close_tags(w);
	}
	if (w->pending_break) {
		if (w->out->len > w->start)
			strbuf_add(w->out, "\n", 1);
		w->pending_break = false;
		w->line_has_text = false;
		w->pending_space = 0;
	}
	if (w->pending_space && w->line_has_text)
		for (unsigned i = 0; i < w->pending_space; i++)
			strbuf_add(w->out, " ", 1);
	w->pending_space = 0;
	if (w->open != w->want) {
		if (w->want & STYLE_I)
			strbuf_add(w->out, "<i>", 3);
		if (w->want & STYLE_B)
			strbuf_add(w->out, "<b>", 3);
		w->open = w->want;
	}
	strbuf_add(w->out, s, n);
	w->line_has_text = true;
}

static void line_break(struct cue_writer *w)
{
	if (w->line_has_text) {
		close_tags(w);  /* a line break inside a tag is fine in WebVTT, but a blank line is not */
		w->pending_break = true;
	}
	w->pending_space = 0;
}

/* An override block's effect on the styles: \i1 \i0 \b1 \b0 \b<weight> \r. */
static void override(struct cue_writer *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\')
			continue;
		if (i + 1 < n && s[i + 1] == 'r' && (i + 2 >= n || s[i + 2] == '\\' || s[i + 2] == '}')) {
			w->want = 0;
		} else if (i + 2 < n && (s[i + 1] == 'i' || s[i + 1] == 'b') && isdigit((unsigned char)s[i + 2])) {
			unsigned bit = s[i + 1] == 'i' ? STYLE_I : STYLE_B;
			long v = strtol(s + i + 2, NULL, 10);
			if (v == 0 || (bit == STYLE_B && v > 1 && v < 500))
				w->want &= ~bit;
			else
				w->want |= bit;
		}
	}
}

void webvtt_from_ass_text(const char *text, size_t n, struct strbuf *out)
{
	struct cue_writer w = { .out = out, .start = out->len };
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)text[i];
		size_t len;
		if (c == '{') {
			const char *end = memchr(text + i, '}', n - i);
			if (end) {
				override(&w, text + i + 1, (size_t)(end - text - i - 1));
				i = (size_t)(end - text) + 1;
				continue;
			}
		}
		if (c == '\\' && i + 1 < n && (text[i + 1] == 'N' || text[i + 1] == 'n')) {
			line_break(&w);
			i += 2;
			continue;
		}
		if (c == '\\' && i + 1 < n && text[i + 1] == 'h') {
			w.pending_space++;
			i += 2;
			continue;
		}
		if (c == '\r' || c == '\n') {
			line_break(&w);
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			w.pending_space++;
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {  /* control bytes mean nothing in a cue */
			i++;
			continue;
		}
		if (c == '&')
			emit(&w, "&amp;", 5);
		else if (c == '<')
			emit(&w, "&lt;", 4);
		else if (c == '>')
			emit(&w, "&gt;", 4);  /* also keeps "-->" out of a payload */
		else if ((len = utf8_len((const unsigned char *)text + i, n - i)) > 0) {
			emit(&w, text + i, len);
			i += len;
			continue;
		} else
			emit(&w, "\xef\xbf\xbd", 3);
		i++;
	}
	close_tags(&w);
}

const char *webvtt_ass_event_text(const char *line)
{
	const char *p = line;
	int fields = 8;
	if (!strncmp(p, "Dialogue:", 9)) {  /* Layer,Start,End,Style,Name,MarginL,MarginR,MarginV,Effect,Text */
		p += 9;
		fields = 9;
	}
	for (int commas = 0; commas < fields; commas++) {
		p = strchr(p, ',');
		if (!p)
			return NULL;
		p++;
	}
	return p;
}

static const struct {
	const char *two, *three, *alt, *label;
} languages[] = {
	{ "ar", "ara", NULL, "Arabic" },     { "bg", "bul", NULL, "Bulgarian" }, { "ca", "cat", NULL, "Catalan" },
	{ "cs", "ces", "cze", "Czech" },    { "da", "dan", NULL, "Danish" },   { "de", "deu", "ger", "German" },
	{ "el", "ell", "gre", "Greek" },    { "en", "eng", NULL, "English" },  { "es", "spa", NULL, "Spanish" },
	{ "et", "est", NULL, "Estonian" },  { "eu", "eus", "baq", "Basque" }, { "fa", "fas", "per", "Persian" },
	{ "fi", "fin", NULL, "Finnish" },   { "fr", "fra", "fre", "French" }, { "he", "heb", NULL, "Hebrew" },
	{ "hi", "hin", NULL, "Hindi" },     { "hr", "hrv", NULL, "Croatian" }, { "hu", "hun", NULL, "Hungarian" },
	{ "id", "ind", NULL, "Indonesian" }, { "is", "isl", "ice", "Icelandic" }, { "it", "ita", NULL, "Italian" },
	{ "ja", "jpn", NULL, "Japanese" },  { "ko", "kor", NULL, "Korean" },   { "lt", "lit", NULL, "Lithuanian" },
	{ "lv", "lav", NULL, "Latvian" },   { "ms", "msa", "may", "Malay" },  { "nl", "nld", "dut", "Dutch" },
	{ "no", "nor", NULL, "Norwegian" }, { "nb", "nob", NULL, "Norwegian Bokmål" },
	{ "pl", "pol", NULL, "Polish" },    { "pt", "por", NULL, "Portuguese" }, { "ro", "ron", "rum", "Romanian" },
	{ "ru", "rus", NULL, "Russian" },   { "sk", "slk", "slo", "Slovak" }, { "sl", "slv", NULL, "Slovenian" },
	{ "sr", "srp", NULL, "Serbian" },   { "sv", "swe", NULL, "Swedish" },  { "th", "tha", NULL, "Thai" },
	{ "tr", "tur", NULL, "Turkish" },   { "uk", "ukr", NULL, "Ukrainian" }, { "vi", "vie", NULL, "Vietnamese" },
	{ "zh", "zho", "chi", "Chinese" },
};

void webvtt_language(const char *in, char out[8])
{
	char low[4];
	size_t n = in ? strlen(in) : 0;

	snprintf(out, 8, "und");
	if (n < 2 || n > 3)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!isalpha((unsigned char)in[i]))
			return;
		low[i] = (char)tolower((unsigned char)in[i]);
	}
	low[n] = '\0';
	for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
		if (!strcmp(low, languages[i].two) || !strcmp(low, languages[i].three) ||
		    (languages[i].alt && !strcmp(low, languages[i].alt))) {
			snprintf(out, 8, "%s", languages[i].two);
			return;
		}
	snprintf(out, 8, "%s", low);
}

const char *webvtt_language_label(const char *tag)
{
	for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++)
		if (!strcmp(tag, languages[i].two))
			return languages[i].label;
	if (!strcmp(tag, "und"))
		return "Subtitles";
	return tag;
}

bool webvtt_sidecar_match(const char *video, const char *file, char lang[8], uint32_t *flags)
{
	static const char *const exts[] = { "srt", "vtt", "ass", "ssa" };
	const char *dot = strrchr(video, '.'), *ext, *mid;
	size_t base = dot && dot != video ? (size_t)(dot - video) : strlen(video), flen = strlen(file), mlen;
	char part[16];
	bool known = false;

	*flags = 0;
	if (flen <= base + 1 || strncmp(file, video, base) || file[base] != '.')
		return false;
	ext = strrchr(file, '.') + 1;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		known |= !strcasecmp(ext, exts[i]);
	if (!known)
		return false;
	mid = file + base + 1;  /* "", "LANG." or "LANG.forced." before the extension */
	mlen = (size_t)(ext - mid);
	if (mlen == 0) {
		webvtt_language(NULL, lang);
		return true;
	}
	if (mlen >= sizeof(part))
		return false;
	memcpy(part, mid, mlen);
	part[mlen - 1] = '\0';  /* drops the dot before the extension */
	{
		char *f = strchr(part, '.');
		if (f) {
			if (strcasecmp(f + 1, "forced"))
				return false;
			*f = '\0';
			*flags |= INDEX_SUB_FORCED;
		}
	}
	{
		/* "pt-BR" and the like: the primary tag is what players match on. */
		char *dash = strchr(part, '-');
		if (dash)
			*dash = '\0';
	}
	webvtt_language(part, lang);
	return strcmp(lang, "und") || !strcasecmp(part, "und");
}

/* HH:MM:SS.mmm of 90 kHz ticks, rounded to the millisecond, never negative. */
static void put_time(struct strbuf *sb, int64_t t)
{
	int64_t ms = t <= 0 ? 0 : (t * 1000 + PLAN_TIMEBASE / 2) / PLAN_TIMEBASE;
	strbuf_printf(sb, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%03" PRId64, ms / 3600000, ms / 60000 % 60,
		      ms / 1000 % 60, ms % 1000);
}

static void put_cue(struct strbuf *sb, const struct index_subtitle *t, const struct index_cue *c, int64_t shift)
{
	int64_t start = c->start - shift, end = c->end - shift;
	/* Rounding must not make a cue end before it starts. */
	if ((end * 1000 + PLAN_TIMEBASE / 2) / PLAN_TIMEBASE <= (start * 1000 + PLAN_TIMEBASE / 2) / PLAN_TIMEBASE ||
	    end <= 0)
		end = (start > 0 ? start : 0) + PLAN_TIMEBASE / 1000;
	strbuf_add(sb, "\n", 1);
	put_time(sb, start);
	strbuf_add(sb, " --> ", 5);
	put_time(sb, end);
	strbuf_add(sb, "\n", 1);
	strbuf_add(sb, t->text + c->text_off, c->text_len);
	strbuf_add(sb, "\n", 1);
}

void webvtt_segment(const struct index_subtitle *t, const struct plan *p, uint32_t seg, struct strbuf *out)
{
	const struct plan_segment *s = &p->segments[seg];
	bool first = seg == 0, last = seg + 1 == p->nb_segments;

	/* Local 0 is the first segment's start, as in the whole-track file: a source whose first
	 * keyframe lies before its edit's start (negative times) still has no negative cue time. */
	strbuf_printf(out, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%" PRId64 ",LOCAL:00:00:00.000\n",
		      p->ts_offset + p->segments[0].start);
	for (uint32_t i = 0; i < t->nb_cues; i++) {
		const struct index_cue *c = &t->cues[i];
		if ((c->start < s->end || last) && (c->end > s->start || first))
			put_cue(out, t, c, p->segments[0].start);
	}
}

void webvtt_whole(const struct index_subtitle *t, const struct plan *p, struct strbuf *out)
{
	strbuf_printf(out, "WEBVTT\n");
	for (uint32_t i = 0; i < t->nb_cues; i++)
		put_cue(out, t, &t->cues[i], p->segments[0].start);
}

void webvtt_free(struct webvtt_rendition *r, unsigned n)
{
	if (!r)
		return;
	for (unsigned k = 0; k < n; k++) {
		free(r[k].playlist);
		free(r[k].whole);
		free(r[k].segs);
		free(r[k].seg_off);
	}
	free(r);
}

/* The media playlist of a subtitle rendition: the video's segments, EXTINF for EXTINF. */
static int rendition_playlist(const struct plan *p, char **text, size_t *len)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_printf(&sb, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%" PRIu32 "\n"
			   "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n",
		      p->target_duration);
	for (uint32_t i = 0; i < p->nb_segments; i++) {
		char name[NAMING_MAX];
		uint64_t ms = plan_segment_ms(p, i);
		naming_subtitle_segment(i, name);
		strbuf_printf(&sb, "#EXTINF:%" PRIu64 ".%03" PRIu64 ",\n%s\n", ms / 1000, ms % 1000, name);
	}
	strbuf_printf(&sb, "#EXT-X-ENDLIST\n");
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}

void webvtt_track_name(const char *tag, const char *title, const char *unknown, char *name, size_t size)
{
	const char *label = strcmp(tag, "und") ? webvtt_language_label(tag) : unknown;

	if (!title[0])
		snprintf(name, size, "%s", label);
	else if (!strcmp(tag, "und") || strcasestr(title, label))
		snprintf(name, size, "%s", title);
	else
		snprintf(name, size, "%s (%s)", label, title);
}

/* The NAME of rendition k, from its language, its title and whether it is forced, numbered when a
 * rendition before it has the same. */
static void rendition_name(const struct webvtt_rendition *r, unsigned k, char *name, size_t size)
{
	const struct index_subtitle *t = r[k].track;
	unsigned nth = 1;
	size_t len;
	bool dup;

	webvtt_track_name(t->language, t->title, "Subtitles", name, size);
	if ((t->flags & INDEX_SUB_FORCED) && !strcasestr(name, "forced"))
		snprintf(name + strlen(name), size - strlen(name), " (forced)");
	len = strlen(name);
	do {  /* NAME must be unique in the group */
		dup = false;
		for (unsigned j = 0; j < k && !dup; j++)
			dup = !strcmp(r[j].name, name);
		if (dup)
			snprintf(name + len, size - len, " %u", ++nth);
	} while (dup);
}

int webvtt_build(const struct media_index *ix, const struct plan *p, struct webvtt_rendition **out, unsigned *n)
{
	struct webvtt_rendition *r;

	*out = NULL;
	*n = 0;
	if (!ix->nb_subtitles)
		return 0;
	if (!(r = calloc(ix->nb_subtitles, sizeof(*r))))
		return -ENOMEM;
	for (unsigned k = 0; k < ix->nb_subtitles; k++) {
		const struct index_subtitle *t = &ix->subtitles[k];
		struct webvtt_rendition *w = &r[k];
		unsigned same = 0;
		struct strbuf sb;
		size_t len;

		w->track = t;
		for (unsigned j = 0; j < k; j++)
			same += !strcmp(ix->subtitles[j].language, t->language);
		if (same) {
			snprintf(w->folder, sizeof(w->folder), "subs-%s-%u", t->language, same + 1);
			snprintf(w->file, sizeof(w->file), "%s-%u.vtt", t->language, same + 1);
		} else {
			snprintf(w->folder, sizeof(w->folder), "subs-%s", t->language);
			snprintf(w->file, sizeof(w->file), "%s.vtt", t->language);
		}
		rendition_name(r, k, w->name, sizeof(w->name));
		if (rendition_playlist(p, &w->playlist, &w->playlist_len) < 0)
			goto nomem;
		strbuf_init(&sb);
		webvtt_whole(t, p, &sb);
		if (!(w->whole = strbuf_steal(&sb, &w->whole_len)))
			goto nomem;
		if (!(w->seg_off = malloc(sizeof(*w->seg_off) * ((size_t)p->nb_segments + 1))))
			goto nomem;
		strbuf_init(&sb);
		for (uint32_t s = 0; s < p->nb_segments; s++) {
			w->seg_off[s] = sb.len;
			webvtt_segment(t, p, s, &sb);
		}
		w->seg_off[p->nb_segments] = sb.len;
		if (!(w->segs = strbuf_steal(&sb, &len)))
			goto nomem;
	}
	*out = r;
	*n = ix->nb_subtitles;
	return 0;
nomem:
	webvtt_free(r, ix->nb_subtitles);
	return -ENOMEM;
}
