/* The shared segment store (shared_store.h).
 *
 * Object: a 64-byte header, then the segment's bytes. Header: "HLSFSSS1", the 32-hex cluster key,
 * the payload size and a checksum of it (both little-endian 64-bit), 8 zero bytes. An object whose
 * header, size or checksum does not match what is asked for is torn or foreign: ignored (counted
 * as an error), the segment is made here and offered again (a folder keeps the first object; a
 * bucket's conditional write too).
 *
 * Names: PREFIX/ab/KEY.ts, ab the key's first two digits (folders of at most 256 entries a level).
 *
 * Uploads run on one thread of their own, from a bounded queue of copies: a reader never waits for
 * the store. A full queue drops the offer (another node, or a later read, offers it again), and so
 * does an unmount: the upload under way finishes (bounded by remote_timeout), the queued ones are
 * dropped. */
#include "shared_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "hash.h"
#include "log.h"
#include "plan.h"
#include "remote.h"
#include "segment.h"
#include "stats.h"

#define MAGIC "HLSFSSS1"
#define HEADER 64
#define KEY_HEX 32
#define QUEUE_MAX 16
#define MAX_OBJECT (512ull << 20)

struct upload {
	char key[KEY_HEX + 1];
	uint8_t *obj;  /* header and payload */
	size_t len;
};

static struct {
	bool on, s3;
	char *base;        /* folder path, or s3://bucket/prefix, without a trailing slash */
	const char *root;
	size_t root_len;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct upload queue[QUEUE_MAX];
	unsigned q_head, q_len;
	bool stop, started;
	pthread_t thread;
	int warned;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

/* The store's first failure is said once; the node goes on transcoding itself. */
static void failed(const char *what, const char *key, const char *why)
{
	stats_add(STATS_SHARED_ERRORS, 1);
	if (__atomic_exchange_n(&S.warned, 1, __ATOMIC_RELAXED) == 0)
		log_warn("shared_cache %s: %s %s failed (%s); segments it cannot give are transcoded here "
			 "(said once; hlsfs_shared_errors_total counts them)", S.base, what, key, why);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t checksum(const char *key, const uint8_t *p, uint64_t n)
{
	return hash_words(hash_fnv1a(key, KEY_HEX, 0), p, (size_t)n);
}

static void cluster_key(const struct media *m, unsigned variant, uint32_t seg, uint64_t size, char key[KEY_HEX + 1])
{
	const struct plan_segment *s = &m->plan->segments[seg];
	const char *rel = m->path;
	char mat[4096 + 256];
	int n;

	if (S.root_len && !strncmp(rel, S.root, S.root_len))
		rel += S.root_len;
	n = snprintf(mat, sizeof(mat), "shared-1|%s|%s|%s|%u|%" PRId64 "|%" PRId64 "|%" PRIu64 "|%s", rel, m->version,
		     m->variants[variant], seg, s->start, s->end, size, segment_format());
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(mat) ? (size_t)n : sizeof(mat) - 1;
	snprintf(key, KEY_HEX + 1, "%016" PRIx64 "%016" PRIx64, hash_fnv1a(mat, len, 0),
		 hash_fnv1a(mat, len, 0x9e3779b97f4a7c15ull));
}

static int object_name(const char *key, char *out, size_t size)
{
	return (size_t)snprintf(out, size, "%s/%.2s/%s.ts", S.base, key, key) >= size ? -ENAMETOOLONG : 0;
}

/* 0 when obj (len bytes) is the whole object of key with size payload bytes. */
static int check_object(const char *key, const uint8_t *obj, size_t len, uint64_t size)
{
	if (len != HEADER + size || memcmp(obj, MAGIC, 8) || memcmp(obj + 8, key, KEY_HEX) ||
	    get_le64(obj + 8 + KEY_HEX) != size || get_le64(obj + 16 + KEY_HEX) != checksum(key, obj + HEADER, size))
		return -EBADMSG;
	return 0;
}

static int folder_read(const char *path, uint64_t size, uint8_t **obj, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != HEADER + size) {
		close(fd);
		*obj = NULL;
		*len = 0;
		return -EBADMSG;  /* torn or foreign: its size is not this segment's */
	}
	if (!(*obj = malloc(HEADER + size))) {
		close(fd);
		return -ENOMEM;
	}
	while (got < HEADER + size) {
		ssize_t n = read(fd, *obj + got, HEADER + size - got);
		if (n <= 0) {
			int err = n < 0 ? -errno : -EBADMSG;
			close(fd);
			free(*obj);
			*obj = NULL;
			return err;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

int shared_store_get(const struct media *m, unsigned variant, uint32_t seg, uint64_t size, uint8_t **data)
{
	char key[KEY_HEX + 1], name[4096], why[256] = "";
	uint8_t *obj = NULL;
	size_t len = 0;
	int ret;

	*data = NULL;
	if (!S.on)
		return -ENOENT;
	cluster_key(m, variant, seg, size, key);
	if (object_name(key, name, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	if (S.s3) {
		char *body = NULL;
		ret = remote_fetch(name, HEADER + size, &body, &len, why, sizeof(why));
		obj = (uint8_t *)body;
	} else {
		ret = folder_read(name, size, &obj, &len);
		if (ret < 0 && ret != -EBADMSG)
			snprintf(why, sizeof(why), "%s", strerror(-ret));
	}
	if (ret == -ENOENT) {
		stats_add(STATS_SHARED_MISSES, 1);
		return ret;
	}
	if (ret == 0)
		ret = check_object(key, obj, len, size);
	if (ret < 0) {
		free(obj);
		if (ret == -EBADMSG) {
			stats_add(STATS_SHARED_DAMAGED, 1);
			failed("reading", key, "the object is torn or not this segment: its size, key or checksum differ");
		} else {
			failed("reading", key, why[0] ? why : strerror(-ret));
		}
		return ret;
	}
	/* The payload moves to the front: the caller gets the segment's bytes alone. */
	memmove(obj, obj + HEADER, size);
	*data = obj;
	stats_add(STATS_SHARED_HITS, 1);
	return 0;
}

/* Writes obj as path: aside first, then linked into place, which never replaces an object already
 * there (another node's, made at the same time: the same bytes). */
static int folder_write(const char *key, const char *path, const uint8_t *obj, size_t len, char *why, size_t why_len)
{
	char dir[4096], tmp[4200];
	const char *slash = strrchr(path, '/');
	size_t off = 0;
	int fd, ret = 0;

	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "mkdir of its folder: %s", strerror(errno));
		return -errno;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%lx.tmp", dir, key, (long)getpid(), (unsigned long)pthread_self());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		snprintf(why, why_len, "%s", strerror(errno));
		return -errno;
	}
	while (off < len) {
		ssize_t n = write(fd, obj + off, len - off);
		if (n < 0) {
			ret = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (ret == 0 && fdatasync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && link(tmp, path) < 0 && errno != EEXIST) {
		/* a file system without hard links: a rename that will not replace */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0 && errno != EEXIST)
			ret = -errno;
	}
	if (ret < 0)
		snprintf(why, why_len, "%s", strerror(-ret));
	unlink(tmp);
	return ret;
}

static void upload(struct upload *u)
{
	char name[4096], why[256] = "";
	int ret;

	if ((ret = object_name(u->key, name, sizeof(name))) < 0) {
		failed("writing", u->key, "its name is too long");
		return;
	}
	if (S.s3) {
		ret = remote_put(name, u->obj, u->len, why, sizeof(why));
		if (ret == -EEXIST)
			ret = 0;  /* another node was first: its object stays */
	} else {
		ret = folder_write(u->key, name, u->obj, u->len, why, sizeof(why));
	}
	if (ret < 0)
		failed("writing", u->key, why[0] ? why : strerror(-ret));
	else
		stats_add(STATS_SHARED_UPLOADS, 1);
}

static void *uploader(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.lock);
	for (;;) {
		struct upload u;
		while (!S.q_len && !S.stop)
			pthread_cond_wait(&S.changed, &S.lock);
		if (S.stop)
			break;  /* at unmount, queued uploads are dropped: an unreachable store must not hold it up */
		u = S.queue[S.q_head];
		S.q_head = (S.q_head + 1) % QUEUE_MAX;
		S.q_len--;
		pthread_mutex_unlock(&S.lock);
		upload(&u);
		free(u.obj);
		pthread_mutex_lock(&S.lock);
		pthread_cond_broadcast(&S.changed);
	}
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

int shared_store_fill(const struct media *m, unsigned variant, uint32_t seg, uint64_t size, const char *cache_key)
{
	struct cache_writer *w;
	uint8_t *data;
	int ret;

	if ((ret = shared_store_get(m, variant, seg, size, &data)) < 0)
		return ret;
	if ((ret = cache_write_begin(cache_key, size, &w)) == 0) {
		if ((ret = cache_write(w, data, (size_t)size)) < 0)
			cache_write_abort(w);
		else
			ret = cache_write_commit(w, true);
	}
	free(data);
	return ret;
}

void shared_store_offer(const struct media *m, unsigned variant, uint32_t seg, uint64_t size, const char *cache_key)
{
	struct upload u;
	size_t got = 0;
	int fd;

	if (!S.on || size > MAX_OBJECT || (fd = cache_open(cache_key, size)) < 0)
		return;
	cluster_key(m, variant, seg, size, u.key);
	u.len = HEADER + size;
	if (!(u.obj = calloc(1, u.len))) {
		close(fd);
		return;
	}
	while (got < size) {
		ssize_t n = pread(fd, u.obj + HEADER + got, size - got, (off_t)got);
		if (n <= 0) {
			close(fd);
			free(u.obj);
			return;  /* the cache entry went away: nothing to offer */
		}
		got += (size_t)n;
	}
	close(fd);
	memcpy(u.obj, MAGIC, 8);
	memcpy(u.obj + 8, u.key, KEY_HEX);
	put_le64(u.obj + 8 + KEY_HEX, size);
	put_le64(u.obj + 16 + KEY_HEX, checksum(u.key, u.obj + HEADER, size));
	pthread_mutex_lock(&S.lock);
	if (S.q_len == QUEUE_MAX || S.stop || !S.started) {
		pthread_mutex_unlock(&S.lock);
		free(u.obj);
		stats_add(STATS_SHARED_DROPPED, 1);
		return;
	}
	S.queue[(S.q_head + S.q_len) % QUEUE_MAX] = u;
	S.q_len++;
	pthread_cond_broadcast(&S.changed);
	pthread_mutex_unlock(&S.lock);
}

int shared_store_init(const char *spec, const char *root, char *why, size_t why_len)
{
	size_t n;

	if (!spec || !spec[0])
		return 0;
	if (remote_is_url(spec)) {
		char reason[256];
		if (strncmp(spec, "s3://", 5)) {
			snprintf(why, why_len, "shared_cache=%s: a URL must be s3://BUCKET/PREFIX", spec);
			return -EINVAL;
		}
		if (remote_check_url(spec, reason, sizeof(reason)) < 0) {
			snprintf(why, why_len, "shared_cache=%s: %s", spec, reason);
			return -EINVAL;
		}
		S.s3 = true;
	} else if (spec[0] != '/') {
		snprintf(why, why_len, "shared_cache=%s: give an absolute folder path or s3://BUCKET/PREFIX", spec);
		return -EINVAL;
	} else {
		struct stat st;
		if (stat(spec, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(why, why_len, "shared_cache=%s: not a folder (%s)", spec, strerror(errno ? errno : ENOTDIR));
			return -EINVAL;
		}
	}
	if (!(S.base = strdup(spec))) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	n = strlen(S.base);
	while (n > 1 && S.base[n - 1] == '/')
		S.base[--n] = '\0';
	S.root = root;
	S.root_len = root ? strlen(root) : 0;
	S.on = true;
	return 0;
}

void shared_store_start(void)
{
	if (S.on && !S.started && pthread_create(&S.thread, NULL, uploader, NULL) == 0)
		S.started = true;
}

void shared_store_shutdown(void)
{
	if (S.started) {
		pthread_mutex_lock(&S.lock);
		S.stop = true;
		pthread_cond_broadcast(&S.changed);
		pthread_mutex_unlock(&S.lock);
		pthread_join(S.thread, NULL);
		S.started = false;
	}
	while (S.q_len) {
		free(S.queue[S.q_head].obj);
		S.q_head = (S.q_head + 1) % QUEUE_MAX;
		S.q_len--;
	}
	free(S.base);
	S.base = NULL;
	S.on = false;
}

bool shared_store_enabled(void)
{
	return S.on;
}
