/* CyTube custom-media manifests (calzoneman/sync docs/custom-media.md): the JSON a CyTube room
 * is given to play a video from our mount. Pure: no I/O. */
#ifndef HLSFS_CYTUBE_H
#define HLSFS_CYTUBE_H

#include <stdbool.h>
#include <stddef.h>

/* Checks a base_url: https, a host name (no IP literal, no user info). Returns 0 or -EINVAL. */
int cytube_check_base_url(const char *url);

/* The manifest of the video at rel_path (its path below the mount root, '/'-separated) whose
 * master playlist is served at base_url/rel_path/master.m3u8. title is the metadata title or
 * NULL (then the file name without its extension), duration in milliseconds, top_height the
 * tallest variant's height. Returns 0 with *text (free() it), or -ENOMEM. */
int cytube_manifest(const char *base_url, const char *rel_path, const char *title, unsigned long long duration_ms,
		    unsigned top_height, char **text, size_t *len);

/* A text track of the manifest: the whole-track WebVTT file below the video's folder
 * ("subtitles/en.vtt") and the name the viewer picks it by. */
struct cytube_text_track {
	const char *path;
	const char *name;
};

/* cytube_manifest with more: "thumbnail" (the video's poster.jpg) when poster is true, and
 * "textTracks" for the n tracks (contentType text/vtt; no "default" key: CyTube's validator
 * refuses false, and leaving it out lets the viewer choose). */
int cytube_manifest_full(const char *base_url, const char *rel_path, const char *title, unsigned long long duration_ms,
			 unsigned top_height, bool poster, const struct cytube_text_track *tracks, unsigned n, char **text,
			 size_t *len);

#endif
