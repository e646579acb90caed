/* Segment cache.
 *
 * Entries are files dir/seg/XX/KEY.ts, KEY a 128-bit hash of everything that shapes the bytes
 * (source path and identity, variant, segment span and size, output format version). A file
 * is written under dir/tmp, synced, renamed into place, and only then recorded in the store,
 * so a kill -9 leaves a stray temporary (removed at the next start) or an unrecorded file
 * (likewise), never a recorded partial one. A record whose file is missing or of another size,
 * or whose bytes fail their checksum the first time this process opens it, is dropped and the
 * segment generated again.
 *
 * Size: before a generation writes anything it reserves its size; eviction (least recently
 * used first) runs until entries, reservations and the index file fit cache_max. Recency is
 * kept in memory and written to the store every few seconds in one transaction.
 *
 * Work: one generation per key at a time (later callers wait for it); at most `workers`
 * generations at once; a reader of segment k queues k+1..k+prefetch for the workers. */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "stats.h"
#include "store.h"
#include "synth.h"
#include "transcode.h"

/* Bump when the bytes we write for the same plan change: old entries then never match. */
#define CACHE_FORMAT "ts-1"
#define LIBHLSFS_AUDIO_FORMAT "a-1"
#define KEY_LEN 32
#define QUEUE_MAX 64
#define TOUCH_MAX 1024
#define COPY_CHUNK (1 << 20)
#define BLOCK_KEY_MARK 'r'
#define BLOCK_SUFFIX ".blk"

struct flight {
	char key[KEY_LEN + 1];
	struct flight *next;
	unsigned refs;
	int done, result;
};

struct job {
	struct media *m;
	unsigned variant;
	uint32_t seg;
};

struct verified {
	char key[KEY_LEN + 1];
	struct verified *next;
};

static struct {
	bool enabled;
	struct cache_config cfg;
	char *dir;
	struct store *store;

	pthread_mutex_t lock;        /* flights, queue, touches, verified, counters below */
	pthread_cond_t changed;
	struct flight *flights;
	struct job queue[QUEUE_MAX];
	unsigned q_head, q_len;
	struct store_touch touches[TOUCH_MAX];
	size_t nb_touches;
	struct verified *verified[1024];
	unsigned generating;
	bool stop;
	int write_error;             /* last cache write errno logged, 0 after a success */

	pthread_mutex_t space;       /* eviction, reservations, totals */
	uint64_t total, reserved;

	pthread_t *workers;
	unsigned nb_workers;
	pthread_t maint;
	bool maint_started;
} C = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER,
	.space = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

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
		snprintf(enc, sizeof(enc), "aac/%d/%u/%s", rn, PLAN_AAC_KBPS, LIBHLSFS_AUDIO_FORMAT);
	if (rung >= 0) {
		const struct plan_rung *r = &m->plan->rungs[rung];
		char fp[200];
		transcode_fingerprint(fp, sizeof(fp));
		snprintf(enc, sizeof(enc), "%ux%u@%u/%u/%s", r->width, r->height, r->kbps, r->level, fp);
	}
	n = snprintf(mat, sizeof(mat), "%s|%" PRIu64 "|%" PRId64 "|%" PRIu64 "|%" PRIu64 "|%" PRIx64 "|%s|%s|%u|%" PRId64
			     "|%" PRId64 "|%" PRIu64 "|%" PRId64 "|" CACHE_FORMAT,
		     m->path, m->id.size, m->id.mtime_ns, m->id.ino, m->id.dev, m->id.tag, m->variants[variant], enc, seg,
		     s->start, s->end, plan_variant_size(m->plan, variant, seg), m->plan->ts_offset);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(mat) ? (size_t)n : sizeof(mat) - 1;
	snprintf(key, KEY_LEN + 1, "%016" PRIx64 "%016" PRIx64, hash_fnv1a(mat, len, 0),
		 hash_fnv1a(mat, len, 0x9e3779b97f4a7c15ull));
}

/* Segment keys are hex; block keys (blocks of remote sources) start with BLOCK_KEY_MARK. */
static bool is_block_key(const char *key)
{
	return key[0] == BLOCK_KEY_MARK;
}

static void entry_path(const char *key, char *out, size_t size)
{
	snprintf(out, size, "%s/seg/%.2s/%s%s", C.dir, key, key, is_block_key(key) ? BLOCK_SUFFIX : ".ts");
}

/* Removes an entry (file and record). With space held by the caller. */
static void drop_locked(const char *key, uint64_t size)
{
	struct store_segment rec;
	char path[4096];

	(void)size;
	/* Whoever listed the entry may be late: only a recorded entry is counted off, once, with
	 * the size its record says. */
	if (store_get_segment(C.store, key, &rec) < 0)
		return;
	entry_path(key, path, sizeof(path));
	unlink(path);
	store_del_segment(C.store, key);
	C.total = C.total >= rec.size ? C.total - rec.size : 0;
	stats_gauge_add(STATS_CACHE_BYTES, -(int64_t)rec.size);
	stats_gauge_add(STATS_CACHE_ENTRIES, -1);
}

static void drop(const char *key, uint64_t size)
{
	pthread_mutex_lock(&C.space);
	drop_locked(key, size);
	pthread_mutex_unlock(&C.space);
}

static void flush_touches(void)
{
	struct store_touch *copy;
	size_t n;

	pthread_mutex_lock(&C.lock);
	n = C.nb_touches;
	copy = n ? malloc(n * sizeof(*copy)) : NULL;
	if (copy)
		memcpy(copy, C.touches, n * sizeof(*copy));
	C.nb_touches = 0;
	pthread_mutex_unlock(&C.lock);
	if (copy)
		store_touch_segments(C.store, copy, n);
	free(copy);
}

static void touch(const char *key)
{
	bool full;
	pthread_mutex_lock(&C.lock);
	for (size_t i = 0; i < C.nb_touches; i++) {
		if (!strcmp(C.touches[i].key, key)) {
			C.touches[i].last_access = now_s();
			C.touches[i].hits++;
			pthread_mutex_unlock(&C.lock);
			return;
		}
	}
	snprintf(C.touches[C.nb_touches].key, sizeof(C.touches[0].key), "%s", key);
	C.touches[C.nb_touches].last_access = now_s();
	C.touches[C.nb_touches].hits = 1;
	full = ++C.nb_touches == TOUCH_MAX;
	pthread_mutex_unlock(&C.lock);
	if (full)
		flush_touches();
}

/* First open of an entry in this process checks its bytes against the recorded checksum. */
static bool was_verified(const char *key, bool mark)
{
	unsigned h = (unsigned)(hash_fnv1a(key, KEY_LEN, 0) % 1024);
	struct verified *v;
	bool found = false;

	pthread_mutex_lock(&C.lock);
	for (v = C.verified[h]; v; v = v->next)
		if (!strcmp(v->key, key))
			found = true;
	if (!found && mark && (v = calloc(1, sizeof(*v)))) {
		memcpy(v->key, key, KEY_LEN + 1);
		v->next = C.verified[h];
		C.verified[h] = v;
	}
	pthread_mutex_unlock(&C.lock);
	return found;
}

static int verify_file(int fd, uint64_t size, uint64_t checksum)
{
	uint8_t *buf = malloc(COPY_CHUNK);
	uint64_t h = HASH_BASIS, off = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (off < size) {
		ssize_t n = pread(fd, buf, COPY_CHUNK, (off_t)off);
		if (n <= 0) {
			ret = -EIO;
			break;
		}
		h = hash_words(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	return ret < 0 ? ret : h == checksum ? 0 : -EIO;
}

/* Opens the entry for key when it is present and whole. Returns an fd or a negative errno. */
static int lookup(const char *key, uint64_t size)
{
	struct store_segment rec, now;
	struct stat st;
	char path[4096];
	int fd;

	/* Record and file are read under the space lock, which eviction and insertion hold: what
	 * is found missing here is really missing, not being replaced meanwhile. */
	pthread_mutex_lock(&C.space);
	if (store_get_segment(C.store, key, &rec) < 0) {
		pthread_mutex_unlock(&C.space);
		return -ENOENT;
	}
	entry_path(key, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || rec.size != size || (uint64_t)st.st_size != size) {
		if (fd >= 0)
			close(fd);
		drop_locked(key, rec.size);
		pthread_mutex_unlock(&C.space);
		goto damaged;
	}
	pthread_mutex_unlock(&C.space);
	if (!was_verified(key, false) && verify_file(fd, size, rec.checksum) < 0) {
		close(fd);
		pthread_mutex_lock(&C.space);
		if (store_get_segment(C.store, key, &now) == 0 && now.checksum == rec.checksum)
			drop_locked(key, now.size);
		pthread_mutex_unlock(&C.space);
		goto damaged;
	}
	was_verified(key, true);
	touch(key);
	return fd;
damaged:
	log_warn("%s: cache entry damaged or missing; generating it again", path);
	stats_add(STATS_CACHE_TORN, 1);
	return -ENOENT;
}

static uint64_t index_file_size(void)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/index.lmdb", C.dir);
	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

struct lru_item {
	char key[KEY_LEN + 1];
	int64_t last_access;
	uint64_t size;
};

struct lru_list {
	struct lru_item *items;
	size_t n, cap;
	int64_t older_than;  /* only entries last used before this, when set */
	int kind;            /* 0: every entry; 1: segments only; 2: blocks only */
};

static int collect(const char *key, const struct store_segment *rec, void *arg)
{
	struct lru_list *l = arg;
	if (strlen(key) != KEY_LEN || (l->older_than && rec->last_access >= l->older_than) ||
	    (l->kind && (l->kind == 2) != is_block_key(key)))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct lru_item *p = realloc(l->items, cap * sizeof(*p));
		if (!p)
			return 1;
		l->items = p;
		l->cap = cap;
	}
	memcpy(l->items[l->n].key, key, KEY_LEN + 1);
	l->items[l->n].last_access = rec->last_access;
	l->items[l->n].size = rec->size;
	l->n++;
	return 0;
}

static int lru_cmp(const void *a, const void *b)
{
	const struct lru_item *x = a, *y = b;
	if (x->last_access != y->last_access)
		return x->last_access < y->last_access ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* With space held: evicts, least recently used first, until need more bytes fit. */
static bool make_room_locked(uint64_t need)
{
	struct lru_list l = { 0 };
	uint64_t max = C.cfg.max_bytes, fixed;
	size_t i;

	if (!max)
		return true;
	fixed = index_file_size();
	if (need + fixed > max)
		return false;
	if (C.total + C.reserved + need + fixed <= max)
		return true;
	flush_touches();
	store_each_segment(C.store, collect, &l);
	if (l.n)
		qsort(l.items, l.n, sizeof(l.items[0]), lru_cmp);
	for (i = 0; i < l.n && C.total + C.reserved + need + fixed > max; i++) {
		drop_locked(l.items[i].key, l.items[i].size);
		stats_add(STATS_CACHE_EVICTIONS, 1);
	}
	free(l.items);
	return C.total + C.reserved + need + fixed <= max;
}

static void write_failed(const char *what, int err)
{
	stats_add(STATS_CACHE_ERRORS, 1);
	pthread_mutex_lock(&C.lock);
	if (C.write_error != err) {
		C.write_error = err;
		pthread_mutex_unlock(&C.lock);
		log_error("%s: cannot write the cache (%s); serving segments uncached", what, strerror(err));
		return;
	}
	pthread_mutex_unlock(&C.lock);
}

/* Makes the bytes of a segment into fd: remuxed piece by piece, or transcoded whole. */
static int produce(struct media *m, unsigned variant, uint32_t seg, int fd, const char *tmp, uint64_t size,
		   uint64_t *sum)
{
	int rung = plan_variant_rung(m->plan, variant), rn = plan_variant_rendition(m->plan, variant);
	struct synth *s = NULL;
	uint8_t *buf = NULL, *whole = NULL;
	uint64_t off = 0;
	int ret;

	if (rn >= 0) {
		if ((ret = transcode_rendition_segment(m, (unsigned)rn, seg, &whole)) < 0)
			return ret;
	} else if (rung >= 0) {
		if ((ret = transcode_segment(m, (unsigned)rung, seg, &whole)) < 0)
			return ret;
	} else {
		media_ref(m);
		if ((ret = synth_open(m, seg, &s)) < 0) {
			media_put(m);
			return ret;
		}
		if (!(buf = malloc(COPY_CHUNK))) {
			ret = -ENOMEM;
			goto out;
		}
	}
	while (off < size) {
		const uint8_t *p;
		ssize_t n, w = 0;
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
		*sum = hash_words(*sum, p, (size_t)n);
		while (w < n) {
			ssize_t k = write(fd, p + w, (size_t)(n - w));
			if (k < 0) {
				if (errno == EINTR)
					continue;
				ret = -errno;
				write_failed(tmp, errno);
				goto out;
			}
			w += k;
		}
		off += (uint64_t)n;
	}
	ret = 0;
out:
	free(buf);
	free(whole);
	synth_close(s);
	return ret;
}

/* Puts the finished temporary file tmp in place as the entry of key, and records it. */
static int install(const char *key, const char *tmp, uint64_t size, uint64_t sum)
{
	struct store_segment rec = { .size = size, .checksum = sum, .last_access = now_s() }, old;
	char path[4096], dir[4096];
	int ret;

	snprintf(dir, sizeof(dir), "%s/seg/%.2s", C.dir, key);
	entry_path(key, path, sizeof(path));
	pthread_mutex_lock(&C.space);
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || rename(tmp, path) < 0) {
		ret = -errno;
		pthread_mutex_unlock(&C.space);
		unlink(tmp);
		write_failed(path, -ret);
		return ret;
	}
	/* Two fetches of one block may both finish: the second replaces the first. */
	if (store_get_segment(C.store, key, &old) == 0) {
		C.total = C.total >= old.size ? C.total - old.size : 0;
		stats_gauge_add(STATS_CACHE_BYTES, -(int64_t)old.size);
		stats_gauge_add(STATS_CACHE_ENTRIES, -1);
	}
	if ((ret = store_put_segment(C.store, key, &rec)) < 0) {
		unlink(path);
		pthread_mutex_unlock(&C.space);
		write_failed(path, -ret);
		return ret;
	}
	C.total += size;
	stats_gauge_add(STATS_CACHE_BYTES, (int64_t)size);
	stats_gauge_add(STATS_CACHE_ENTRIES, 1);
	pthread_mutex_unlock(&C.space);
	was_verified(key, true);
	pthread_mutex_lock(&C.lock);
	C.write_error = 0;
	pthread_mutex_unlock(&C.lock);
	return 0;
}

/* Generates segment seg of variant of m into the cache. Returns 0 when the entry is in place. */
static int generate(struct media *m, unsigned variant, uint32_t seg, const char *key)
{
	uint64_t size = plan_variant_size(m->plan, variant, seg), sum = HASH_BASIS;
	char tmp[4096];
	double t0 = mono_s();
	int fd = -1, ret;

	pthread_mutex_lock(&C.space);
	if (!make_room_locked(size)) {
		pthread_mutex_unlock(&C.space);
		return -EFBIG;  /* larger than the whole cache: served uncached */
	}
	C.reserved += size;
	pthread_mutex_unlock(&C.space);

	stats_gauge_add(STATS_GENERATIONS_IN_FLIGHT, 1);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.XXXXXX", C.dir, key);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		ret = -errno;
		write_failed(tmp, errno);
		goto out;
	}
	if ((ret = produce(m, variant, seg, fd, tmp, size, &sum)) < 0)
		goto out;
	if (fdatasync(fd) < 0) {
		ret = -errno;
		write_failed(tmp, errno);
		goto out;
	}
	close(fd);
	fd = -1;
	if ((ret = install(key, tmp, size, sum)) < 0)
		goto out;
	stats_add(STATS_GENERATIONS, 1);
	stats_generation_time(mono_s() - t0);
	ret = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	pthread_mutex_lock(&C.space);
	C.reserved -= size;
	pthread_mutex_unlock(&C.space);
	stats_gauge_add(STATS_GENERATIONS_IN_FLIGHT, -1);
	return ret;
}

/* Makes sure key is in the cache, generating it at most once however many ask. */
static int fill(struct media *m, unsigned variant, uint32_t seg, const char *key)
{
	struct flight *f;
	int ret;

	pthread_mutex_lock(&C.lock);
	for (;;) {
		struct store_segment rec;
		for (f = C.flights; f; f = f->next)
			if (!strcmp(f->key, key))
				break;
		if (f)
			break;
		/* While this caller waited for a worker, another may have made the segment. */
		if (store_get_segment(C.store, key, &rec) == 0 && rec.size == plan_variant_size(m->plan, variant, seg)) {
			pthread_mutex_unlock(&C.lock);
			return 0;
		}
		if (C.generating < C.cfg.workers || C.stop)
			break;
		pthread_cond_wait(&C.changed, &C.lock);
	}
	if (f) {
		f->refs++;
		while (!f->done)
			pthread_cond_wait(&C.changed, &C.lock);
		ret = f->result;
		if (--f->refs == 0)
			free(f);
		pthread_mutex_unlock(&C.lock);
		return ret;
	}
	if (!(f = calloc(1, sizeof(*f)))) {
		pthread_mutex_unlock(&C.lock);
		return -ENOMEM;
	}
	memcpy(f->key, key, KEY_LEN + 1);
	f->refs = 1;
	f->next = C.flights;
	C.flights = f;
	C.generating++;
	pthread_mutex_unlock(&C.lock);

	ret = generate(m, variant, seg, key);

	pthread_mutex_lock(&C.lock);
	for (struct flight **pp = &C.flights; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	f->done = 1;
	f->result = ret;
	C.generating--;
	if (--f->refs == 0)
		free(f);
	pthread_cond_broadcast(&C.changed);
	pthread_mutex_unlock(&C.lock);
	return ret;
}

static bool cached_or_flying(const char *key, uint64_t size)
{
	struct store_segment rec;
	bool yes = store_get_segment(C.store, key, &rec) == 0 && rec.size == size;
	if (!yes) {
		pthread_mutex_lock(&C.lock);
		for (struct flight *f = C.flights; f && !yes; f = f->next)
			yes = !strcmp(f->key, key);
		pthread_mutex_unlock(&C.lock);
	}
	return yes;
}

static void prefetch(struct media *m, unsigned variant, uint32_t seg)
{
	for (uint32_t k = seg + 1; k <= seg + C.cfg.prefetch && k < m->plan->nb_segments; k++) {
		char key[KEY_LEN + 1];
		make_key(m, variant, k, key);
		if (cached_or_flying(key, plan_variant_size(m->plan, variant, k)))
			continue;
		pthread_mutex_lock(&C.lock);
		if (C.q_len == QUEUE_MAX || C.stop) {
			pthread_mutex_unlock(&C.lock);
			return;  /* the workers are behind: reading is served anyway */
		}
		media_ref(m);
		C.queue[(C.q_head + C.q_len) % QUEUE_MAX] = (struct job){ m, variant, k };
		C.q_len++;
		pthread_cond_broadcast(&C.changed);
		pthread_mutex_unlock(&C.lock);
		stats_add(STATS_PREFETCH_QUEUED, 1);
	}
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&C.lock);
	for (;;) {
		struct job j;
		char key[KEY_LEN + 1];
		while (!C.q_len && !C.stop)
			pthread_cond_wait(&C.changed, &C.lock);
		if (C.stop)
			break;
		j = C.queue[C.q_head];
		C.q_head = (C.q_head + 1) % QUEUE_MAX;
		C.q_len--;
		pthread_mutex_unlock(&C.lock);
		make_key(j.m, j.variant, j.seg, key);
		if (!cached_or_flying(key, plan_variant_size(j.m->plan, j.variant, j.seg)))
			fill(j.m, j.variant, j.seg, key);
		media_put(j.m);
		pthread_mutex_lock(&C.lock);
	}
	pthread_mutex_unlock(&C.lock);
	return NULL;
}

/* Writes recency every few seconds and drops entries older than cache_ttl. */
static void *maintenance(void *arg)
{
	int64_t next_sweep = 0;
	(void)arg;
	pthread_mutex_lock(&C.lock);
	while (!C.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		pthread_cond_timedwait(&C.changed, &C.lock, &ts);
		if (C.stop)
			break;
		pthread_mutex_unlock(&C.lock);
		flush_touches();
		if ((C.cfg.ttl_seconds || C.cfg.block_ttl_seconds) && now_s() >= next_sweep) {
			uint64_t ttl[2] = { C.cfg.ttl_seconds, C.cfg.block_ttl_seconds }, least = 0;
			for (int kind = 1; kind <= 2; kind++) {
				struct lru_list l = { .older_than = now_s() - (int64_t)ttl[kind - 1], .kind = kind };
				if (!ttl[kind - 1])
					continue;
				least = least && least < ttl[kind - 1] ? least : ttl[kind - 1];
				store_each_segment(C.store, collect, &l);
				for (size_t i = 0; i < l.n; i++) {
					drop(l.items[i].key, l.items[i].size);
					stats_add(STATS_CACHE_EVICTIONS, 1);
				}
				free(l.items);
			}
			next_sweep = now_s() + (least < 240 ? (int64_t)least / 4 + 1 : 60);
		}
		pthread_mutex_lock(&C.lock);
	}
	pthread_mutex_unlock(&C.lock);
	return NULL;
}

static int count_existing(const char *key, const struct store_segment *rec, void *arg)
{
	(void)key;
	(void)arg;
	C.total += rec->size;
	stats_gauge_add(STATS_CACHE_BYTES, (int64_t)rec->size);
	stats_gauge_add(STATS_CACHE_ENTRIES, 1);
	return 0;
}

/* Removes what a killed process left: temporaries, and files the store does not record. */
static void sweep_disk(void)
{
	char path[4096];
	DIR *d, *sub;
	struct dirent *de, *se;

	snprintf(path, sizeof(path), "%s/tmp", C.dir);
	if ((d = opendir(path))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/seg", C.dir);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/seg/%s", C.dir, de->d_name);
		if (!(sub = opendir(path)))
			continue;
		while ((se = readdir(sub))) {
			struct store_segment rec;
			char key[KEY_LEN + 1];
			if (se->d_name[0] == '.')
				continue;
			char want[KEY_LEN + 8];
			memcpy(key, se->d_name, KEY_LEN);
			key[KEY_LEN] = '\0';
			if (strlen(se->d_name) < KEY_LEN)
				want[0] = '\0';
			else
				snprintf(want, sizeof(want), "%s%s", key, is_block_key(key) ? BLOCK_SUFFIX : ".ts");
			if (strcmp(se->d_name, want) || store_get_segment(C.store, key, &rec) < 0)
				unlinkat(dirfd(sub), se->d_name, 0);
		}
		closedir(sub);
	}
	closedir(d);
}

int cache_init(const struct cache_config *cfg, struct store *store)
{
	char path[4096];

	C.cfg = *cfg;
	if (C.cfg.workers == 0)
		C.cfg.workers = 1;
	if (!cfg->dir || !store)
		return 0;
	if (!(C.dir = strdup(cfg->dir)))
		return -ENOMEM;
	C.cfg.dir = C.dir;
	C.store = store;
	snprintf(path, sizeof(path), "%s/tmp", C.dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/seg", C.dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	sweep_disk();
	store_each_segment(store, count_existing, NULL);
	C.enabled = true;
	return 0;
}

void cache_start(void)
{
	if (!C.enabled || C.workers)
		return;
	C.workers = calloc(C.cfg.workers, sizeof(*C.workers));
	for (unsigned i = 0; C.workers && i < C.cfg.workers; i++)
		if (pthread_create(&C.workers[i], NULL, worker, NULL) == 0)
			C.nb_workers++;
	C.maint_started = pthread_create(&C.maint, NULL, maintenance, NULL) == 0;
}

void cache_shutdown(void)
{
	transcode_stop();
	pthread_mutex_lock(&C.lock);
	C.stop = true;
	pthread_cond_broadcast(&C.changed);
	pthread_mutex_unlock(&C.lock);
	for (unsigned i = 0; i < C.nb_workers; i++)
		pthread_join(C.workers[i], NULL);
	if (C.maint_started)
		pthread_join(C.maint, NULL);
	C.nb_workers = 0;
	C.maint_started = false;
	while (C.q_len) {
		media_put(C.queue[C.q_head].m);
		C.q_head = (C.q_head + 1) % QUEUE_MAX;
		C.q_len--;
	}
	if (C.enabled)
		flush_touches();
	for (size_t i = 0; i < 1024; i++) {
		while (C.verified[i]) {
			struct verified *v = C.verified[i];
			C.verified[i] = v->next;
			free(v);
		}
	}
	free(C.workers);
	C.workers = NULL;
	free(C.dir);
	C.dir = NULL;
	C.enabled = false;
}

int cache_open_segment(struct media *m, unsigned variant, uint32_t seg, struct cache_segment *out)
{
	char key[KEY_LEN + 1];
	bool transcoded;
	int fd, ret, rn;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (m->error || seg >= m->plan->nb_segments || variant >= m->nb_variants) {
		media_put(m);
		return -ENOENT;
	}
	out->size = plan_variant_size(m->plan, variant, seg);
	rn = plan_variant_rendition(m->plan, variant);
	transcoded = plan_variant_rung(m->plan, variant) >= 0 || (rn >= 0 && m->plan->renditions[rn].transcode);
	if (C.enabled && (transcoded || C.cfg.passthrough)) {
		make_key(m, variant, seg, key);
		fd = lookup(key, out->size);
		if (fd >= 0) {
			stats_add(STATS_CACHE_HITS, 1);
		} else {
			stats_add(STATS_CACHE_MISSES, 1);
			ret = fill(m, variant, seg, key);
			if (ret == -EIO) {
				/* The source failed (and said so once): no prefetch, no second try. */
				media_put(m);
				return -EIO;
			}
			fd = ret == 0 ? lookup(key, out->size) : -1;
		}
		prefetch(m, variant, seg);
		if (fd >= 0) {
			out->fd = fd;
			media_put(m);
			return 0;
		}
	}
	if (rn >= 0) {
		/* Audio segments are small: made for this open alone when not cached. */
		ret = transcode_rendition_segment(m, (unsigned)rn, seg, &out->mem);
		media_put(m);
		return ret;
	}
	if (transcoded) {
		/* No cache, or it could not take the segment: made for this open alone. */
		ret = transcode_segment(m, (unsigned)plan_variant_rung(m->plan, variant), seg, &out->mem);
		media_put(m);
		return ret;
	}
	ret = synth_open(m, seg, &out->synth);
	if (ret < 0)
		media_put(m);
	return ret;
}

void cache_close_segment(struct cache_segment *cs)
{
	if (cs->fd >= 0)
		close(cs->fd);
	free(cs->mem);
	cs->mem = NULL;
	synth_close(cs->synth);
	cs->fd = -1;
	cs->synth = NULL;
}

ssize_t cache_read_segment(struct cache_segment *cs, char *buf, size_t size, uint64_t off)
{
	if (cs->fd >= 0) {
		ssize_t n = pread(cs->fd, buf, size, (off_t)off);
		return n < 0 ? -errno : n;
	}
	if (cs->mem) {
		if (off >= cs->size)
			return 0;
		if (size > cs->size - off)
			size = (size_t)(cs->size - off);
		memcpy(buf, cs->mem + off, size);
		return (ssize_t)size;
	}
	return synth_read(cs->synth, buf, size, off);
}

/* --- blocks of remote sources ------------------------------------------------------------- */

static void block_key(const char *material, char key[KEY_LEN + 1])
{
	size_t len = strlen(material);
	snprintf(key, KEY_LEN + 1, "%c%015" PRIx64 "%016" PRIx64, BLOCK_KEY_MARK,
		 hash_fnv1a(material, len, 0) >> 4, hash_fnv1a(material, len, 0x9e3779b97f4a7c15ull));
}

int cache_block_get(const char *material, void *buf, size_t n)
{
	char key[KEY_LEN + 1];
	size_t done = 0;
	int fd;

	if (!C.enabled)
		return -ENOENT;
	block_key(material, key);
	if ((fd = lookup(key, n)) < 0)
		return -ENOENT;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)done);
		if (r <= 0 && !(r < 0 && errno == EINTR)) {
			close(fd);
			return -ENOENT;
		}
		if (r > 0)
			done += (size_t)r;
	}
	close(fd);
	return 0;
}

bool cache_block_has(const char *material)
{
	char key[KEY_LEN + 1];
	struct store_segment rec;

	if (!C.enabled)
		return false;
	block_key(material, key);
	return store_get_segment(C.store, key, &rec) == 0;
}

void cache_block_put(const char *material, const void *buf, size_t n)
{
	char key[KEY_LEN + 1], tmp[4096];
	uint64_t sum;
	size_t done = 0;
	int fd;

	if (!C.enabled)
		return;
	block_key(material, key);
	pthread_mutex_lock(&C.space);
	if (!make_room_locked(n)) {
		pthread_mutex_unlock(&C.space);
		return;
	}
	C.reserved += n;
	pthread_mutex_unlock(&C.space);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.XXXXXX", C.dir, key);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		write_failed(tmp, errno);
		goto out;
	}
	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			write_failed(tmp, w < 0 ? errno : EIO);
			break;
		}
		done += (size_t)w;
	}
	/* No fdatasync, unlike segments: a block torn by a crash fails its checksum, which the
	 * first open in every process verifies, and is fetched again. */
	if (done < n) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	sum = hash_words(HASH_BASIS, buf, n);
	install(key, tmp, n, sum);
out:
	pthread_mutex_lock(&C.space);
	C.reserved -= n;
	pthread_mutex_unlock(&C.space);
}
