/* Playlist text from the plan: the media playlist of a variant and the master playlist.
 * Pure: no I/O. Returned text is malloc'd, NUL-terminated; the caller frees it. */
#ifndef HLSFS_PLAYLIST_H
#define HLSFS_PLAYLIST_H

#include <stddef.h>

#include "index.h"
#include "naming.h"
#include "plan.h"

/* RFC 8216 VOD media playlist: version 3, EXTINF in milliseconds from source timestamps,
 * TARGETDURATION the ceiling of the longest EXTINF, segment names of version (naming_version).
 * Returns 0 or -ENOMEM. */
int playlist_media(const struct plan *p, const char *version, char **text, size_t *len);

/* The media playlist of a recording (RFC 8216 6.2.1): EVENT, every segment of p (the complete
 * ones); target_duration stays what it was first, as a playlist of this type may only grow at its
 * end. Without ENDLIST while it is written; ended: it was finished while this mount served it,
 * and ENDLIST is all that is added. Returns 0 or -ENOMEM. */
int playlist_media_event(const struct plan *p, const char *version, uint32_t target_duration, bool ended,
			 char **text, size_t *len);
/* Its I-frame playlist, the same way. Returns 0 or -ENOMEM. */
int playlist_iframes_event(const struct plan_iframe *f, uint32_t n, const char *version, uint32_t target_duration,
			   bool ended, char **text, size_t *len);

/* The I-frame playlist of the passthrough variant (RFC 8216 4.3.3.6, Apple's authoring spec
 * 6.1): version 4, one EXT-X-BYTERANGE per keyframe into the segments, each keyframe's PES alone
 * (every segment starts with PAT and PMT). Returns 0 or -ENOMEM. */
int playlist_iframes(const struct plan_iframe *f, uint32_t n, const char *version, char **text, size_t *len);

/* The passthrough is listed first when its BANDWIDTH is at most this: hls.js's cap on the
 * bandwidth estimate it starts from (abrEwmaDefaultEstimateMax), so that it starts with it too. */
#define PLAYLIST_START_MAX_BPS 5000000

/* Master playlist: every variant of the plan (names[v] is variant v's folder): the passthrough
 * first when its BANDWIDTH is at most PLAYLIST_START_MAX_BPS, then lowest BANDWIDTH first. CODECS comes from the SPS and AudioSpecificConfig for passthrough and from the
 * encoder's profile and level for rungs, and is left out when it cannot be known. With n_iframes
 * keyframes (plan_iframes), the passthrough's I-frame playlist follows as EXT-X-I-FRAME-STREAM-INF.
 * Returns 0 or -ENOMEM. */
int playlist_master(const struct media_index *ix, const struct plan *p, char (*names)[NAMING_MAX],
		    const struct plan_iframe *iframes, uint32_t n_iframes, char **text, size_t *len);

struct webvtt_rendition;

/* Adds the subtitle renditions (n of them) to a master playlist made by playlist_master: one
 * EXT-X-MEDIA:TYPE=SUBTITLES row each in GROUP-ID "subs" before the first EXT-X-STREAM-INF (NAME,
 * LANGUAGE, DEFAULT=NO, AUTOSELECT=YES, FORCED=YES for a forced track, URI), and SUBTITLES="subs"
 * on every EXT-X-STREAM-INF. *text is replaced. Returns 0 (nothing to do when n is 0) or -ENOMEM. */
int playlist_master_subtitles(const struct webvtt_rendition *r, unsigned n, char **text, size_t *len);

/* RFC 6381 codec string of the index's tracks ("avc1.64001f,mp4a.40.2") into out; returns
 * -EINVAL (and "" in out) when a track's configuration does not tell. */
int playlist_codecs(const struct media_index *ix, char *out, size_t size);

#endif
