/* A source as the mount sees it: its identity, index, plan and playlist texts, or the reason
 * it cannot be served. Media are built once per identity and shared (refcounted) by every
 * lookup and open file; a source whose identity changed gets a new media, and the old one
 * lives on only for the files already open on it. */
#ifndef HLSFS_MEDIA_H
#define HLSFS_MEDIA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "index.h"
#include "naming.h"
#include "plan.h"
#include "source.h"
#include "thumbs.h"
#include "webvtt.h"

struct media {
	char *path;                 /* source path */
	struct source_identity id;
	char version[NAMING_VERSION_LEN + 1];  /* of its segment names: naming_version(id, configuration) */
	int error;                  /* 0, or why the video cannot be served (negative errno) */
	char *error_text;           /* error.txt, when error */
	size_t error_len;
	struct media_index *ix;
	struct plan *plan;
	unsigned nb_variants;       /* passthrough (if any), rungs, then audio renditions */
	char variants[PLAN_MAX_RUNGS + 1 + INDEX_MAX_RENDITIONS][NAMING_MAX];  /* their folder names */
	char *master;
	size_t master_len;
	char *playlist;             /* the media playlist: the same text for every variant */
	size_t playlist_len;
	char *iframes;              /* the passthrough's I-frame playlist, or NULL without passthrough */
	size_t iframes_len;
	char *cytube;               /* cytube.json, when base_url is set */
	size_t cytube_len;
	uint64_t sidecars;          /* subtitle_sidecar_tag() when built: a change means a new media */
	unsigned nb_subs;           /* subtitle renditions (subs-LANG/, subtitles/LANG.vtt) */
	struct webvtt_rendition *subs;
	struct thumbs *thumbs;      /* thumbs/: previews planned, sheets made on first stat or open */
	/* poster.jpg: ix->poster, made on its first stat or open (media_poster) and then kept in
	 * the persistent index; poster_lock guards it and no_poster (its frame does not decode). */
	pthread_mutex_t poster_lock;
	bool no_poster;
	/* A recording being written (a local file changed within growing_idle seconds whose writer
	 * has not closed it): served from its complete part. id is then its growing identity
	 * (identity_growing: stable while it grows), the plan holds only the segments whose end is
	 * known, the playlists are EVENT without ENDLIST, and the master stays that of its first
	 * part. Each growth is a new media; a segment listed by one keeps its bytes in the next. */
	bool growing;
	struct source_identity seen;  /* growing: the file as stat saw it when this was built */
	uint32_t target_duration;     /* growing: EXT-X-TARGETDURATION, kept from the first part */
	/* The identity that should name this source's segments (versioned segment names): id,
	 * except for a recording seen growing in this mount, whose segments keep the names they
	 * were listed under once it is finished: its growing identity. */
	struct source_identity name_id;
	/* A segment was opened, or a playlist read prepared the first one (segment_prepare_start). */
	bool started;
};

struct store;

/* Sets the plan configuration every media is built with, the persistent index (NULL for none)
 * that keeps indexes across restarts, the source root (paths in manifests are relative to it)
 * and the public base URL of the mount (NULL: no cytube.json). Call once before media_get. */
void media_init(const struct plan_config *cfg, struct store *store, const char *root, const char *base_url);
/* Whether videos offer thumbs/ (option thumbnails; on unless called with false). Call once before
 * media_get. */
void media_set_thumbnails(bool on);
/* A local file written within idle_s seconds (0: never) is treated as a recording still being
 * written. Call once before media_get. */
void media_set_growing_idle(unsigned idle_s);
/* Drops every cached media (at unmount). */
void media_shutdown(void);

/* Returns the media of the source at path for its current identity, building it (index and
 * plan) on first use; concurrent callers wait for one build. Returns 0 with *out (media_put it),
 * or a negative errno when the path cannot be stat'ed. A video that cannot be served is still
 * returned, with error set. */
int media_get(const char *path, struct media **out);
void media_put(struct media *m);
/* The variant whose folder is called name, or -1. */
int media_variant(const struct media *m, const char *name);

/* The subtitle rendition whose folder (subs-LANG) or whole-track file (LANG.vtt) is called
 * name, or NULL. */
const struct webvtt_rendition *media_subtitle(const struct media *m, const char *name);

/* poster.jpg, made on the first call (single flight; decoding one keyframe) and kept in the
 * persistent index. Returns 0 with *jpeg (borrowed: valid while m is held) and *size, -ENOENT when the video
 * has none (its frame does not decode; said once in the log), -EIO when the source cannot be read
 * now or changed (logged; the next call tries again), or -ENOMEM. */
int media_poster(struct media *m, const uint8_t **jpeg, size_t *size);
/* Whether the video folder lists poster.jpg: until a try finds that its frame does not decode. */
bool media_has_poster(struct media *m);

/* Takes one more reference on a media already held. */
void media_ref(struct media *m);

#endif
