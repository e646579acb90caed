/* Names inside the mount: which source files are videos, and what the path below a video's
 * directory means (master playlist, variant folder, variant playlist, segment N, error.txt).
 * Pure: string work only; the FUSE layer does the walking and the stat calls. */
#ifndef HLSFS_NAMING_H
#define HLSFS_NAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAMING_MASTER "master.m3u8"
#define NAMING_PLAYLIST "index.m3u8"
#define NAMING_IFRAMES "iframes.m3u8"  /* the I-frame playlist of the passthrough variant */
#define NAMING_ERROR "error.txt"
#define NAMING_CYTUBE "cytube.json"
#define NAMING_POSTER "poster.jpg"
#define NAMING_MAX 64  /* longest name we make, NUL included */

/* True when a source file name ends in one of the video extensions (any case): .mp4 .m4v .mov
 * .3gp .3g2 .mkv .webm .ts .m2ts .mts .mpg .mpeg .avi .flv .ogv .wmv. */
bool naming_is_video(const char *name);

/* "seg-00042.ts" for 42 (at least five digits). */
void naming_segment(uint32_t n, char out[NAMING_MAX]);
/* "720p" for a variant of height 720. */
void naming_variant(unsigned height, char out[NAMING_MAX]);
/* "audio-1" for audio rendition 0. */
void naming_rendition(unsigned n, char out[NAMING_MAX]);

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
};

struct naming_inner {
	enum naming_kind kind;
	char variant[NAMING_MAX];  /* for variant dir, playlist and segment */
	uint32_t segment;
};

/* Parses the path below a video directory ("" for the directory itself, "master.m3u8",
 * "cytube.json", "720p", "720p/index.m3u8", "720p/iframes.m3u8", "720p/seg-00003.ts"). Only the canonical spelling of each name
 * is accepted, so one file has one path. Returns 0, or -ENOENT (kind NAMING_NONE). */
int naming_parse_inner(const char *rest, struct naming_inner *out);

#endif
