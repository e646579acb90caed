/* Fuzzes the mount's path names: every name naming_parse_inner accepts must be the one
 * naming_segment/naming_variant/naming_rendition make for the values it parsed (one file, one
 * path), rejections leave NAMING_NONE, names we make parse back to their values, and
 * naming_is_video agrees with a plain suffix check. */
#include <errno.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "naming.h"

static bool ref_is_video(const char *name)
{
	/* Written out again here (not taken from naming.c) so that the two can disagree. */
	static const char *const ext[] = { "mp4", "m4v", "mov", "3gp", "3g2", "mkv", "webm", "ts", "m2ts", "mts",
					   "mpg", "mpeg", "vob", "avi", "flv", "ogv", "wmv", "asf" };
	const char *dot = strrchr(name, '.');

	if (!dot || dot == name)
		return false;  /* no extension, or a name that is only one */
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (!strcasecmp(dot + 1, ext[i]))
			return true;
	return false;
}

/* Whether a variant folder name is the one naming_variant (height, "720p") or naming_rendition
 * (audio rendition, "audio-1") makes for the number it spells. */
static bool variant_rebuilds(const char *variant)
{
	char canon[NAMING_MAX];
	unsigned long long v = 0;
	size_t len = strlen(variant), from = 0, to = len;
	bool audio = !strncmp(variant, "audio-", 6);

	if (audio) {
		from = 6;
	} else {
		FUZZ_CHECK(len >= 2 && variant[len - 1] == 'p');
		to = len - 1;
	}
	FUZZ_CHECK(to > from);
	for (size_t i = from; i < to; i++) {
		FUZZ_CHECK(variant[i] >= '0' && variant[i] <= '9');
		if (v > 0xffffffffull)
			return true;  /* no height or rendition makes it, so no folder has it: lookups miss */
		v = v * 10 + (unsigned)(variant[i] - '0');
	}
	if (v > 0xffffffffull)
		return true;
	if (audio) {
		if (v == 0)
			return false;  /* renditions count from 1 */
		naming_rendition((unsigned)(v - 1), canon);
	} else {
		naming_variant((unsigned)v, canon);
	}
	return strcmp(canon, variant) == 0;
}

static void check_parse(const char *s)
{
	struct naming_inner in;
	char rebuilt[3 * NAMING_MAX], seg[NAMING_MAX];
	int ret;

	memset(&in, 0x5a, sizeof(in));
	ret = naming_parse_inner(s, &in);
	if (ret < 0) {
		FUZZ_CHECK(ret == -ENOENT);
		FUZZ_CHECK(in.kind == NAMING_NONE);
		return;
	}
	FUZZ_CHECK(ret == 0);
	FUZZ_CHECK(memchr(in.variant, '\0', sizeof(in.variant)) != NULL);
	switch (in.kind) {
	case NAMING_VIDEO_DIR:
		rebuilt[0] = '\0';
		break;
	case NAMING_MASTER_FILE:
		snprintf(rebuilt, sizeof(rebuilt), "%s", NAMING_MASTER);
		break;
	case NAMING_ERROR_FILE:
		snprintf(rebuilt, sizeof(rebuilt), "%s", NAMING_ERROR);
		break;
	case NAMING_CYTUBE_FILE:
		snprintf(rebuilt, sizeof(rebuilt), "%s", NAMING_CYTUBE);
		break;
	case NAMING_POSTER_FILE:
		snprintf(rebuilt, sizeof(rebuilt), "%s", NAMING_POSTER);
		break;
	case NAMING_VARIANT_DIR:
		FUZZ_CHECK(variant_rebuilds(in.variant));
		snprintf(rebuilt, sizeof(rebuilt), "%s", in.variant);
		break;
	case NAMING_PLAYLIST_FILE:
		FUZZ_CHECK(variant_rebuilds(in.variant));
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", in.variant, NAMING_PLAYLIST);
		break;
	case NAMING_IFRAMES_FILE:
		FUZZ_CHECK(variant_rebuilds(in.variant));
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", in.variant, NAMING_IFRAMES);
		break;
	case NAMING_SEGMENT_FILE:
		FUZZ_CHECK(variant_rebuilds(in.variant));
		FUZZ_CHECK(strlen(in.version) == NAMING_VERSION_LEN);
		naming_segment(in.segment, in.version, seg);
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", in.variant, seg);
		break;
	case NAMING_SUBS_DIR:
		FUZZ_CHECK(!strncmp(in.variant, "subs-", 5));
		snprintf(rebuilt, sizeof(rebuilt), "%s", in.variant);
		break;
	case NAMING_SUBS_PLAYLIST:
		FUZZ_CHECK(!strncmp(in.variant, "subs-", 5));
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", in.variant, NAMING_PLAYLIST);
		break;
	case NAMING_SUBS_SEGMENT:
		FUZZ_CHECK(!strncmp(in.variant, "subs-", 5));
		naming_subtitle_segment(in.segment, seg);
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", in.variant, seg);
		break;
	case NAMING_SUBTITLES_DIR:
		snprintf(rebuilt, sizeof(rebuilt), "%s", NAMING_SUBTITLES);
		break;
	case NAMING_SUBTITLES_FILE:
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", NAMING_SUBTITLES, in.variant);
		break;
	case NAMING_THUMBS_DIR:
		snprintf(rebuilt, sizeof(rebuilt), "%s", NAMING_THUMBS);
		break;
	case NAMING_THUMBS_VTT_FILE:
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", NAMING_THUMBS, NAMING_THUMBS_VTT);
		break;
	case NAMING_SPRITE_FILE:
		naming_sprite(in.segment, seg);
		snprintf(rebuilt, sizeof(rebuilt), "%s/%s", NAMING_THUMBS, seg);
		break;
	default:
		/* a kind added to naming.h: teach this harness its canonical name */
		FUZZ_CHECK(!"a kind this harness does not know");
	}
	if (strcmp(rebuilt, s)) {
		fprintf(stderr, "accepted \"%s\" (kind %d) but its canonical name is \"%s\"\n", s, (int)in.kind, rebuilt);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct fz f;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_parse(s);
	FUZZ_CHECK(naming_is_video(s) == ref_is_video(s));
	free(s);

	/* The other direction: names we make parse back to their values. */
	fz_init(&f, data, size);
	{
		uint32_t n = fz_u32(&f);
		unsigned h = fz_u32(&f);
		char seg[NAMING_MAX], var[NAMING_MAX], path[3 * NAMING_MAX];
		struct naming_inner in;

		naming_segment(n, "0123abcd", seg);
		naming_variant(h, var);
		snprintf(path, sizeof(path), "%s/%s", var, seg);
		if (h == 0) {
			/* "0p": no video has height 0, and a leading zero is never canonical */
			FUZZ_CHECK(naming_parse_inner(path, &in) == -ENOENT);
		} else {
			FUZZ_CHECK(naming_parse_inner(path, &in) == 0);
			FUZZ_CHECK(in.kind == NAMING_SEGMENT_FILE && in.segment == n && !strcmp(in.variant, var) &&
				   !strcmp(in.version, "0123abcd"));
			FUZZ_CHECK(naming_parse_inner(var, &in) == 0 && in.kind == NAMING_VARIANT_DIR);
			snprintf(path, sizeof(path), "%s/%s", var, NAMING_PLAYLIST);
			FUZZ_CHECK(naming_parse_inner(path, &in) == 0 && in.kind == NAMING_PLAYLIST_FILE);
		}
	}
	{
		/* audio renditions are folders too, with playlists and segments */
		unsigned r = fz_u32(&f) % 1000000;
		uint32_t n = fz_u32(&f);
		char seg[NAMING_MAX], var[NAMING_MAX], path[3 * NAMING_MAX];
		struct naming_inner in;

		naming_rendition(r, var);
		FUZZ_CHECK(naming_parse_inner(var, &in) == 0 && in.kind == NAMING_VARIANT_DIR && !strcmp(in.variant, var));
		naming_segment(n, "ffffffff", seg);
		snprintf(path, sizeof(path), "%s/%s", var, seg);
		FUZZ_CHECK(naming_parse_inner(path, &in) == 0 && in.kind == NAMING_SEGMENT_FILE && in.segment == n);
	}
	return 0;
}
