/* The index's lifetime and its one text cleaner (index.h). Pure, so that whatever decodes or
 * builds an index can use them without linking FFmpeg. */
#include "index.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The length of the well-formed UTF-8 character at s (RFC 3629: no overlong form, no surrogate,
 * nothing above U+10FFFF), or 0. */
static size_t utf8_char(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		   s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

void index_title_clean(const char *in, char out[INDEX_TITLE_MAX])
{
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t o = 0;
	bool space = true;  /* no space first, none doubled */

	while (*s) {
		size_t n = utf8_char(s);
		if (!n) {  /* not UTF-8 (a Latin-1 tag): the byte is left out */
			s++;
			continue;
		}
		if (n == 1 && (*s <= 0x20 || *s == 0x7f)) {
			if (!space && o + 1 < INDEX_TITLE_MAX)
				out[o++] = ' ';
			space = true;
			s++;
			continue;
		}
		if (n == 1 && (*s == '"' || *s == '\'')) {
			/* A NAME="..." holds no '"'; and hls-parser, as several tools built on it, splits
			 * an attribute list wrongly at a "'" inside a quoted string. Both become U+2019. */
			if (o + 3 >= INDEX_TITLE_MAX)
				break;
			memcpy(out + o, "\xe2\x80\x99", 3);
			o += 3;
			space = false;
			s++;
			continue;
		}
		if (o + n >= INDEX_TITLE_MAX)
			break;  /* cut between characters */
		memcpy(out + o, s, n);
		o += n;
		space = false;
		s += n;
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

void index_free(struct media_index *ix)
{
	if (!ix)
		return;
	free(ix->video.extradata);
	free(ix->video.samples);
	free(ix->audio.extradata);
	free(ix->audio.samples);
	for (unsigned k = 0; k < ix->nb_renditions; k++) {
		free(ix->renditions[k].extradata);
		free(ix->renditions[k].samples);
	}
	free(ix->note);
	free(ix->title);
	free(ix->poster);
	for (unsigned k = 0; k < ix->nb_subtitles; k++) {
		free(ix->subtitles[k].cues);
		free(ix->subtitles[k].text);
	}
	free(ix);
}
