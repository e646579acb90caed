/* WebVTT text: cue payloads from ASS events (styles kept and nested, escapes, no blank line, no
 * "-->", invalid UTF-8 replaced), sidecar names, language tags, and the segment files' timestamp
 * map and boundary rule on a hand-made plan. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "webvtt.h"

static char *conv(const char *ass)
{
	struct strbuf sb;
	size_t n;
	strbuf_init(&sb);
	webvtt_from_ass_text(ass, strlen(ass), &sb);
	strbuf_add(&sb, "", 1);  /* makes "" non-NULL */
	return strbuf_steal(&sb, &n);
}

#define CONV_EQ(in, want) do { \
	char *_s = conv(in); \
	CHECK(_s && !strcmp(_s, want)); \
	if (_s && strcmp(_s, want)) \
		fprintf(stderr, "  got [%s] want [%s]\n", _s, want); \
	free(_s); \
} while (0)

int main(void)
{
	char lang[8];
	uint32_t flags;

	CONV_EQ("Hello {\\i1}world{\\i0}\\Nsecond line", "Hello <i>world</i>\nsecond line");
	CONV_EQ("{\\b1}Bold{\\b0} & <x> -->", "<b>Bold</b> &amp; &lt;x&gt; --&gt;");
	CONV_EQ("{\\i1}a\\Nb{\\i0}", "<i>a</i>\n<i>b</i>");
	CONV_EQ("{\\i1}x{\\b1}y{\\i0}z", "<i>x</i><i><b>y</b></i><b>z</b>");
	CONV_EQ("  one\\N\\N\\Ntwo  ", "one\ntwo");
	CONV_EQ("{\\pos(10,20)\\an8}top\\hword", "top word");
	CONV_EQ("bad \xff byte", "bad \xef\xbf\xbd byte");
	CONV_EQ("{\\i1}{\\i0}", "");
	CHECK(!strcmp(webvtt_ass_event_text("0,0,Default,,0,0,0,,Hi, there"), "Hi, there"));
	CHECK(!strcmp(webvtt_ass_event_text("Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Yo"), "Yo"));
	CHECK(webvtt_ass_event_text("0,0,Default") == NULL);

	webvtt_language("eng", lang);
	CHECK(!strcmp(lang, "en"));
	webvtt_language("FRE", lang);
	CHECK(!strcmp(lang, "fr"));
	webvtt_language("tlh", lang);
	CHECK(!strcmp(lang, "tlh"));
	webvtt_language("e1", lang);
	CHECK(!strcmp(lang, "und"));
	webvtt_language(NULL, lang);
	CHECK(!strcmp(lang, "und"));

	CHECK(webvtt_sidecar_match("film.mp4", "film.srt", lang, &flags) && !strcmp(lang, "und") && flags == 0);
	CHECK(webvtt_sidecar_match("film.mp4", "film.fr.srt", lang, &flags) && !strcmp(lang, "fr") && flags == 0);
	CHECK(webvtt_sidecar_match("film.mp4", "film.ger.forced.ASS", lang, &flags) && !strcmp(lang, "de") &&
	      flags == INDEX_SUB_FORCED);
	CHECK(webvtt_sidecar_match("film.mp4", "film.pt-BR.vtt", lang, &flags) && !strcmp(lang, "pt"));
	CHECK(!webvtt_sidecar_match("film.mp4", "film2.srt", lang, &flags));
	CHECK(!webvtt_sidecar_match("film.mp4", "film.mp4.srt", lang, &flags));  /* "mp4" is no language */
	CHECK(!webvtt_sidecar_match("film.mp4", "film.fr.txt", lang, &flags));
	CHECK(!webvtt_sidecar_match("film.mp4", "film.fr.extra.srt", lang, &flags));
	CHECK(!webvtt_sidecar_match("film.mp4", "film.", lang, &flags));

	{
		/* Two segments, 0-6 s and 6-10 s; a cue across 6 s is in both, the timestamp map is the offset. */
		struct plan_segment segs[2] = { { .start = 0, .end = 540000 }, { .start = 540000, .end = 900000 } };
		struct plan p = { .nb_segments = 2, .segments = segs, .ts_offset = 900000, .target_duration = 6 };
		char text[] = "firstacrosslast";
		struct index_cue cues[3] = { { 90000, 180000, 0, 5 }, { 500000, 600000, 5, 6 }, { 700000, 2000000, 11, 4 } };
		struct index_subtitle t = { .language = "en", .nb_cues = 3, .cues = cues, .text = text, .text_size = 15 };
		struct strbuf sb;
		size_t n;
		char *s;
		strbuf_init(&sb);
		webvtt_segment(&t, &p, 0, &sb);
		s = strbuf_steal(&sb, &n);
		CHECK(!strncmp(s, "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n", 56));
		CHECK(strstr(s, "00:00:01.000 --> 00:00:02.000\nfirst\n") && strstr(s, "across") && !strstr(s, "last"));
		free(s);
		strbuf_init(&sb);
		webvtt_segment(&t, &p, 1, &sb);
		s = strbuf_steal(&sb, &n);
		CHECK(!strstr(s, "first") && strstr(s, "00:00:05.556 --> 00:00:06.667\nacross\n") &&
		      strstr(s, "00:00:07.778 --> 00:00:22.222\nlast\n"));
		free(s);
	}
	/* Track titles (index_title_clean) and the NAMEs made of them. */
	{
		char t[INDEX_TITLE_MAX], name[128];
		static const struct { const char *in, *want; } titles[] = {
			{ NULL, "" },
			{ "  Signs\t&\r\n  Songs  ", "Signs & Songs" },
			{ "Director's \"cut\"", "Director\xe2\x80\x99s \xe2\x80\x99" "cut\xe2\x80\x99" },
			{ "Gro\xdf \xc3\xa9t\xc3\xa9 \xed\xa0\x80x \xc0\xafy", "Gro \xc3\xa9t\xc3\xa9 x y" },
			{ "\x7f\x01", "" },
		};
		for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
			index_title_clean(titles[i].in, t);
			CHECK(!strcmp(t, titles[i].want));
			if (strcmp(t, titles[i].want))
				fprintf(stderr, "  title %zu: got [%s] want [%s]\n", i, t, titles[i].want);
		}
		/* Cut between characters: 46 bytes of "a", then a 2-byte character that does not fit. */
		char longer[64];
		memset(longer, 'a', 46);
		memcpy(longer + 46, "\xc3\xa9z", 4);
		index_title_clean(longer, t);
		CHECK_EQ(strlen(t), 46);
		memset(longer, 'a', 45);
		memcpy(longer + 45, "\xc3\xa9z", 4);
		index_title_clean(longer, t);
		CHECK_EQ(strlen(t), 47);
		CHECK(!strcmp(t + 45, "\xc3\xa9"));

		webvtt_track_name("en", "", "Subtitles", name, sizeof(name));
		CHECK(!strcmp(name, "English"));
		webvtt_track_name("en", "Signs & Songs", "Subtitles", name, sizeof(name));
		CHECK(!strcmp(name, "English (Signs & Songs)"));
		webvtt_track_name("en", "english SDH", "Subtitles", name, sizeof(name));
		CHECK(!strcmp(name, "english SDH"));
		webvtt_track_name("und", "Commentary", "Audio 2", name, sizeof(name));
		CHECK(!strcmp(name, "Commentary"));
		webvtt_track_name("und", "", "Audio 2", name, sizeof(name));
		CHECK(!strcmp(name, "Audio 2"));
	}
	return check_report("webvtt");
}
