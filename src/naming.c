/* Mount path names. Canonical only: "seg-7.ts" or "seg-000007.ts" are not segment 7, so every
 * file has exactly one name and caches never hold two copies of it. */
#include "naming.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hash.h"

/* The one list of video extensions: local folders, link files and remote listings all ask here.
 * Whether a file of the list can be served is the indexer's question, answered in error.txt. */
static const char *const video_ext[] = {
	".mp4", ".m4v", ".mov", ".3gp", ".3g2",          /* MP4/MOV family */
	".mkv", ".webm",                                 /* Matroska */
	".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".vob", /* MPEG transport and program streams */
	".avi", ".flv", ".ogv", ".wmv", ".asf",
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

void naming_version(const struct source_identity *id, const char *config, char out[NAMING_VERSION_LEN + 1])
{
	char mat[1024];
	int n = snprintf(mat, sizeof(mat), "v1|%llu|%lld|%llx|%s", (unsigned long long)id->size,
			 (long long)id->mtime_ns, (unsigned long long)id->tag, config ? config : "");
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(mat) ? (size_t)n : sizeof(mat) - 1;

	snprintf(out, NAMING_VERSION_LEN + 1, "%08llx", (unsigned long long)(hash_fnv1a(mat, len, 0) & 0xffffffffull));
}

void naming_segment(uint32_t n, const char *version, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "seg-%05u-%.*s.ts", n, NAMING_VERSION_LEN, version);
}

void naming_variant(unsigned height, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "%up", height);
}

void naming_rendition(unsigned n, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "audio-%u", n + 1);
}

void naming_subtitle_segment(uint32_t n, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "seg-%05u.vtt", n);
}

void naming_sprite(uint32_t n, char out[NAMING_MAX])
{
	snprintf(out, NAMING_MAX, "sprite-%03u.jpg", n);
}

/* A canonical number between prefix and suffix, as fmt writes it. */
static int parse_numbered(const char *name, const char *prefix, const char *suffix,
			  void (*fmt)(uint32_t, char[NAMING_MAX]), uint32_t *n)
{
	char canon[NAMING_MAX];
	size_t len = strlen(name), pl = strlen(prefix), sl = strlen(suffix);
	unsigned long v = 0;

	if (len <= pl + sl || len >= NAMING_MAX || strncmp(name, prefix, pl) || strcmp(name + len - sl, suffix))
		return -ENOENT;
	for (size_t i = pl; i < len - sl; i++) {
		if (name[i] < '0' || name[i] > '9' || v > UINT32_MAX / 10)
			return -ENOENT;
		v = v * 10 + (unsigned long)(name[i] - '0');
	}
	if (v > UINT32_MAX)
		return -ENOENT;
	fmt((uint32_t)v, canon);
	if (strcmp(canon, name))
		return -ENOENT;
	*n = (uint32_t)v;
	return 0;
}

/* "subs-" then a language tag, maybe "-N": lower-case letters, digits and dashes. */
static bool is_subs_name(const char *s, size_t len)
{
	if (len <= 5 || len >= 32 || strncmp(s, "subs-", 5))
		return false;
	for (size_t i = 5; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* The subtitle and preview names below a video folder; -ENOENT for any other. */
static int parse_extras(const char *rest, struct naming_inner *out)
{
	const char *slash = strchr(rest, '/');
	size_t dlen = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *file = slash ? slash + 1 : NULL;

	if (is_subs_name(rest, dlen)) {
		memcpy(out->variant, rest, dlen);
		out->variant[dlen] = '\0';
		if (!file)
			out->kind = NAMING_SUBS_DIR;
		else if (!strcmp(file, NAMING_PLAYLIST))
			out->kind = NAMING_SUBS_PLAYLIST;
		else if (parse_numbered(file, "seg-", ".vtt", naming_subtitle_segment, &out->segment) == 0)
			out->kind = NAMING_SUBS_SEGMENT;
		else
			return -ENOENT;
		return 0;
	}
	if (dlen == strlen(NAMING_SUBTITLES) && !strncmp(rest, NAMING_SUBTITLES, dlen)) {
		size_t fl = file ? strlen(file) : 0;
		if (!file) {
			out->kind = NAMING_SUBTITLES_DIR;
			return 0;
		}
		if (fl <= 4 || fl >= 32 || strcmp(file + fl - 4, ".vtt") || strchr(file, '/'))
			return -ENOENT;
		snprintf(out->variant, sizeof(out->variant), "%s", file);
		out->kind = NAMING_SUBTITLES_FILE;
		return 0;
	}
	if (dlen == strlen(NAMING_THUMBS) && !strncmp(rest, NAMING_THUMBS, dlen)) {
		if (!file)
			out->kind = NAMING_THUMBS_DIR;
		else if (!strcmp(file, NAMING_THUMBS_VTT))
			out->kind = NAMING_THUMBS_VTT_FILE;
		else if (parse_numbered(file, "sprite-", ".jpg", naming_sprite, &out->segment) == 0)
			out->kind = NAMING_SPRITE_FILE;
		else
			return -ENOENT;
		return 0;
	}
	return -ENOENT;
}

static int parse_segment(const char *name, uint32_t *n, char version[NAMING_VERSION_LEN + 1])
{
	char canon[NAMING_MAX];
	unsigned long v = 0;
	size_t len = strlen(name), digits_end;

	if (len < 10 + NAMING_VERSION_LEN || len >= NAMING_MAX || strncmp(name, "seg-", 4) ||
	    strcmp(name + len - 3, ".ts") || name[len - 4 - NAMING_VERSION_LEN] != '-')
		return -ENOENT;
	digits_end = len - 4 - NAMING_VERSION_LEN;
	for (size_t i = digits_end + 1; i < len - 3; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return -ENOENT;
	memcpy(version, name + digits_end + 1, NAMING_VERSION_LEN);
	version[NAMING_VERSION_LEN] = '\0';
	for (size_t i = 4; i < digits_end; i++) {
		if (name[i] < '0' || name[i] > '9' || v > UINT32_MAX / 10)
			return -ENOENT;
		v = v * 10 + (unsigned long)(name[i] - '0');
	}
	if (v > UINT32_MAX)
		return -ENOENT;
	naming_segment((uint32_t)v, version, canon);
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
	if (parse_extras(rest, out) == 0)
		return 0;
	memset(out, 0, sizeof(*out));
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
	if (parse_segment(slash + 1, &out->segment, out->version) == 0) {
		out->kind = NAMING_SEGMENT_FILE;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -ENOENT;
}
