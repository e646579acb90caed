/* Names inside the mount: which source files are videos, and what the path below a video's
 * directory means (master playlist, variant folder, variant playlist, segment N, error.txt).
 * Pure: string work only; the FUSE layer does the walking and the stat calls. */
#ifndef HLSFS_NAMING_H
#define HLSFS_NAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

#define NAMING_MASTER "master.m3u8"
#define NAMING_PLAYLIST "index.m3u8"
#define NAMING_IFRAMES "iframes.m3u8"  /* the I-frame playlist of the passthrough variant */
#define NAMING_ERROR "error.txt"
#define NAMING_CYTUBE "cytube.json"
#define NAMING_POSTER "poster.jpg"
#define NAMING_SUBTITLES "subtitles"  /* whole subtitle tracks: subtitles/LANG.vtt */
#define NAMING_THUMBS "thumbs"        /* scrubbing previews: thumbs/thumbs.vtt and sprite sheets */
#define NAMING_THUMBS_VTT "thumbs.vtt"
#define NAMING_MAX 64  /* longest name we make, NUL included */

/* True when a source file name ends in one of the video extensions (any case): .mp4 .m4v .mov
 * .3gp .3g2 .mkv .webm .ts .m2ts .mts .mpg .mpeg .avi .flv .ogv .wmv. */
bool naming_is_video(const char *name);

/* The version every segment name of a source carries: NAMING_VERSION_LEN lowercase hex digits of a
 * hash of the source identity and of config, the fingerprint of everything else that shapes the
 * bytes (segment format, plan and ladder, encoder and its settings, FFmpeg and x264 versions). The
 * one place a version is made: a replaced source or another configuration gives other segment
 * names, so a name that a browser or CDN keeps as immutable never names other bytes.
 * Of the identity, size, mtime and tag (remote: URL and ETag) count; inode and device do not, so
 * that nodes reading one archive over NFS, or copies made with their times kept, agree on the
 * names. A source that grows (a recording being written) gets a stable version by being given an
 * identity that does not change while it grows. */
#define NAMING_VERSION_LEN 8
void naming_version(const struct source_identity *id, const char *config, char out[NAMING_VERSION_LEN + 1]);

/* "seg-00042-1a2b3c4d.ts" for 42 of version "1a2b3c4d" (at least five digits). */
void naming_segment(uint32_t n, const char *version, char out[NAMING_MAX]);
/* "720p" for a variant of height 720. */
void naming_variant(unsigned height, char out[NAMING_MAX]);
/* "audio-1" for audio rendition 0. */
void naming_rendition(unsigned n, char out[NAMING_MAX]);

/* "seg-00042.vtt": segment 42 of a subtitle rendition. */
void naming_subtitle_segment(uint32_t n, char out[NAMING_MAX]);
/* "sprite-003.jpg": sprite sheet 3 of the scrubbing previews. */
void naming_sprite(uint32_t n, char out[NAMING_MAX]);

enum naming_kind {
	NAMING_NONE = 0,     /* not a name we make */
	NAMING_VIDEO_DIR,    /* the video's own directory */
	NAMING_MASTER_FILE,
	NAMING_ERROR_FILE,
	NAMING_CYTUBE_FILE,
	NAMING_POSTER_FILE,
	NAMING_VARIANT_DIR,
	NAMING_PLAYLIST_FILE,
	NAMING_IFRAMES_FILE,
	NAMING_SEGMENT_FILE,
	NAMING_SUBS_DIR,         /* subs-LANG: variant holds its folder name */
	NAMING_SUBS_PLAYLIST,    /* subs-LANG/index.m3u8 */
	NAMING_SUBS_SEGMENT,     /* subs-LANG/seg-NNNNN.vtt */
	NAMING_SUBTITLES_DIR,    /* subtitles */
	NAMING_SUBTITLES_FILE,   /* subtitles/LANG.vtt: variant holds "LANG.vtt" */
	NAMING_THUMBS_DIR,       /* thumbs */
	NAMING_THUMBS_VTT_FILE,  /* thumbs/thumbs.vtt */
	NAMING_SPRITE_FILE,      /* thumbs/sprite-NNN.jpg: segment holds N */
};

struct naming_inner {
	enum naming_kind kind;
	char variant[NAMING_MAX];  /* for variant dir, playlist and segment */
	uint32_t segment;
	char version[NAMING_VERSION_LEN + 1];  /* for a segment: the version its name carries */
};

/* Parses the path below a video directory ("" for the directory itself, "master.m3u8",
 * "cytube.json", "720p", "720p/index.m3u8", "720p/iframes.m3u8", "720p/seg-00003-1a2b3c4d.ts",
 * "subs-en/index.m3u8", "subs-en/seg-00003.vtt", "subtitles/en.vtt", "thumbs/thumbs.vtt",
 * "thumbs/sprite-000.jpg"). Only the canonical spelling of each name is accepted, so one file has one
 * path; whether a segment's version is the source's current one is the caller's question (another
 * version is no file). Returns 0, or -ENOENT (kind NAMING_NONE). */
int naming_parse_inner(const char *rest, struct naming_inner *out);

#endif
