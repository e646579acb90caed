/* The in-memory registry of media: a hash of source path to the newest media for it, with an
 * LRU list of unreferenced entries capped by count and by indexed samples. A build runs outside
 * the registry lock; callers for the same path wait for it (single flight, flight.h) and the
 * entry joins the registry only once built. */
#include "media.h"

#include <errno.h>
#include <link.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cytube.h"
#include "flight.h"
#include "hash.h"
#include "index_blob.h"
#include "scan.h"
#include "log.h"
#include "playlist.h"
#include "poster.h"
#include "remote.h"
#include "segment.h"
#include "stats.h"
#include "store.h"
#include "subtitle.h"
#include "transcode.h"
#include "watch.h"

#define BUCKETS 4096
#define MAX_IDLE_ENTRIES 512
#define MAX_IDLE_SAMPLES (8u << 20)  /* ~320 MiB of sample records kept for closed files */
#define RETRY_S 2.0
/* A recording being written is indexed again at most this often, however often it is read. */
#define GROW_REBUILD_S 0.5
/* Bytes of its head (header and first fragment) that name a recording. */
#define GROW_HEAD_MAX (1u << 20)
/* A segment of a recording is listed once every audio track reaches this far past its end: its
 * audio is then complete, and a transcoded rendition has the frame it ends in. */
#define GROW_AUDIO_MARGIN (PLAN_TIMEBASE / 2)

struct entry {
	struct media m;
	struct entry *hnext;          /* hash chain; only the current entry of a path is chained */
	struct entry *lprev, *lnext;  /* LRU of all entries, most recent first */
	unsigned refs;
	bool hashed;
	uint64_t samples;
	double built_at;              /* monotonic seconds */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];
static struct entry *lru_head, *lru_tail;
static unsigned nb_entries;
static uint64_t nb_samples;
static struct plan_config config, growing_config;  /* growing_config: segments cut at keyframes only */
static struct store *store;
static const char *root, *base_url;
/* Everything but the source that shapes a segment's bytes: part of every version (naming_version). */
static char config_fp[1024];
static bool thumbnails = true;
static unsigned growing_idle;
/* Builds under way, one per path. The registry lock is never held while joining one (a build
 * takes it to publish its entry). */
static struct flight_set builds = FLIGHT_SET_INIT;

/* dl_iterate_phdr: the file name of the loaded libx264 (its soname carries the x264 build). */
static int find_x264(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *base = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
	(void)size;
	base = base ? base + 1 : info->dlpi_name;
	if (base && !strncmp(base, "libx264.so", 10)) {
		snprintf(arg, 64, "%s", base);
		return 1;
	}
	return 0;
}

void media_init(const struct plan_config *cfg, struct store *st, const char *source_root, const char *url)
{
	char tfp[256], x264[64] = "no-x264";
	size_t n;

	config = *cfg;
	config.split_gops = true;
	growing_config = config;
	growing_config.split_gops = false;
	store = st;
	root = source_root;
	base_url = url;
	transcode_fingerprint(tfp, sizeof(tfp));
	dl_iterate_phdr(find_x264, x264);
	/* "cuts4": long GOPs of transcode-only sources are cut between frames, and their first
	 * segments are short: 1 s, then 2 s, cut between frames too (plan.c). "edits1": frames an
	 * MP4 edit list hides are left out of the timeline and of transcoded pictures. "h264depth1":
	 * H.264 without its reorder depth is decoded holding back the level's most (sampleio.c). */
	n = (size_t)snprintf(config_fp, sizeof(config_fp), "%s|%s|%s|t%u|p%u|cuts4|edits1|h264depth1|", segment_format(), tfp, x264,
			     (unsigned)cfg->target, (unsigned)cfg->profile_idc);
	for (unsigned i = 0; i < cfg->nb_rungs && n < sizeof(config_fp); i++)
		n += (size_t)snprintf(config_fp + n, sizeof(config_fp) - n, "%u:%u/", cfg->rungs[i].height,
				      (unsigned)cfg->rungs[i].kbps);
	log_debug("segment names are versioned by %s", config_fp);
}

void media_set_thumbnails(bool on)
{
	thumbnails = on;
}

void media_set_growing_idle(unsigned idle_s)
{
	growing_idle = idle_s;
}

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h % BUCKETS;
}

static void media_release(struct media *m)
{
	pthread_mutex_destroy(&m->poster_lock);
	free(m->path);
	free(m->error_text);
	index_free(m->ix);
	plan_free(m->plan);
	free(m->master);
	free(m->playlist);
	free(m->iframes);
	free(m->cytube);
	webvtt_free(m->subs, m->nb_subs);
	thumbs_free(m->thumbs);
}

static void lru_unlink(struct entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push_front(struct entry *e)
{
	e->lnext = lru_head;
	e->lprev = NULL;
	if (lru_head)
		lru_head->lprev = e;
	lru_head = e;
	if (!lru_tail)
		lru_tail = e;
}

static void unhash(struct entry *e)
{
	struct entry **pp;
	if (!e->hashed)
		return;
	for (pp = &table[hash(e->m.path)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	e->hashed = false;
}

static void destroy(struct entry *e)
{
	unhash(e);
	lru_unlink(e);
	nb_entries--;
	nb_samples -= e->samples;
	media_release(&e->m);
	free(e);
}

/* Called with the lock held: drops idle entries, oldest first, beyond the caps. */
static void evict(void)
{
	struct entry *e = lru_tail;
	while (e && (nb_entries > MAX_IDLE_ENTRIES || nb_samples > MAX_IDLE_SAMPLES)) {
		struct entry *prev = e->lprev;
		if (e->refs == 0)
			destroy(e);
		e = prev;
	}
}

/* A source that failed for a reason that may pass (a read error, an archive away) is built
 * again once RETRY_S have gone by, rather than serving its error.txt until it changes. */
static bool retry_due(const struct entry *e)
{
	struct timespec ts;
	if (e->m.error != -EIO || e->m.ix)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9 - e->built_at > RETRY_S;
}

static void set_error(struct media *m, int err, const char *why)
{
	const char *base = strrchr(m->path, '/');
	int len;
	m->error = err;
	base = base ? base + 1 : m->path;
	/* A link file is named as the video it stands for. */
	len = (int)strlen(base) - (source_is_link(base) ? (int)strlen(SOURCE_LINK_SUFFIX) : 0);
	if (asprintf(&m->error_text, "%.*s cannot be served: %s\n", len, base, why) < 0)
		m->error_text = NULL;
	m->error_len = m->error_text ? strlen(m->error_text) : 0;
	log_error("%s: %s", m->path, why);
}

/* error.txt of a state that passes (a recording with nothing complete yet): not logged. */
static void set_note(struct media *m, int err, const char *why)
{
	const char *base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	m->error = err;
	if (asprintf(&m->error_text, "%s cannot be served yet: %s\n", base, why) < 0)
		m->error_text = NULL;
	m->error_len = m->error_text ? strlen(m->error_text) : 0;
}

/* The index from the persistent store, when it holds one for this identity. Returns 1 when
 * m->ix or m's error was set from it, 0 otherwise. */
static int load_stored(struct media *m)
{
	uint8_t *blob;
	size_t size;
	char *error = NULL;
	int ret;

	if (!store || store_get_media(store, m->path, &blob, &size) < 0)
		return 0;
	ret = index_blob_decode(blob, size, &m->id, &m->ix, &error);
	free(blob);
	if (ret == -EINVAL)
		log_warn("%s: its stored index is damaged; indexing it again", m->path);
	if (ret < 0)
		return 0;
	if (m->ix && m->ix->sidecar_tag != m->sidecars) {
		/* A subtitle file beside it came, went or changed: its tracks are read again. */
		index_free(m->ix);
		m->ix = NULL;
		return 0;
	}
	stats_add(STATS_INDEX_LOADS, 1);
	if (error) {
		set_error(m, -EINVAL, error);
		free(error);
	}
	return 1;
}

/* An index on its way to the persistent index: m is held until it is written. */
struct saving {
	struct media *m;
	char *error;
};

static int saving_make(void *arg, uint8_t **blob, size_t *size)
{
	struct saving *s = arg;
	int ret;

	pthread_mutex_lock(&s->m->poster_lock);  /* media_poster may be filling in the poster */
	ret = index_blob_encode(&s->m->id, s->m->ix, s->error, blob, size);
	pthread_mutex_unlock(&s->m->poster_lock);
	return ret;
}

static void saving_release(void *arg)
{
	struct saving *s = arg;
	media_put(s->m);
	free(s->error);
	free(s);
}

/* Keeps m's index (or error) for the next mount. Made and written by the store's thread: the
 * request that indexed the video waits for neither the copy of its sample tables nor the disk. */
static void save_stored(struct media *m, const char *error)
{
	struct saving *s;
	struct store_maker mk = { saving_make, saving_release, NULL };
	int ret;

	if (!store)
		return;
	if (!(s = calloc(1, sizeof(*s))) || (error && !(s->error = strdup(error)))) {
		free(s);
		log_warn("%s: cannot keep its index in the persistent index: %s", m->path, strerror(ENOMEM));
		return;
	}
	media_ref(m);
	s->m = m;
	mk.arg = s;
	if ((ret = store_put_media_later(store, m->path, &mk)) < 0)
		log_warn("%s: cannot keep its index in the persistent index: %s", m->path, strerror(-ret));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes %XX escapes in place. */
static void percent_decode(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
			*w++ = (char)(hi * 16 + lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void plan_error(struct media *m, int ret)
{
	set_error(m, ret, ret == -ENOMEM ? "out of memory while planning its segments." :
			  ret == -ENOTSUP ? "its video is not H.264 and needs transcoding, but no transcoded rungs are configured (ladder=none)." :
			  "its video has no keyframe to start a segment at.");
}

static void name_variants(struct media *m)
{
	m->nb_variants = plan_variants(m->plan) + m->plan->nb_renditions;
	for (unsigned v = 0; v < m->nb_variants; v++) {
		int rn = plan_variant_rendition(m->plan, v);
		if (rn >= 0)
			naming_rendition((unsigned)rn, m->variants[v]);
		else
			naming_variant(plan_variant_height(m->plan, m->ix, v), m->variants[v]);
	}
}

static void build_loaded(struct media *m, int loaded);

/* EXT-X-TARGETDURATION of a recording's playlists, while it is written and once it ended: segments
 * end at the first keyframe past their target, so room for one second over it, or the longest
 * segment planned. */
static uint32_t recording_target(const struct plan *p)
{
	uint32_t t = (uint32_t)((config.target + PLAN_TIMEBASE - 1) / PLAN_TIMEBASE + 1);
	return p->target_duration > t ? p->target_duration : t;
}

/* Builds everything a media holds. Runs without the registry lock. */
static void build(struct media *m)
{
	build_loaded(m, 0);
}

/* build, when loaded says whether load_stored already set m's index or error. */
static void build_loaded(struct media *m, int loaded)
{
	struct source *src = NULL;
	char *why = NULL;
	int ret, pret;

	if (!loaded && !load_stored(m)) {
		char reason[512];
		ret = source_open(m->path, &src, reason, sizeof(reason));
		if (ret < 0) {
			char msg[600];
			snprintf(msg, sizeof(msg), "it could not be opened (%s).", reason[0] ? reason : strerror(-ret));
			set_error(m, ret, msg);
			return;
		}
		m->id = *source_identity(src);
		ret = scan_build(src, &m->ix, &why);
		/* Its first keyframe is the check that the video decodes at all, and gives the true
		 * picture size and aspect ratio for the rungs. */
		if (ret == 0 && (pret = poster_probe(src, m->ix)) < 0) {
			if (pret == -ENODATA) {
				index_free(m->ix);
				m->ix = NULL;
				why = strdup("its video cannot be decoded (its first keyframe does not decode).");
				ret = -EINVAL;
			} else {
				log_warn("%s: its first keyframe could not be read (%s); its picture size is taken from the container",
					 m->path, strerror(-pret));
			}
		}
		if (ret == 0 && (ret = subtitle_scan(src, m->path, m->ix)) < 0) {
			index_free(m->ix);
			m->ix = NULL;
		}
		source_close(src);
		stats_add(STATS_INDEX_BUILDS, 1);
		if (ret < 0) {
			set_error(m, ret, why ? why : "it could not be indexed.");
			/* What the file is stays true for this identity; a failed read may not. */
			if (ret == -EINVAL || ret == -ENOTSUP)
				save_stored(m, why ? why : "it could not be indexed.");
			free(why);
			return;
		}
		save_stored(m, NULL);
		if (m->ix->note)
			log_warn("%s: %s", m->path, m->ix->note);
	}
	if (m->error)
		return;
	naming_version(&m->name_id, config_fp, m->version);
	{
		/* A recording that ended in this mount keeps the segments it listed while written. */
		struct plan_config c = config;
		c.split_gops = !identity_growing(&m->name_id);
		ret = plan_build(m->ix, &c, &m->plan);
	}
	if (ret < 0) {
		plan_error(m, ret);
		return;
	}
	name_variants(m);
	{
		struct plan_iframe *iframes = NULL;
		uint32_t n_iframes = 0;
		/* A recording that ended in this mount: its playlists stay EVENT with the same target,
		 * and gain ENDLIST (RFC 8216 6.2.1: such a playlist only grows at its end). */
		bool ended = identity_growing(&m->name_id);
		uint32_t target = ended ? recording_target(m->plan) : 0;
		if ((m->plan->passthrough &&
		     (plan_iframes(m->plan, m->ix, &iframes, &n_iframes) < 0 ||
		      (ended ? playlist_iframes_event(iframes, n_iframes, m->version, target, true, &m->iframes, &m->iframes_len)
			     : playlist_iframes(iframes, n_iframes, m->version, &m->iframes, &m->iframes_len)) < 0)) ||
		    playlist_master(m->ix, m->plan, m->variants, iframes, n_iframes, &m->master, &m->master_len) < 0 ||
		    (ended ? playlist_media_event(m->plan, m->version, target, true, &m->playlist, &m->playlist_len)
			   : playlist_media(m->plan, m->version, &m->playlist, &m->playlist_len)) < 0)
			set_error(m, -ENOMEM, "out of memory while writing its playlists.");
		free(iframes);
	}
	if (!m->error && (webvtt_build(m->ix, m->plan, &m->subs, &m->nb_subs) < 0 ||
			  playlist_master_subtitles(m->subs, m->nb_subs, &m->master, &m->master_len) < 0))
		set_error(m, -ENOMEM, "out of memory while writing its subtitles.");
	/* A video whose picture size is unknown simply has no previews. */
	if (!m->error && thumbnails && thumbs_plan(m->path, &m->id, m->ix, m->plan, &m->thumbs) == -ENOMEM)
		set_error(m, -ENOMEM, "out of memory while planning its preview thumbnails.");
	if (base_url && !m->error) {
		const struct plan_segment *first = &m->plan->segments[0], *last = &m->plan->segments[m->plan->nb_segments - 1];
		size_t rl = strlen(root);
		char rel[4096];
		/* The name in the mount: a link file NAME.mp4.url is shown as NAME.mp4. */
		snprintf(rel, sizeof(rel), "%s", !strncmp(m->path, root, rl) ? m->path + rl : m->path);
		if (source_is_link(rel))
			rel[strlen(rel) - strlen(SOURCE_LINK_SUFFIX)] = '\0';
		/* A video of a remote base: its path is a URL, percent-encoded; the mount shows it decoded. */
		if (remote_is_url(m->path))
			percent_decode(rel);
		unsigned long long ms = (unsigned long long)(last->end - first->start) / 90;
		/* Variant 0 is the tallest: the passthrough, or the first rung. */
		struct cytube_text_track tracks[INDEX_MAX_SUBTITLES];
		char paths[INDEX_MAX_SUBTITLES][NAMING_MAX * 2];
		for (unsigned k = 0; k < m->nb_subs; k++) {
			snprintf(paths[k], sizeof(paths[k]), "%s/%s", NAMING_SUBTITLES, m->subs[k].file);
			tracks[k].path = paths[k];
			tracks[k].name = m->subs[k].name;
		}
		if (cytube_manifest_full(base_url, rel, m->ix->title, ms, plan_variant_height(m->plan, m->ix, 0),
					 true, tracks, m->nb_subs, &m->cytube, &m->cytube_len) < 0)
			set_error(m, -ENOMEM, "out of memory while writing its CyTube manifest.");
	}
	log_debug("%s: indexed, %u video and %u audio samples, %u segments", m->path,
		  m->ix->video.nb_samples, m->ix->audio.nb_samples, m->plan->nb_segments);
}

/* Whether a file as stat saw it may be a recording still being written: local, and not closed by
 * its writer since its last write (watch.h), and either written within growing_idle seconds or
 * written since it is watched (a writer that pauses longer than that still holds it open).
 * build_growing then asks whether a writer holds it open now. */
static bool is_growing(const struct source_identity *id)
{
	struct timespec ts;
	int64_t age, idle = (int64_t)growing_idle * 1000000000;
	enum watch_state ws;

	if (!growing_idle || id->tag)
		return false;
	if ((ws = watch_state(id->dev, id->ino)) != WATCH_UNKNOWN)
		return ws == WATCH_WRITING;
	clock_gettime(CLOCK_REALTIME, &ts);
	age = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - id->mtime_ns;
	return age < idle && age > -idle;
}

/* Segments of a recording's plan whose bytes are final: every one but the last (whose end
 * the next keyframe will tell), as long as every audio track reaches past its end. The plan cuts
 * at keyframes from the start on, so a longer part of the file cuts the same segments. */
static uint32_t complete_segments(const struct media_index *ix, const struct plan *p)
{
	int64_t reach = INT64_MAX;
	uint32_t k = 0;

	for (unsigned t = 0; t <= ix->nb_renditions; t++) {
		const struct index_track *tr = t == 0 ? &ix->audio : &ix->renditions[t - 1];
		if (tr->nb_samples && tr->samples[tr->nb_samples - 1].pts < reach)
			reach = tr->samples[tr->nb_samples - 1].pts;
	}
	while (k + 1 < p->nb_segments && (reach == INT64_MAX || p->segments[k].end + GROW_AUDIO_MARGIN <= reach))
		k++;
	return k;
}

/* Builds the media of a recording being written from its complete part (scan_complete). prev
 * is the media of the same file built before, or NULL: its ladder, master, target duration and
 * poster are kept when it is the same recording. A container that cannot be served while it
 * is written is built as a finished file is (build). Runs without the registry lock. */
static void build_growing(struct media *m, struct media *prev)
{
	const struct media *was = prev;
	struct source *src = NULL;
	struct source_identity seen = m->id, g = { .mtime_ns = IDENTITY_GROWING, .ino = m->id.ino, .dev = m->id.dev };
	uint64_t end = 0, head = 0, head_at = 0;
	char reason[512], *why = NULL;
	struct plan_iframe *iframes = NULL;
	uint32_t n_iframes = 0, listed;
	int ret, pret;

	/* Indexed before as finished with this very size and time (the persistent index holds only
	 * finished files): a recent copy, not a recording; served without opening it. */
	if (load_stored(m)) {
		m->name_id = m->id;
		build_loaded(m, 1);
		return;
	}
	/* Written lately, but no process has it open for writing (a read lease tells): a file just
	 * copied in or finished, served as such at once. Where that cannot be told, it may be a
	 * recording. */
	if (source_open_for_writing(m->path) == 0) {
		/* A recording that ended keeps the names it listed its segments under. */
		m->name_id = prev && !prev->error ? prev->name_id : m->id;
		build(m);
		return;
	}
	/* Opened as growing: reads are checked against shrinking only, as it grows meanwhile. */
	ret = source_open_as(m->path, &g, &src, reason, sizeof(reason));
	if (ret == 0 && identity_equal(source_identity(src), &g))
		ret = scan_complete_at(src, seen.size, &end, &head, &head_at);
	else if (ret == 0)
		ret = -ENOTSUP;  /* replaced meanwhile: as a finished file */
	if (ret == -EINPROGRESS || ret == -EBUSY) {
		/* A plain MP4 being written: its sample tables come at its end. A container other
		 * than fragmented MP4, MPEG-TS and Matroska is read whole, once finished. */
		source_close(src);
		m->growing = true;
		m->seen = seen;
		m->id = m->name_id = g;
		watch_file(m->path, seen.dev, seen.ino);
		set_note(m, -EAGAIN, ret == -EINPROGRESS ?
			 "it is being written as a plain MP4, whose sample tables come at its end; it is served once it is finished." :
			 "it is being written in a container that is served once it is finished (AVI, FLV, Matroska without cluster sizes, ...; fragmented MP4, MPEG-TS and Matroska/WebM are served while they are written).");
		return;
	}
	if (ret == -ENOTSUP || (ret < 0 && !src)) {
		source_close(src);
		m->name_id = m->id;
		build(m);
		return;
	}
	m->growing = true;
	m->seen = seen;
	watch_file(m->path, seen.dev, seen.ino);
	if (ret == 0 && head) {
		size_t n = head - head_at < GROW_HEAD_MAX ? (size_t)(head - head_at) : GROW_HEAD_MAX;
		uint8_t *buf = malloc(n);
		if (!buf)
			ret = -ENOMEM;
		else if ((ret = source_pread(src, buf, n, head_at)) == 0)
			g.tag = hash_fnv1a(buf, n, 0x67726f77696e67ull) | 1;
		free(buf);
	}
	m->id = m->name_id = g;
	naming_version(&m->name_id, config_fp, m->version);
	if (ret < 0) {
		source_close(src);
		if (!was || !was->error)
			set_error(m, ret == -ENOMEM ? ret : -EIO, "it could not be read while it is being written.");
		else
			set_note(m, -EIO, "it could not be read while it is being written.");
		return;
	}
	if (!head) {
		source_close(src);
		set_note(m, -EAGAIN, "it is being written and too little of it is complete yet to be served.");
		return;
	}
	if (prev && (!identity_equal(&prev->id, &g) || prev->error || !prev->plan))
		prev = NULL;  /* another recording, or nothing to keep */
	ret = scan_build_upto(src, end, &m->ix, &why);
	if (ret == 0) {
		m->ix->identity = g;
		if (prev) {
			/* The part already served passed the check; its picture, and its poster when it
			 * was made, are this one's too. */
			struct index_track *v = &m->ix->video;
			const struct index_track *pv = &prev->ix->video;
			v->width = pv->width;
			v->height = pv->height;
			v->sar_num = pv->sar_num;
			v->sar_den = pv->sar_den;
			pthread_mutex_lock(&prev->poster_lock);
			if (prev->ix->poster && (m->ix->poster = malloc(prev->ix->poster_size))) {
				memcpy(m->ix->poster, prev->ix->poster, prev->ix->poster_size);
				m->ix->poster_size = prev->ix->poster_size;
			}
			pthread_mutex_unlock(&prev->poster_lock);
		} else if ((pret = poster_probe(src, m->ix)) == -ENODATA) {
			index_free(m->ix);
			m->ix = NULL;
			free(why);
			why = strdup("its video cannot be decoded (its first keyframe does not decode).");
			ret = -EINVAL;
		}
	}
	source_close(src);
	stats_add(STATS_INDEX_BUILDS, 1);
	if (ret < 0) {
		const char *text = why ? why : "it could not be indexed.";
		if (!was || !was->error)
			set_error(m, ret, text);
		else
			set_note(m, ret, text);
		free(why);
		return;
	}
	if ((ret = plan_build_ladder(m->ix, &growing_config, prev ? prev->plan : NULL, &m->plan)) < 0) {
		plan_error(m, ret);
		return;
	}
	name_variants(m);
	listed = complete_segments(m->ix, m->plan);
	if (prev) {
		m->target_duration = prev->target_duration;
		if (!(m->master = malloc(prev->master_len + 1))) {
			set_error(m, -ENOMEM, "out of memory while writing its playlists.");
			return;
		}
		memcpy(m->master, prev->master, prev->master_len + 1);
		m->master_len = prev->master_len;
	} else {
		/* The master of the first part stays while the recording grows: players read it once. */
		m->target_duration = recording_target(m->plan);
		if ((m->plan->passthrough && plan_iframes(m->plan, m->ix, &iframes, &n_iframes) < 0) ||
		    playlist_master(m->ix, m->plan, m->variants, iframes, n_iframes, &m->master, &m->master_len) < 0) {
			free(iframes);
			set_error(m, -ENOMEM, "out of memory while writing its playlists.");
			return;
		}
		free(iframes);
		iframes = NULL;
		n_iframes = 0;
	}
	m->plan->nb_segments = listed;
	for (uint32_t k = 0; k < listed; k++) {
		uint32_t s = (uint32_t)((plan_segment_ms(m->plan, k) + 999) / 1000);
		if (s > m->target_duration)
			m->target_duration = s;  /* a keyframe later than ever: the playlist says so */
	}
	if ((m->plan->passthrough && listed && plan_iframes(m->plan, m->ix, &iframes, &n_iframes) < 0) ||
	    (m->plan->passthrough &&
	     playlist_iframes_event(iframes, n_iframes, m->version, m->target_duration, false, &m->iframes,
				    &m->iframes_len) < 0) ||
	    playlist_media_event(m->plan, m->version, m->target_duration, false, &m->playlist, &m->playlist_len) < 0)
		set_error(m, -ENOMEM, "out of memory while writing its playlists.");
	free(iframes);
	log_debug("%s: being written: %" PRIu64 " of %" PRIu64 " bytes complete, %u segments listed", m->path, end,
		  seen.size, listed);
}

/* With the lock held: the entry of path in the table, or NULL. */
static struct entry *find(const char *path, unsigned h)
{
	struct entry *e;
	for (e = table[h]; e; e = e->hnext)
		if (!strcmp(e->m.path, path))
			break;
	return e;
}

/* With the lock held: takes a reference on e for the caller. */
static struct media *take(struct entry *e)
{
	e->refs++;
	lru_unlink(e);
	lru_push_front(e);
	return &e->m;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* With the lock held: whether e serves the file stat described as id (grow: being written).
 * A recording's media stays current until it grows, and for GROW_REBUILD_S even then. */
static bool is_current(const struct entry *e, const struct source_identity *id, uint64_t sidecars, bool grow)
{
	if (e->m.sidecars != sidecars)
		return false;
	if (!grow || !e->m.growing)
		return identity_equal(&e->m.id, id) && !retry_due(e);
	if (e->m.seen.dev != id->dev || e->m.seen.ino != id->ino)
		return false;
	return identity_equal(&e->m.seen, id) || mono_now() - e->built_at < GROW_REBUILD_S;
}

int media_get(const char *path, struct media **out)
{
	struct source_identity id;
	struct entry *e, *prev = NULL;
	struct flight *f;
	unsigned h = hash(path);
	uint64_t sidecars;
	int ret, landed;
	bool grow;

	*out = NULL;
	if ((ret = source_stat(path, &id)) < 0)
		return ret;
	sidecars = subtitle_sidecar_tag(path);
	grow = is_growing(&id);
	for (;;) {
		pthread_mutex_lock(&lock);
		if ((e = find(path, h)) && is_current(e, &id, sidecars, grow)) {
			*out = take(e);
			pthread_mutex_unlock(&lock);
			return 0;
		}
		pthread_mutex_unlock(&lock);
		if ((ret = flight_join(&builds, path, &f, &landed)) < 0)
			return ret;
		if (ret == 1)
			break;
		/* Another caller built it meanwhile: that is the newest media of the path. */
		pthread_mutex_lock(&lock);
		if ((e = find(path, h))) {
			*out = take(e);
			pthread_mutex_unlock(&lock);
			return 0;
		}
		pthread_mutex_unlock(&lock);
	}

	/* This caller builds. Another may have finished a build between the look-up and the join. */
	pthread_mutex_lock(&lock);
	if ((e = find(path, h))) {
		if (is_current(e, &id, sidecars, grow)) {
			*out = take(e);
			pthread_mutex_unlock(&lock);
			flight_land(&builds, f, 0);
			return 0;
		}
		/* The source changed: the old media serves only files already open on it. */
		unhash(e);
		if (e->m.growing && e->m.seen.dev == id.dev && e->m.seen.ino == id.ino) {
			e->refs++;  /* the recording grew or ended: what the next media keeps comes from it */
			prev = e;
		} else if (e->refs == 0) {
			destroy(e);
		}
	}
	pthread_mutex_unlock(&lock);

	e = calloc(1, sizeof(*e));
	if (!e || !(e->m.path = strdup(path))) {
		free(e);
		if (prev)
			media_put(&prev->m);
		flight_land(&builds, f, -ENOMEM);
		return -ENOMEM;
	}
	pthread_mutex_init(&e->m.poster_lock, NULL);
	e->m.id = id;
	e->m.sidecars = sidecars;
	e->refs = 1;

	if (grow) {
		build_growing(&e->m, prev ? &prev->m : NULL);
	} else {
		/* A recording that ended keeps the names it listed its segments under. */
		e->m.name_id = prev && !prev->m.error ? prev->m.name_id : id;
		build(&e->m);
	}
	if (prev)
		media_put(&prev->m);

	pthread_mutex_lock(&lock);
	{
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		e->built_at = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	}
	if (e->m.ix)
		e->samples = (uint64_t)e->m.ix->video.nb_samples + e->m.ix->audio.nb_samples;
	nb_samples += e->samples;
	e->hnext = table[h];
	table[h] = e;
	e->hashed = true;
	lru_push_front(e);
	nb_entries++;
	evict();
	pthread_mutex_unlock(&lock);
	flight_land(&builds, f, 0);
	*out = &e->m;
	return 0;
}

void media_put(struct media *m)
{
	struct entry *e = (struct entry *)m;  /* m is the first member */

	if (!m)
		return;
	pthread_mutex_lock(&lock);
	if (--e->refs == 0 && !e->hashed)
		destroy(e);
	else
		evict();
	pthread_mutex_unlock(&lock);
}

int media_variant(const struct media *m, const char *name)
{
	for (unsigned v = 0; v < m->nb_variants; v++)
		if (!strcmp(m->variants[v], name))
			return (int)v;
	return -1;
}

const struct webvtt_rendition *media_subtitle(const struct media *m, const char *name)
{
	for (unsigned k = 0; k < m->nb_subs; k++)
		if (!strcmp(m->subs[k].folder, name) || !strcmp(m->subs[k].file, name))
			return &m->subs[k];
	return NULL;
}

/* A stored poster is the identity it was made of (five 64-bit words), then the JPEG. */
#define POSTER_HEAD 40

static void identity_words(const struct source_identity *id, uint8_t out[POSTER_HEAD])
{
	const uint64_t w[5] = { id->size, (uint64_t)id->mtime_ns, id->ino, id->dev, id->tag };
	memcpy(out, w, sizeof(w));
}

/* With m->poster_lock held: the stored poster of m's identity into m->ix, if there is one. */
static bool load_poster(struct media *m)
{
	uint8_t *blob, head[POSTER_HEAD];
	size_t size;

	if (!store || store_get_poster(store, m->path, &blob, &size) < 0)
		return false;
	identity_words(&m->id, head);
	if (size <= POSTER_HEAD || memcmp(blob, head, POSTER_HEAD)) {
		free(blob);
		return false;  /* another version of the file */
	}
	memmove(blob, blob + POSTER_HEAD, size - POSTER_HEAD);
	m->ix->poster = blob;
	m->ix->poster_size = size - POSTER_HEAD;
	return true;
}

/* With m->poster_lock held: keeps m's poster for the next mount. A store that cannot take it
 * (full) has said so for the index already; the poster is made again next time. */
static void save_poster(struct media *m)
{
	uint8_t *blob;
	if (!store || !(blob = malloc(POSTER_HEAD + m->ix->poster_size)))
		return;
	identity_words(&m->id, blob);
	memcpy(blob + POSTER_HEAD, m->ix->poster, m->ix->poster_size);
	store_put_poster(store, m->path, blob, POSTER_HEAD + m->ix->poster_size);
	free(blob);
}

int media_poster(struct media *m, const uint8_t **jpeg, size_t *size)
{
	struct source *src = NULL;
	uint8_t *made = NULL;
	size_t n = 0;
	char why[512] = "";
	int ret;

	if (m->error)
		return -ENOENT;
	pthread_mutex_lock(&m->poster_lock);
	if (m->ix->poster) {
		ret = 0;
		goto out;
	}
	if (m->no_poster) {
		ret = -ENOENT;
		goto out;
	}
	if (!m->growing && load_poster(m)) {
		ret = 0;
		goto out;
	}
	if ((ret = source_open(m->path, &src, why, sizeof(why))) < 0) {
		log_error("%s: its poster frame could not be read (%s)", m->path, why[0] ? why : strerror(-ret));
		ret = -EIO;
		goto out;
	}
	/* A recording being written: its indexed part, where the frame lies, does not change. */
	if (!m->growing && !identity_equal(source_identity(src), &m->id))
		ret = -EIO;  /* changed since it was indexed: the next lookup sees the new one */
	else
		ret = poster_make(src, m->ix, &made, &n);
	if (ret == 0) {
		m->ix->poster = made;
		m->ix->poster_size = n;
		if (!m->growing)
			save_poster(m);  /* kept beside the index: made once per identity */
	} else if (ret == -ENODATA) {
		log_warn("%s: its poster frame does not decode; poster.jpg is left out", m->path);
		m->no_poster = true;
		ret = -ENOENT;
	} else if (ret != -ENOMEM) {
		log_error("%s: its poster frame could not be read (%s)", m->path, source_strerror(src, ret));
		ret = -EIO;
	}
	source_close(src);
out:
	if (ret == 0) {
		*jpeg = m->ix->poster;
		*size = m->ix->poster_size;
	}
	pthread_mutex_unlock(&m->poster_lock);
	return ret;
}

bool media_has_poster(struct media *m)
{
	bool no;
	pthread_mutex_lock(&m->poster_lock);
	no = m->no_poster;
	pthread_mutex_unlock(&m->poster_lock);
	return !m->error && !no;
}

void media_ref(struct media *m)
{
	struct entry *e = (struct entry *)m;
	pthread_mutex_lock(&lock);
	e->refs++;
	pthread_mutex_unlock(&lock);
}

void media_shutdown(void)
{
	watch_shutdown();
	if (store)
		store_flush(store);  /* the indexes it writes hold their media */
	pthread_mutex_lock(&lock);
	while (lru_head)
		destroy(lru_head);
	pthread_mutex_unlock(&lock);
}
