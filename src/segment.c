/* Segments (segment.h): which bytes a segment is, produced once, kept, and prepared ahead.
 *
 * Key: a 128-bit hash of everything that shapes a segment's bytes: source path and identity,
 * variant (and for a rung its size, rate, level and encoder fingerprint; for an audio rendition
 * its rate and format), segment span and planned size, the plan's timestamp offset, and
 * SEGMENT_FORMAT. Equal keys give equal bytes on any machine (invariant 2).
 *
 * Work: one generation per key at a time (single flight: later callers wait for it and then open
 * the cache entry); a reader of segment k queues k+1..k+prefetch for the workers. Segments a
 * reader waits for come first: at most `workers` of them are made at once, whatever prefetch is
 * doing; prefetch makes segments only while fewer than `workers` generations run in all, and a
 * transcode made ahead pauses while a reader's transcode runs (the reader's gets every core).
 * When the cache cannot keep a segment (none configured, full, unwritable), it is made for the
 * open that asked, so a broken cache costs time, never a read.
 *
 * Locks, in order: S.lock (the prefetch queue, worker slots, stop) before the flights' own leaf
 * lock (flight.h); cache.h's locks are only taken with S.lock released. */
#include "segment.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "flight.h"
#include "hash.h"
#include "log.h"
#include "shared_store.h"
#include "stats.h"
#include "synth.h"
#include "transcode.h"

/* Bump when the bytes we write for the same plan change: old entries then never match. */
#define SEGMENT_FORMAT "ts-1"
#define AUDIO_FORMAT "a-1"
#define KEY_LEN CACHE_KEY_LEN
#define QUEUE_MAX 64
#define COPY_CHUNK (1 << 20)   /* a multiple of 8: the cache's checksum runs in these pieces */

struct job {
	struct media *m;
	unsigned variant;
	uint32_t seg;
};

static struct {
	struct segment_config cfg;
	pthread_mutex_t lock;        /* queue, generating, stop */
	pthread_cond_t changed;
	struct job queue[QUEUE_MAX];
	unsigned q_head, q_len;
	unsigned generating;         /* generations under way, readers' and prefetch's */
	unsigned generating_wanted;  /* those of them a reader asked for */
	bool stop;
	pthread_t *workers;
	unsigned nb_workers;
} S = { .cfg = { .workers = 1 }, .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static struct flight_set flights = FLIGHT_SET_INIT;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void make_key(const struct media *m, unsigned variant, uint32_t seg, char key[KEY_LEN + 1])
{
	const struct plan_segment *s = &m->plan->segments[seg];
	int rung = plan_variant_rung(m->plan, variant), rn = plan_variant_rendition(m->plan, variant);
	char mat[4096 + 512], enc[256] = "";
	int n;

	if (rn >= 0)
		snprintf(enc, sizeof(enc), "aac/%d/%u/%s", rn, PLAN_AAC_KBPS, AUDIO_FORMAT);
	if (rung >= 0) {
		const struct plan_rung *r = &m->plan->rungs[rung];
		char fp[200];
		transcode_fingerprint(fp, sizeof(fp));
		snprintf(enc, sizeof(enc), "%ux%u@%u/%u/%s", r->width, r->height, r->kbps, r->level, fp);
	}
	n = snprintf(mat, sizeof(mat), "%s|%" PRIu64 "|%" PRId64 "|%" PRIu64 "|%" PRIu64 "|%" PRIx64 "|%s|%s|%u|%" PRId64
			     "|%" PRId64 "|%" PRIu64 "|%" PRId64 "|" SEGMENT_FORMAT,
		     m->path, m->id.size, m->id.mtime_ns, m->id.ino, m->id.dev, m->id.tag, m->variants[variant], enc, seg,
		     s->start, s->end, plan_variant_size(m->plan, variant, seg), m->plan->ts_offset);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(mat) ? (size_t)n : sizeof(mat) - 1;
	snprintf(key, KEY_LEN + 1, "%016" PRIx64 "%016" PRIx64, hash_fnv1a(mat, len, 0),
		 hash_fnv1a(mat, len, 0x9e3779b97f4a7c15ull));
}

const char *segment_format(void)
{
	return SEGMENT_FORMAT "/" AUDIO_FORMAT;
}

/* What the producers read of m: borrowed while the caller holds m. */
static struct synth_input input_of(const struct media *m)
{
	return (struct synth_input){ .path = m->path, .id = &m->id, .ix = m->ix, .plan = m->plan };
}

static bool is_transcoded(const struct media *m, unsigned variant)
{
	int rn = plan_variant_rendition(m->plan, variant);
	return plan_variant_rung(m->plan, variant) >= 0 || (rn >= 0 && m->plan->renditions[rn].transcode);
}

/* Makes the bytes of a segment into w: remuxed piece by piece, or transcoded whole. */
static int produce(struct media *m, unsigned variant, uint32_t seg, struct cache_writer *w, uint64_t size)
{
	int rung = plan_variant_rung(m->plan, variant), rn = plan_variant_rendition(m->plan, variant);
	struct synth_input in = input_of(m);
	struct synth *s = NULL;
	uint8_t *buf = NULL, *whole = NULL;
	uint64_t off = 0;
	int ret;

	if (rn >= 0) {
		if ((ret = transcode_rendition_segment(&in, (unsigned)rn, seg, &whole)) < 0)
			return ret;
	} else if (rung >= 0) {
		if ((ret = transcode_segment(&in, (unsigned)rung, seg, &whole)) < 0)
			return ret;
	} else {
		if ((ret = synth_open(&in, seg, &s)) < 0)
			return ret;
		if (!(buf = malloc(COPY_CHUNK))) {
			ret = -ENOMEM;
			goto out;
		}
	}
	while (off < size) {
		const uint8_t *p;
		ssize_t n;
		if (whole) {
			p = whole + off;
			n = (ssize_t)(size - off < COPY_CHUNK ? size - off : COPY_CHUNK);
		} else {
			p = buf;
			if ((n = synth_read(s, (char *)buf, COPY_CHUNK, off)) <= 0) {
				ret = n < 0 ? (int)n : -EIO;
				goto out;
			}
		}
		if ((ret = cache_write(w, p, (size_t)n)) < 0)
			goto out;
		off += (uint64_t)n;
	}
	ret = 0;
out:
	free(buf);
	free(whole);
	synth_close(s);
	return ret;
}

/* Takes a generation slot: one a reader waits for (*wanted, read again at every wake-up, since a
 * reader may join a prefetch meanwhile) waits only on other readers' generations; prefetch waits
 * while `workers` generations run in all. *as_wanted (under S.lock) says whether the slot counts
 * as a reader's: slot_unwant may change that while it is held, slot_give reads it. */
static void slot_take(const bool *wanted, bool *as_wanted)
{
	bool w;

	pthread_mutex_lock(&S.lock);
	for (;;) {
		w = __atomic_load_n(wanted, __ATOMIC_ACQUIRE);
		if (S.stop || (w ? S.generating_wanted : S.generating) < S.cfg.workers)
			break;
		pthread_cond_wait(&S.changed, &S.lock);
	}
	S.generating++;
	S.generating_wanted += w;
	*as_wanted = w;
	pthread_mutex_unlock(&S.lock);
}

static void slot_give(bool *as_wanted)
{
	pthread_mutex_lock(&S.lock);
	S.generating--;
	S.generating_wanted -= *as_wanted;
	*as_wanted = false;
	pthread_cond_broadcast(&S.changed);
	pthread_mutex_unlock(&S.lock);
}

/* A reader's slot that no reader waits for any more counts as prefetch's from now on: the next
 * reader's generation need not wait for it. */
static void slot_unwant(bool *as_wanted)
{
	pthread_mutex_lock(&S.lock);
	if (*as_wanted) {
		S.generating_wanted--;
		*as_wanted = false;
		pthread_cond_broadcast(&S.changed);
	}
	pthread_mutex_unlock(&S.lock);
}

/* Generates segment seg of variant of m into the cache. Returns 0 when the entry is in place. */
static int generate(struct media *m, unsigned variant, uint32_t seg, const char *key)
{
	uint64_t size = plan_variant_size(m->plan, variant, seg);
	struct cache_writer *w;
	double t0 = mono_s();
	int ret;

	bool share = shared_store_enabled() && is_transcoded(m, variant);

	/* The cluster's shared store first: a segment another node made is not made again. */
	if (share && shared_store_fill(m, variant, seg, size, key) == 0)
		return 0;
	if ((ret = cache_write_begin(key, size, &w)) < 0)
		return ret;
	stats_gauge_add(STATS_GENERATIONS_IN_FLIGHT, 1);
	if ((ret = produce(m, variant, seg, w, size)) < 0)
		cache_write_abort(w);
	else
		ret = cache_write_commit(w, true);
	if (ret == 0 && share)
		shared_store_offer(m, variant, seg, size, key);
	if (ret == 0) {
		stats_add(STATS_GENERATIONS, 1);
		stats_generation_time(mono_s() - t0);
	}
	stats_gauge_add(STATS_GENERATIONS_IN_FLIGHT, -1);
	return ret;
}

/* Makes sure key is in the cache, generating it at most once however many ask, in a slot of
 * slot_take (wanted: a reader waits for it). Returns 0 when the entry is in place. */
static int fill(struct media *m, unsigned variant, uint32_t seg, const char *key, bool wanted)
{
	uint64_t size = plan_variant_size(m->plan, variant, seg);
	struct flight *f;
	int ret, result;
	bool as_wanted;

	if ((ret = flight_join(&flights, key, &f, &result)) <= 0)
		return ret < 0 ? ret : result;  /* another caller made it (or failed to) meanwhile */
	slot_take(&wanted, &as_wanted);

	/* While this caller waited for a worker, another may have made the segment. */
	ret = cache_has(key, size) ? 0 : generate(m, variant, seg, key);

	slot_give(&as_wanted);
	flight_land(&flights, f, ret);
	return ret;
}

/* ---- Transcoded video segments served while they are made ----
 *
 * A reader that misses the cache joins the segment's production (one per key: single flight),
 * made on a thread of its own into a buffer of the segment's planned size; a read at offset X
 * waits only until the bytes up to X + length are final (transcode_segment_stream says when),
 * and fails with EIO if the production does. When the segment is whole it goes to the cache (a
 * file written aside and renamed, as every entry) and the production ends; readers still
 * holding it read the buffer. A production started by prefetch is not wanted until a reader
 * joins it, and one whose readers all left before it was whole (a player that gave up on a slow
 * segment and switched down) is not wanted any more; while it is not, it pauses before each
 * source sample whenever a wanted one is being transcoded, and its slot is prefetch's. It is
 * still finished and kept: the player may come back to it. */
struct production {
	char key[KEY_LEN + 1];
	struct media *m;
	unsigned variant;
	uint32_t seg;
	uint8_t *buf;
	uint64_t size, ready;  /* [0, ready) final */
	int state;             /* 0 under way, 1 whole, < 0 failed */
	bool wanted;           /* a reader waits for it (set under P.lock, read atomically too) */
	bool making;           /* in transcode_segment_stream (counted in P.wanted_making when wanted) */
	bool slot_wanted;      /* its generation slot counts as a reader's (under S.lock; slot_take) */
	unsigned readers;      /* open segments reading it (P.lock) */
	unsigned refs;
	struct production *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct production *list;  /* under way */
	unsigned running;         /* production threads alive */
	unsigned wanted_making;   /* wanted productions being transcoded */
	bool stop;                /* unmounting: nothing pauses any more */
} P = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, false };

static void production_put(struct production *p)
{
	bool last;
	pthread_mutex_lock(&P.lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&P.lock);
	if (last) {
		free(p->buf);
		free(p);
	}
}

static void production_progress(void *ctx, uint64_t ready)
{
	struct production *p = ctx;
	if (ready >= p->size)
		return;  /* the whole: once it is in the cache and counted (production_main) */
	pthread_mutex_lock(&P.lock);
	if (ready > p->ready)
		p->ready = ready;
	pthread_cond_broadcast(&P.changed);
	pthread_mutex_unlock(&P.lock);
}

/* Before each source sample of a transcode: one not wanted waits while a wanted one is made. */
static void production_turn(void *ctx)
{
	struct production *p = ctx;
	bool paused = false;

	pthread_mutex_lock(&P.lock);
	while (!p->wanted && P.wanted_making && !P.stop) {
		if (!paused)
			stats_gauge_add(STATS_GENERATIONS_PAUSED, 1);
		paused = true;
		pthread_cond_wait(&P.changed, &P.lock);
	}
	pthread_mutex_unlock(&P.lock);
	if (paused)
		stats_gauge_add(STATS_GENERATIONS_PAUSED, -1);
}

/* Marks p as being transcoded (making) or done with it; P.wanted_making counts it while wanted. */
static void production_making(struct production *p, bool making)
{
	pthread_mutex_lock(&P.lock);
	p->making = making;
	if (p->wanted) {
		P.wanted_making += making ? 1 : -1;
		pthread_cond_broadcast(&P.changed);
	}
	pthread_mutex_unlock(&P.lock);
}

/* A reader is done with p (segment_close). When it was the last one and p is not whole yet, p
 * is no longer wanted: made on, but after every segment a reader waits for. */
static void production_leave(struct production *p)
{
	bool unwanted = false;

	pthread_mutex_lock(&P.lock);
	if (--p->readers == 0 && p->state == 0 && p->wanted) {
		__atomic_store_n(&p->wanted, false, __ATOMIC_RELEASE);
		P.wanted_making -= p->making;
		pthread_cond_broadcast(&P.changed);
		unwanted = true;
	}
	pthread_mutex_unlock(&P.lock);
	if (unwanted) {
		stats_add(STATS_PRODUCTIONS_LEFT, 1);
		slot_unwant(&p->slot_wanted);
	}
	production_put(p);
}

/* Fills p->buf from the cache entry of its key. */
static int production_load(struct production *p)
{
	int fd = cache_open(p->key, p->size);
	uint64_t off = 0;

	if (fd < 0)
		return -EIO;
	while (off < p->size) {
		ssize_t n = pread(fd, p->buf + off, (size_t)(p->size - off), (off_t)off);
		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		off += (uint64_t)n;
	}
	close(fd);
	return 0;
}

/* Keeps the whole segment in the cache; a cache that cannot keep it costs nothing here. */
static void production_keep(struct production *p)
{
	struct cache_writer *w;
	uint64_t off = 0;

	if (cache_write_begin(p->key, p->size, &w) < 0)
		return;
	while (off < p->size) {
		size_t n = p->size - off < COPY_CHUNK ? (size_t)(p->size - off) : COPY_CHUNK;
		if (cache_write(w, p->buf + off, n) < 0) {
			cache_write_abort(w);
			return;
		}
		off += n;
	}
	cache_write_commit(w, true);
}

/* Fills p->buf from the cluster's shared store, and keeps it in the local cache. */
static int production_from_store(struct production *p)
{
	uint8_t *data;
	int ret;

	if (!shared_store_enabled() || (ret = shared_store_get(p->m, p->variant, p->seg, p->size, &data)) < 0)
		return -ENOENT;
	memcpy(p->buf, data, p->size);
	free(data);
	production_keep(p);
	return 0;
}

static void *production_main(void *arg)
{
	struct production *p = arg;
	struct synth_input in = input_of(p->m);
	struct transcode_watch watch = { production_progress, production_turn, p };
	struct flight *f;
	int ret, result;
	double t0 = mono_s();

	if ((ret = flight_join(&flights, p->key, &f, &result)) <= 0) {
		/* A prefetch made it (or failed) meanwhile. */
		ret = ret < 0 ? ret : result < 0 ? result : production_load(p);
	} else {
		slot_take(&p->wanted, &p->slot_wanted);
		if (cache_has(p->key, p->size)) {
			ret = production_load(p);
		} else if (production_from_store(p) == 0) {
			ret = 0;  /* another node of the cluster made it */
		} else {
			stats_gauge_add(STATS_GENERATIONS_IN_FLIGHT, 1);
			production_making(p, true);
			ret = transcode_segment_stream(&in, (unsigned)plan_variant_rung(p->m->plan, p->variant), p->seg,
						       p->buf, &watch);
			production_making(p, false);
			if (ret == 0) {
				production_keep(p);
				if (shared_store_enabled())
					shared_store_offer(p->m, p->variant, p->seg, p->size, p->key);
				stats_add(STATS_GENERATIONS, 1);
				stats_generation_time(mono_s() - t0);
			}
			stats_gauge_add(STATS_GENERATIONS_IN_FLIGHT, -1);
		}
		slot_give(&p->slot_wanted);
		flight_land(&flights, f, ret);
	}
	pthread_mutex_lock(&P.lock);
	if (ret == 0)
		p->ready = p->size;
	p->state = ret < 0 ? (ret == -ENOMEM ? -ENOMEM : -EIO) : 1;
	for (struct production **q = &P.list; *q; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			break;
		}
	pthread_cond_broadcast(&P.changed);
	pthread_mutex_unlock(&P.lock);
	media_put(p->m);
	production_put(p);
	/* Counted out only now: segment_shutdown waits for P.running to reach zero, and then the media
	 * go (media_shutdown) while this thread would still be putting its media back. */
	pthread_mutex_lock(&P.lock);
	P.running--;
	pthread_cond_broadcast(&P.changed);
	pthread_mutex_unlock(&P.lock);
	return NULL;
}

/* Joins the production of key, starting it when none is under way; wanted: for a reader. */
static int production_join(struct media *m, unsigned variant, uint32_t seg, const char *key, uint64_t size,
			   bool wanted, struct production **out)
{
	struct production *p;
	pthread_attr_t attr;
	pthread_t t;
	int ret = 0;
	bool promoted = false;

	pthread_mutex_lock(&P.lock);
	for (p = P.list; p && strcmp(p->key, key); p = p->next)
		;
	if (p) {
		p->refs++;
		p->readers += wanted;
		*out = p;
		if (wanted && !p->wanted) {  /* a reader catches up with a prefetch: it goes first now */
			__atomic_store_n(&p->wanted, true, __ATOMIC_RELEASE);
			P.wanted_making += p->making;
			pthread_cond_broadcast(&P.changed);
			promoted = true;
		}
		goto out;
	}
	if (!(p = calloc(1, sizeof(*p))) || !(p->buf = malloc(size ? size : 1))) {
		free(p);
		ret = -ENOMEM;
		goto out;
	}
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->m = m;
	p->variant = variant;
	p->seg = seg;
	p->size = size;
	p->wanted = wanted;
	p->readers = wanted;
	p->refs = 2;  /* the caller's and the thread's */
	media_ref(m);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, production_main, p) != 0) {
		media_put(m);
		free(p->buf);
		free(p);
		ret = -EAGAIN;
	} else {
		p->next = P.list;
		P.list = p;
		P.running++;
		*out = p;
	}
	pthread_attr_destroy(&attr);
out:
	pthread_mutex_unlock(&P.lock);
	if (promoted) {  /* it may be waiting for a slot that a reader's generation would get */
		pthread_mutex_lock(&S.lock);
		pthread_cond_broadcast(&S.changed);
		pthread_mutex_unlock(&S.lock);
	}
	return ret;
}

static ssize_t production_read(struct production *p, char *buf, size_t size, uint64_t off)
{
	uint64_t want;
	int state;

	if (off >= p->size)
		return 0;
	if (size > p->size - off)
		size = (size_t)(p->size - off);
	want = off + size;
	pthread_mutex_lock(&P.lock);
	while (p->ready < want && p->state == 0)
		pthread_cond_wait(&P.changed, &P.lock);
	state = p->state;
	pthread_mutex_unlock(&P.lock);
	if (state < 0)
		return state;
	memcpy(buf, p->buf + off, size);  /* [0, ready) never changes */
	return (ssize_t)size;
}

static bool cached_or_flying(const char *key, uint64_t size)
{
	return cache_has(key, size) || flight_busy(&flights, key);
}

/* Queues segment k of variant for a worker, unless it is cached or being made. Returns false when
 * the queue is full or the workers are gone: nothing more can be queued now. */
static bool prefetch_queue(struct media *m, unsigned variant, uint32_t k)
{
	char key[KEY_LEN + 1];

	make_key(m, variant, k, key);
	if (cached_or_flying(key, plan_variant_size(m->plan, variant, k)))
		return true;
	pthread_mutex_lock(&S.lock);
	if (S.q_len == QUEUE_MAX || S.stop || !S.nb_workers) {
		pthread_mutex_unlock(&S.lock);
		return false;  /* the workers are behind (or not started): reading is served anyway */
	}
	media_ref(m);
	S.queue[(S.q_head + S.q_len) % QUEUE_MAX] = (struct job){ m, variant, k };
	S.q_len++;
	pthread_cond_broadcast(&S.changed);
	pthread_mutex_unlock(&S.lock);
	stats_add(STATS_PREFETCH_QUEUED, 1);
	return true;
}

static void prefetch(struct media *m, unsigned variant, uint32_t seg)
{
	for (uint32_t k = seg + 1; k <= seg + S.cfg.prefetch && k < m->plan->nb_segments; k++)
		if (!prefetch_queue(m, variant, k))
			return;
}

void segment_prepare_start(struct media *m, unsigned variant)
{
	if (m->error || m->growing || !S.cfg.prefetch || !cache_enabled() || !m->plan->nb_segments ||
	    variant >= m->nb_variants || plan_variant_rung(m->plan, variant) < 0)
		return;
	if (!__atomic_exchange_n(&m->started, true, __ATOMIC_ACQ_REL))
		prefetch_queue(m, variant, 0);
}

/* A transcoded video segment is prepared as a production, so that a reader arriving meanwhile
 * reads it as it is made; the worker waits for it, which bounds what prefetch starts at once. */
static void prefetch_one(struct media *m, unsigned variant, uint32_t seg, const char *key)
{
	struct production *p;

	if (plan_variant_rung(m->plan, variant) < 0 || production_join(m, variant, seg, key,
								       plan_variant_size(m->plan, variant, seg), false, &p) < 0) {
		fill(m, variant, seg, key, false);
		return;
	}
	pthread_mutex_lock(&P.lock);
	while (p->state == 0)
		pthread_cond_wait(&P.changed, &P.lock);
	pthread_mutex_unlock(&P.lock);
	production_put(p);
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.lock);
	for (;;) {
		struct job j;
		char key[KEY_LEN + 1];
		while (!S.q_len && !S.stop)
			pthread_cond_wait(&S.changed, &S.lock);
		if (S.stop)
			break;
		j = S.queue[S.q_head];
		S.q_head = (S.q_head + 1) % QUEUE_MAX;
		S.q_len--;
		pthread_mutex_unlock(&S.lock);
		make_key(j.m, j.variant, j.seg, key);
		if (!cached_or_flying(key, plan_variant_size(j.m->plan, j.variant, j.seg)))
			prefetch_one(j.m, j.variant, j.seg, key);
		media_put(j.m);
		pthread_mutex_lock(&S.lock);
	}
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

void segment_init(const struct segment_config *cfg)
{
	S.cfg = *cfg;
	if (S.cfg.workers == 0)
		S.cfg.workers = 1;
}

void segment_start(void)
{
	if (!cache_enabled() || S.workers)
		return;
	S.workers = calloc(S.cfg.workers, sizeof(*S.workers));
	for (unsigned i = 0; S.workers && i < S.cfg.workers; i++)
		if (pthread_create(&S.workers[i], NULL, worker, NULL) == 0)
			S.nb_workers++;
}

void segment_shutdown(void)
{
	transcode_stop();
	pthread_mutex_lock(&P.lock);  /* paused productions go on, to see the stop */
	P.stop = true;
	pthread_cond_broadcast(&P.changed);
	pthread_mutex_unlock(&P.lock);
	pthread_mutex_lock(&S.lock);
	S.stop = true;
	pthread_cond_broadcast(&S.changed);
	pthread_mutex_unlock(&S.lock);
	for (unsigned i = 0; i < S.nb_workers; i++)
		pthread_join(S.workers[i], NULL);
	pthread_mutex_lock(&P.lock);  /* productions end at their next frame */
	while (P.running)
		pthread_cond_wait(&P.changed, &P.lock);
	pthread_mutex_unlock(&P.lock);
	S.nb_workers = 0;
	free(S.workers);
	S.workers = NULL;
	while (S.q_len) {
		media_put(S.queue[S.q_head].m);
		S.q_head = (S.q_head + 1) % QUEUE_MAX;
		S.q_len--;
	}
}

int segment_open(struct media *m, unsigned variant, uint32_t seg, struct segment_file *out)
{
	char key[KEY_LEN + 1];
	struct synth_input in;
	bool transcoded;
	int fd, ret, rn;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	__atomic_store_n(&m->started, true, __ATOMIC_RELEASE);  /* its start is the player's now */
	if (m->error || seg >= m->plan->nb_segments || variant >= m->nb_variants) {
		media_put(m);
		return -ENOENT;
	}
	out->size = plan_variant_size(m->plan, variant, seg);
	rn = plan_variant_rendition(m->plan, variant);
	transcoded = is_transcoded(m, variant);
	if (cache_enabled() && (transcoded || S.cfg.cache_passthrough)) {
		make_key(m, variant, seg, key);
		fd = cache_open(key, out->size);
		if (fd >= 0) {
			stats_add(STATS_CACHE_HITS, 1);
		} else if (plan_variant_rung(m->plan, variant) >= 0) {
			/* A transcoded video segment: served while it is made. */
			stats_add(STATS_CACHE_MISSES, 1);
			if ((ret = production_join(m, variant, seg, key, out->size, true, &out->prod)) < 0) {
				media_put(m);
				return ret;
			}
			prefetch(m, variant, seg);
			media_put(m);
			return 0;
		} else {
			stats_add(STATS_CACHE_MISSES, 1);
			ret = fill(m, variant, seg, key, true);
			if (ret == -EIO) {
				/* The source failed (and said so once): no prefetch, no second try. */
				media_put(m);
				return -EIO;
			}
			fd = ret == 0 ? cache_open(key, out->size) : -1;
		}
		prefetch(m, variant, seg);
		if (fd >= 0) {
			out->fd = fd;
			media_put(m);
			return 0;
		}
	}
	in = input_of(m);
	if (rn >= 0) {
		/* Audio segments are small: made for this open alone when not cached. */
		ret = transcode_rendition_segment(&in, (unsigned)rn, seg, &out->mem);
	} else if (transcoded) {
		/* No cache, or it could not take the segment: made for this open alone. */
		ret = transcode_segment(&in, (unsigned)plan_variant_rung(m->plan, variant), seg, &out->mem);
	} else if ((ret = synth_open(&in, seg, &out->synth)) == 0) {
		out->m = m;  /* the synth reads m's index and plan until segment_close */
		return 0;
	}
	media_put(m);
	return ret;
}

void segment_close(struct segment_file *sf)
{
	if (sf->fd >= 0)
		close(sf->fd);
	free(sf->mem);
	sf->mem = NULL;
	synth_close(sf->synth);
	if (sf->prod)
		production_leave(sf->prod);
	sf->prod = NULL;
	media_put(sf->m);
	sf->fd = -1;
	sf->synth = NULL;
	sf->m = NULL;
}

ssize_t segment_read(struct segment_file *sf, char *buf, size_t size, uint64_t off)
{
	if (sf->fd >= 0) {
		ssize_t n = pread(sf->fd, buf, size, (off_t)off);
		return n < 0 ? -errno : n;
	}
	if (sf->prod)
		return production_read(sf->prod, buf, size, off);
	if (sf->mem) {
		if (off >= sf->size)
			return 0;
		if (size > sf->size - off)
			size = (size_t)(sf->size - off);
		memcpy(buf, sf->mem + off, size);
		return (ssize_t)size;
	}
	return synth_read(sf->synth, buf, size, off);
}
