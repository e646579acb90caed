/* Fuzzes the WebVTT text writers with what subtitle files bring: an ASS event line (the Text of
 * any decoded subtitle, SubRip included, passes through webvtt_from_ass_text), a language tag and
 * a sidecar file name. Properties, from webvtt.h and the WebVTT spec:
 * - a cue payload is valid UTF-8 without NUL, holds no "-->" and no blank line (either would end
 *   or break the cue), has no white space at either end, every '&' starts &amp; &lt; or &gt;,
 *   every '<' starts one of <i> </i> <b> </b>, and those tags are balanced and properly nested;
 * - webvtt_ass_event_text answers NULL or a pointer into its line;
 * - a language tag is "und" or 2-3 lower-case letters;
 * - a sidecar match gives such a tag and belongs to the video: the name starts with the video's
 *   name without its extension, then '.'.
 * The input is split at the first two NUL bytes: event text, language, file name (the video's
 * name is fixed). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "index.h"
#include "strbuf.h"
#include "webvtt.h"

/* Length of the UTF-8 sequence at p (at most n bytes), or 0 when it is not a valid one. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	uint32_t c;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void check_payload(const char *s, size_t n)
{
	char stack[64];
	size_t depth = 0;

	FUZZ_CHECK(strlen(s) == n);
	if (n) {
		FUZZ_CHECK(!is_space(s[0]));
		FUZZ_CHECK(!is_space(s[n - 1]));
	}
	FUZZ_CHECK(!strstr(s, "-->"));
	FUZZ_CHECK(!strstr(s, "\n\n"));
	FUZZ_CHECK(!strchr(s, '\r'));  /* a CR is a line end in WebVTT too */
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len((const unsigned char *)s + i, n - i);
		FUZZ_CHECK(l > 0);
		if (s[i] == '&') {
			FUZZ_CHECK(!strncmp(s + i, "&amp;", 5) || !strncmp(s + i, "&lt;", 4) || !strncmp(s + i, "&gt;", 4));
		} else if (s[i] == '<') {
			bool close = s[i + 1] == '/';
			char tag = s[i + 1 + close];
			FUZZ_CHECK(tag == 'i' || tag == 'b');
			FUZZ_CHECK(s[i + 2 + close] == '>');
			if (close) {
				FUZZ_CHECK(depth > 0 && stack[depth - 1] == tag);
				depth--;
			} else {
				FUZZ_CHECK(depth < sizeof(stack));
				stack[depth++] = tag;
			}
			i += 3 + close;
			continue;
		} else {
			FUZZ_CHECK(s[i] != '>');
		}
		i += l;
	}
	FUZZ_CHECK(depth == 0);
}

static void check_language(const char tag[8])
{
	size_t n = strnlen(tag, 8);

	FUZZ_CHECK(n < 8);
	if (!strcmp(tag, "und"))
		return;
	FUZZ_CHECK(n == 2 || n == 3);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(tag[i] >= 'a' && tag[i] <= 'z');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *parts[3] = { "", "", "" };
	char *copy = malloc(size + 1), *p, *end;
	struct strbuf sb;
	size_t len;
	char *text, lang[8];
	uint32_t flags = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	p = copy;
	for (int k = 0; k < 3 && p <= end; k++) {
		parts[k] = p;
		p += strlen(p) + 1;
	}

	/* The event's text alone, and as the Text field of a decoder's event line. */
	strbuf_init(&sb);
	webvtt_from_ass_text(parts[0], strlen(parts[0]), &sb);
	text = strbuf_steal(&sb, &len);
	FUZZ_CHECK(text);
	check_payload(text, len);
	free(text);
	{
		const char *t = webvtt_ass_event_text(parts[0]);
		size_t n0 = strlen(parts[0]);
		FUZZ_CHECK(!t || (t >= parts[0] && t <= parts[0] + n0));
		if (t) {
			strbuf_init(&sb);
			webvtt_from_ass_text(t, strlen(t), &sb);
			text = strbuf_steal(&sb, &len);
			FUZZ_CHECK(text);
			check_payload(text, len);
			free(text);
		}
	}

	webvtt_language(parts[1][0] ? parts[1] : NULL, lang);
	check_language(lang);
	FUZZ_CHECK(webvtt_language_label(lang) != NULL);

	if (webvtt_sidecar_match("film.mp4", parts[2], lang, &flags)) {
		check_language(lang);
		FUZZ_CHECK(!strncmp(parts[2], "film.", 5));
		FUZZ_CHECK(!(flags & ~(uint32_t)INDEX_SUB_FORCED));
	}
	free(copy);
	return 0;
}
