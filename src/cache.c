/* The cache: a key -> file store on disk (cache.h).
 *
 * Entries are files dir/seg/XX/KEY.ts (segments) or KEY.blk (blocks of remote sources, whose keys
 * start with BLOCK_KEY_MARK). A file is written under dir/tmp, renamed into place, and only then
 * recorded in the store, so a kill -9 leaves a stray temporary (removed at the next start) or an
 * unrecorded file (likewise), never a recorded partial one. A record whose file is missing or of
 * another size, or whose bytes fail their checksum the first time this process opens it, is
 * dropped: the caller makes the bytes again.
 *
 * Size: before anything is written its size is reserved; eviction (least recently used first)
 * runs until entries, reservations and the index file fit cache_max. Recency is kept in memory
 * and written to the store every few seconds (or when the buffer fills) in one transaction.
 *
 * Locks, in the order they may be taken (never the reverse):
 *   C.space  eviction, reservations, totals, and every record/file change (so what lookup finds
 *            missing is really missing, not being replaced meanwhile)
 *   C.lock   recency buffer, the verified set, the write-error latch, the stop flag; a leaf:
 *            nothing else is locked or called out to while it is held
 * The store (LMDB) has its own locking and is called under C.space. */
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

#define KEY_LEN CACHE_KEY_LEN
#define TOUCH_MAX 1024
#define VERIFIED_BUCKETS 1024
#define COPY_CHUNK (1 << 20)
#define BLOCK_KEY_MARK 'r'
#define BLOCK_SUFFIX ".blk"

struct verified {
	char key[KEY_LEN + 1];
	struct verified *next;
};

struct cache_writer {
	char key[KEY_LEN + 1];
	char tmp[4096];
	int fd;
	uint64_t size, written, sum;
};

static struct {
	bool enabled;
	struct cache_config cfg;
	char *dir;
	struct store *store;

	pthread_mutex_t lock;        /* touches, verified, write_error, stop (a leaf lock) */
	pthread_cond_t changed;
	struct store_touch *touches; /* TOUCH_MAX of them, nb_touches in use */
	size_t nb_touches;
	struct verified *verified[VERIFIED_BUCKETS];
	bool stop;
	int write_error;             /* last cache write errno logged, 0 after a success */

	pthread_mutex_t space;       /* eviction, reservations, totals, record and file changes */
	uint64_t total, reserved;

	pthread_t maint;
	bool maint_started;
} C = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER,
	.space = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* Segment keys are hex; block keys (blocks of remote sources) start with BLOCK_KEY_MARK. */
static bool is_block_key(const char *key)
{
	return key[0] == BLOCK_KEY_MARK;
}

/* The file name's end: .blk for blocks, .jpg for preview sheets (CACHE_PREVIEW_MARK), .ts for segments. */
static const char *entry_suffix(const char *key)
{
	return is_block_key(key) ? BLOCK_SUFFIX : key[0] == CACHE_PREVIEW_MARK ? ".jpg" : ".ts";
}

static void entry_path(const char *key, char *out, size_t size)
{
	snprintf(out, size, "%s/seg/%.2s/%s%s", C.dir, key, key, entry_suffix(key));
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

/* Writes the recency buffer out. With C.lock held: takes the buffer (the lock is released while
 * the store is written, a fresh buffer taking its place), so no touch can ever find it full. */
static void flush_touches_locked(void)
{
	struct store_touch *full = C.touches, *fresh;
	size_t n = C.nb_touches;

	if (!n)
		return;
	if (!(fresh = malloc(TOUCH_MAX * sizeof(*fresh)))) {
		C.nb_touches = 0;  /* recency is a hint: under memory pressure it is dropped, not overrun */
		return;
	}
	C.touches = fresh;
	C.nb_touches = 0;
	pthread_mutex_unlock(&C.lock);
	store_touch_segments(C.store, full, n);
	free(full);
	pthread_mutex_lock(&C.lock);
}

static void flush_touches(void)
{
	pthread_mutex_lock(&C.lock);
	flush_touches_locked();
	pthread_mutex_unlock(&C.lock);
}

/* Notes a use of key. The buffer is flushed under the same critical section that filled its last
 * slot, so it is never written past its end however many threads touch at once. */
static void touch(const char *key)
{
	pthread_mutex_lock(&C.lock);
	for (size_t i = 0; i < C.nb_touches; i++) {
		if (!strcmp(C.touches[i].key, key)) {
			C.touches[i].last_access = now_s();
			C.touches[i].hits++;
			pthread_mutex_unlock(&C.lock);
			return;
		}
	}
	if (C.touches && C.nb_touches < TOUCH_MAX) {
		snprintf(C.touches[C.nb_touches].key, sizeof(C.touches[0].key), "%s", key);
		C.touches[C.nb_touches].last_access = now_s();
		C.touches[C.nb_touches].hits = 1;
		C.nb_touches++;
	}
	if (C.nb_touches == TOUCH_MAX)
		flush_touches_locked();
	pthread_mutex_unlock(&C.lock);
}

/* First open of an entry in this process checks its bytes against the recorded checksum. */
static bool was_verified(const char *key, bool mark)
{
	unsigned h = (unsigned)(hash_fnv1a(key, KEY_LEN, 0) % VERIFIED_BUCKETS);
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

/* Opens the entry for key when it is present and whole. Returns an fd or -ENOENT. */
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

/* The space a file takes as du counts it: its apparent size, or its blocks when more. */
static uint64_t space_of(const char *path)
{
	struct stat st;
	uint64_t blocks;

	if (stat(path, &st) < 0)
		return 0;
	blocks = (uint64_t)st.st_blocks * 512;
	return (uint64_t)st.st_size > blocks ? (uint64_t)st.st_size : blocks;
}

/* What the cache folder takes besides its entries: the index and its lock file, the folders
 * (seg/XX ones included), and room for the one folder the next entry may create. */
static uint64_t fixed_size(void)
{
	char path[4096];
	uint64_t n = 4096;
	DIR *d;

	snprintf(path, sizeof(path), "%s/index.lmdb", C.dir);
	n += space_of(path);
	snprintf(path, sizeof(path), "%s/index.lmdb-lock", C.dir);
	n += space_of(path) + space_of(C.dir);
	snprintf(path, sizeof(path), "%s/tmp", C.dir);
	n += space_of(path);
	snprintf(path, sizeof(path), "%s/seg", C.dir);
	n += space_of(path);
	if ((d = opendir(path))) {
		struct dirent *de;
		struct stat st;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode))
				n += (uint64_t)st.st_size > (uint64_t)st.st_blocks * 512 ? (uint64_t)st.st_size
											 : (uint64_t)st.st_blocks * 512;
		closedir(d);
	}
	return n;
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
	fixed = fixed_size();
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

bool cache_enabled(void)
{
	return C.enabled;
}

int cache_open(const char *key, uint64_t size)
{
	if (!C.enabled)
		return -ENOENT;
	return lookup(key, size);
}

bool cache_has(const char *key, uint64_t size)
{
	struct store_segment rec;
	return C.enabled && store_get_segment(C.store, key, &rec) == 0 && rec.size == size;
}

int cache_write_begin(const char *key, uint64_t size, struct cache_writer **out)
{
	struct cache_writer *w;
	int ret;

	*out = NULL;
	if (!C.enabled)
		return -ENOENT;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	pthread_mutex_lock(&C.space);
	if (!make_room_locked(size)) {
		pthread_mutex_unlock(&C.space);
		free(w);
		return -EFBIG;  /* larger than the whole cache: served uncached */
	}
	C.reserved += size;
	pthread_mutex_unlock(&C.space);
	snprintf(w->key, sizeof(w->key), "%s", key);
	snprintf(w->tmp, sizeof(w->tmp), "%s/tmp/%s.XXXXXX", C.dir, key);
	w->size = size;
	w->sum = HASH_BASIS;
	if ((w->fd = mkostemp(w->tmp, O_CLOEXEC)) < 0) {
		ret = -errno;
		write_failed(w->tmp, -ret);
		w->tmp[0] = '\0';
		cache_write_abort(w);
		return ret;
	}
	*out = w;
	return 0;
}

int cache_write(struct cache_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t done = 0;

	if (n > w->size - w->written)
		return -EINVAL;  /* more than was reserved: a bug of the caller's, never kept */
	w->sum = hash_words(w->sum, b, n);
	while (done < n) {
		ssize_t k = write(w->fd, b + done, n - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int err = k < 0 ? errno : EIO;
			write_failed(w->tmp, err);
			return -err;
		}
		done += (size_t)k;
	}
	w->written += n;
	return 0;
}

int cache_write_commit(struct cache_writer *w, bool durable)
{
	int ret;

	if (w->written != w->size) {
		cache_write_abort(w);
		return -EIO;
	}
	if (durable && fdatasync(w->fd) < 0) {
		ret = -errno;
		write_failed(w->tmp, -ret);
		cache_write_abort(w);
		return ret;
	}
	close(w->fd);
	w->fd = -1;
	ret = install(w->key, w->tmp, w->size, w->sum);  /* removes tmp when it fails */
	w->tmp[0] = '\0';
	cache_write_abort(w);
	return ret;
}

void cache_write_abort(struct cache_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0])
		unlink(w->tmp);
	pthread_mutex_lock(&C.space);
	C.reserved -= w->size;
	pthread_mutex_unlock(&C.space);
	free(w);
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
				snprintf(want, sizeof(want), "%s%s", key, entry_suffix(key));
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
	C.stop = false;
	if (!cfg->dir || !store)
		return 0;
	if (!(C.dir = strdup(cfg->dir)) || !(C.touches = malloc(TOUCH_MAX * sizeof(*C.touches))))
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
	if (!C.enabled || C.maint_started)
		return;
	C.maint_started = pthread_create(&C.maint, NULL, maintenance, NULL) == 0;
}

void cache_shutdown(void)
{
	pthread_mutex_lock(&C.lock);
	C.stop = true;
	pthread_cond_broadcast(&C.changed);
	pthread_mutex_unlock(&C.lock);
	if (C.maint_started)
		pthread_join(C.maint, NULL);
	C.maint_started = false;
	if (C.enabled)
		flush_touches();
	for (size_t i = 0; i < VERIFIED_BUCKETS; i++) {
		while (C.verified[i]) {
			struct verified *v = C.verified[i];
			C.verified[i] = v->next;
			free(v);
		}
	}
	free(C.touches);
	C.touches = NULL;
	C.nb_touches = 0;
	free(C.dir);
	C.dir = NULL;
	C.enabled = false;
	C.stop = false;
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
	struct cache_writer *w;
	char key[KEY_LEN + 1];

	if (!C.enabled)
		return;
	block_key(material, key);
	/* Not durable, unlike segments: a block torn by a crash fails its checksum, which the first
	 * open in every process verifies, and is fetched again. */
	if (cache_write_begin(key, n, &w) == 0 && cache_write(w, buf, n) == 0)
		cache_write_commit(w, false);
	else
		cache_write_abort(w);
}
