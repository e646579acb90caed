/* Mount path names. Canonical only: "seg-7.ts" or "seg-000007.ts" are not segment 7, so every
 * file has exactly one name and caches never hold two copies of it. */
#include "naming.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The one list of video extensions: local folders, link files and remote listings all ask here.
 * Whether a file of the list can be served is the indexer's question, answered in error.txt. */
static const char *const video_ext[] = {
	".mp4", ".m4v", ".mov", ".3gp", ".3g2",          /* MP4/MOV family */
	".mkv", ".webm",                                 /* Matroska */
	".ts", ".m2ts", ".mts", ".mpg", ".mpeg",         /* MPEG transport and program streams */
	".avi", ".flv", ".ogv", ".wmv",
};

bool naming_is_video(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(video_ext) / sizeof(video_ext[0]); i++) {
		size_t e = strlen(video_ext[i]);
		if (n > e && !strcasecmp(name + n - e, video_ext[i]))
			return true;
	}
	return false;
}

void naming_segment(uint32_t n, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "seg-%05u.ts", n);
}

void naming_variant(unsigned height, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "%up", height);
}

void naming_rendition(unsigned n, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "audio-%u", n + 1);
}

static int parse_segment(const char *name, uint32_t *n)
{
	char canon[NAMING_MAX];
	unsigned long v = 0;
	size_t len = strlen(name);

	if (len < 9 || len >= NAMING_MAX || strncmp(name, "seg-", 4) || strcmp(name + len - 3, ".ts"))
		return -ENOENT;
	for (size_t i = 4; i < len - 3; i++) {
		if (name[i] < '0' || name[i] > '9' || v > UINT32_MAX / 10)
			return -ENOENT;
		v = v * 10 + (unsigned long)(name[i] - '0');
	}
	if (v > UINT32_MAX)
		return -ENOENT;
	naming_segment((uint32_t)v, canon);
	if (strcmp(canon, name))
		return -ENOENT;
	*n = (uint32_t)v;
	return 0;
}

static bool is_variant_name(const char *s, size_t len)
{
	/* "audio-N", N from 1 without a leading zero */
	if (len > 6 && len < 16 && !strncmp(s, "audio-", 6) && s[6] != '0') {
		for (size_t i = 6; i < len; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
		return true;
	}
	/* digits then 'p', no leading zero */
	if (len < 2 || len >= NAMING_MAX || s[len - 1] != 'p' || s[0] == '0')
		return false;
	for (size_t i = 0; i < len - 1; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int naming_parse_inner(const char *rest, struct naming_inner *out)
{
	const char *slash;
	size_t vlen;

	memset(out, 0, sizeof(*out));
	if (rest[0] == '\0') {
		out->kind = NAMING_VIDEO_DIR;
		return 0;
	}
	if (!strcmp(rest, NAMING_MASTER)) {
		out->kind = NAMING_MASTER_FILE;
		return 0;
	}
	if (!strcmp(rest, NAMING_ERROR)) {
		out->kind = NAMING_ERROR_FILE;
		return 0;
	}
	if (!strcmp(rest, NAMING_CYTUBE)) {
		out->kind = NAMING_CYTUBE_FILE;
		return 0;
	}
	if (!strcmp(rest, NAMING_POSTER)) {
		out->kind = NAMING_POSTER_FILE;
		return 0;
	}
	slash = strchr(rest, '/');
	vlen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (!is_variant_name(rest, vlen))
		return -ENOENT;
	memcpy(out->variant, rest, vlen);
	out->variant[vlen] = '\0';
	if (!slash) {
		out->kind = NAMING_VARIANT_DIR;
		return 0;
	}
	if (!strcmp(slash + 1, NAMING_PLAYLIST)) {
		out->kind = NAMING_PLAYLIST_FILE;
		return 0;
	}
	if (!strcmp(slash + 1, NAMING_IFRAMES)) {
		out->kind = NAMING_IFRAMES_FILE;
		return 0;
	}
	if (parse_segment(slash + 1, &out->segment) == 0) {
		out->kind = NAMING_SEGMENT_FILE;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -ENOENT;
}
