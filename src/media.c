/* The in-memory registry of media: a hash of source path to the newest media for it, with an
 * LRU list of unreferenced entries capped by count and by indexed samples. A build runs outside
 * the registry lock; callers for the same path wait for it (single flight, flight.h) and the
 * entry joins the registry only once built. */
#include "media.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cytube.h"
#include "flight.h"
#include "index_blob.h"
#include "scan.h"
#include "log.h"
#include "playlist.h"
#include "poster.h"
#include "remote.h"
#include "stats.h"
#include "store.h"

#define BUCKETS 4096
#define MAX_IDLE_ENTRIES 512
#define MAX_IDLE_SAMPLES (8u << 20)  /* ~320 MiB of sample records kept for closed files */
#define RETRY_S 2.0

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
static struct plan_config config;
static struct store *store;
static const char *root, *base_url;
/* Builds under way, one per path. The registry lock is never held while joining one (a build
 * takes it to publish its entry). */
static struct flight_set builds = FLIGHT_SET_INIT;

void media_init(const struct plan_config *cfg, struct store *st, const char *source_root, const char *url)
{
	config = *cfg;
	store = st;
	root = source_root;
	base_url = url;
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
	free(m->path);
	free(m->error_text);
	index_free(m->ix);
	plan_free(m->plan);
	free(m->master);
	free(m->playlist);
	free(m->iframes);
	free(m->cytube);
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
	stats_add(STATS_INDEX_LOADS, 1);
	if (error) {
		set_error(m, -EINVAL, error);
		free(error);
	}
	return 1;
}

static void save_stored(struct media *m, const char *error)
{
	uint8_t *blob;
	size_t size;
	int ret;

	if (!store || index_blob_encode(&m->id, m->ix, error, &blob, &size) < 0)
		return;
	if ((ret = store_put_media(store, m->path, blob, size)) < 0)
		log_warn("%s: cannot keep its index in the persistent index: %s", m->path, strerror(-ret));
	free(blob);
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

/* Builds everything a media holds. Runs without the registry lock. */
static void build(struct media *m)
{
	struct source *src = NULL;
	char *why = NULL;
	int ret, pret;

	if (!load_stored(m)) {
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
		/* The poster doubles as the check that the video decodes at all, and its frame gives
		 * the true picture size. */
		if (ret == 0 && (pret = poster_make(src, m->ix, &m->ix->poster, &m->ix->poster_size)) < 0) {
			if (pret == -ENODATA) {
				index_free(m->ix);
				m->ix = NULL;
				why = strdup("its video cannot be decoded (its keyframe does not decode).");
				ret = -EINVAL;
			} else {
				log_warn("%s: its poster frame could not be read (%s); poster.jpg is left out", m->path,
					 strerror(-pret));
			}
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
		if (m->ix->audio_note)
			log_warn("%s: %s", m->path, m->ix->audio_note);
	}
	if (m->error)
		return;
	ret = plan_build(m->ix, &config, &m->plan);
	if (ret < 0) {
		set_error(m, ret, ret == -ENOMEM ? "out of memory while planning its segments." :
				  ret == -ENOTSUP ? "its video is not H.264 and needs transcoding, but no transcoded rungs are configured (ladder=none)." :
				  "its video has no keyframe to start a segment at.");
		return;
	}
	m->nb_variants = plan_variants(m->plan) + m->plan->nb_renditions;
	for (unsigned v = 0; v < m->nb_variants; v++) {
		int rn = plan_variant_rendition(m->plan, v);
		if (rn >= 0)
			naming_rendition((unsigned)rn, m->variants[v]);
		else
			naming_variant(plan_variant_height(m->plan, m->ix, v), m->variants[v]);
	}
	{
		struct plan_iframe *iframes = NULL;
		uint32_t n_iframes = 0;
		if ((m->plan->passthrough && (plan_iframes(m->plan, m->ix, &iframes, &n_iframes) < 0 ||
					      playlist_iframes(iframes, n_iframes, &m->iframes, &m->iframes_len) < 0)) ||
		    playlist_master(m->ix, m->plan, m->variants, iframes, n_iframes, &m->master, &m->master_len) < 0 ||
		    playlist_media(m->plan, &m->playlist, &m->playlist_len) < 0)
			set_error(m, -ENOMEM, "out of memory while writing its playlists.");
		free(iframes);
	}
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
		if (cytube_manifest(base_url, rel, m->ix->title, ms, plan_variant_height(m->plan, m->ix, 0), &m->cytube,
				    &m->cytube_len) < 0)
			set_error(m, -ENOMEM, "out of memory while writing its CyTube manifest.");
	}
	log_debug("%s: indexed, %u video and %u audio samples, %u segments", m->path,
		  m->ix->video.nb_samples, m->ix->audio.nb_samples, m->plan->nb_segments);
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

int media_get(const char *path, struct media **out)
{
	struct source_identity id;
	struct entry *e;
	struct flight *f;
	unsigned h = hash(path);
	int ret, landed;

	*out = NULL;
	if ((ret = source_stat(path, &id)) < 0)
		return ret;
	for (;;) {
		pthread_mutex_lock(&lock);
		if ((e = find(path, h)) && identity_equal(&e->m.id, &id) && !retry_due(e)) {
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
		if (identity_equal(&e->m.id, &id) && !retry_due(e)) {
			*out = take(e);
			pthread_mutex_unlock(&lock);
			flight_land(&builds, f, 0);
			return 0;
		}
		/* The source changed: the old media serves only files already open on it. */
		unhash(e);
		if (e->refs == 0)
			destroy(e);
	}
	pthread_mutex_unlock(&lock);

	e = calloc(1, sizeof(*e));
	if (!e || !(e->m.path = strdup(path))) {
		free(e);
		flight_land(&builds, f, -ENOMEM);
		return -ENOMEM;
	}
	e->m.id = id;
	e->refs = 1;

	build(&e->m);

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

void media_ref(struct media *m)
{
	struct entry *e = (struct entry *)m;
	pthread_mutex_lock(&lock);
	e->refs++;
	pthread_mutex_unlock(&lock);
}

void media_shutdown(void)
{
	pthread_mutex_lock(&lock);
	while (lru_head)
		destroy(lru_head);
	pthread_mutex_unlock(&lock);
}
