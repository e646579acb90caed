/* LMDB-backed persistent index. Three named databases: "media" (key: 64-bit hash of the source
 * path; value: the path, then the index blob -- the path is compared on read, so a hash
 * collision is a miss, never another file's index), "remote" (the same shape, for what remote
 * sources last said of themselves) and "segments" (key: the cache key; value: struct
 * store_segment). The map is large and sparse; a full map only stops new records.
 *
 * A media record made by indexing is made and written by the store's own writer thread
 * (store_put_media_later): a long video's index is megabytes, copied and synced to disk in tens of
 * milliseconds that the request which indexed it need not wait for. A read of a record still
 * queued waits for it. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"

#define MAP_SIZE (64ull << 30)  /* virtual: the file grows only as records are written */
#define MAX_READERS 512
#define LOCK_FILE_BYTES (256 << 10)  /* more than LMDB's lock table for MAX_READERS */

/* A media record waiting for the writer thread. */
struct later {
	struct later *next;
	char *path;
	struct store_maker mk;
};

struct store {
	MDB_env *env;
	MDB_dbi media, segments, remote, posters;
	pthread_mutex_t lock;           /* guards what follows */
	pthread_cond_t wake;            /* a record was queued, or the store closes */
	pthread_cond_t done;            /* a record left the queue */
	struct later *first, **tail;    /* queued media records, oldest first; the first stays
	                                   until it is written */
	bool writer, closing;           /* the writer thread runs; store_close asks it to finish */
	pthread_t thread;
};

/* LMDB codes become errnos here, once. */
static int err_of(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return -EIO;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

int store_open(const char *dir, struct store **out)
{
	struct store *st;
	MDB_txn *txn = NULL;
	char path[4096];
	int rc;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/index.lmdb", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	/* LMDB maps its lock file and writes into the map: on a full disk that is SIGBUS, not an
	 * error. Its blocks are allocated here first, so a full disk is an error we can report. */
	{
		char lock[4096 + 16];
		int fd, rc2;
		snprintf(lock, sizeof(lock), "%s-lock", path);
		if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
			return -errno;
		rc2 = posix_fallocate(fd, 0, LOCK_FILE_BYTES);
		close(fd);
		if (rc2)
			return -rc2;
	}
	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	if ((rc = mdb_env_create(&st->env)) || (rc = mdb_env_set_maxdbs(st->env, 4)) ||
	    (rc = mdb_env_set_mapsize(st->env, MAP_SIZE)) ||
	    (rc = mdb_env_set_maxreaders(st->env, MAX_READERS)) ||
	    /* NOTLS: FUSE worker threads come and go; NOMETASYNC: a system crash may lose the last
	     * transaction, never consistency -- the cache is an accelerator. */
	    (rc = mdb_env_open(st->env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOMETASYNC, 0644)) ||
	    (rc = mdb_txn_begin(st->env, NULL, 0, &txn)) ||
	    (rc = mdb_dbi_open(txn, "media", MDB_CREATE, &st->media)) ||
	    (rc = mdb_dbi_open(txn, "segments", MDB_CREATE, &st->segments)) ||
	    (rc = mdb_dbi_open(txn, "remote", MDB_CREATE, &st->remote)) ||
	    (rc = mdb_dbi_open(txn, "posters", MDB_CREATE, &st->posters)) ||
	    (rc = mdb_txn_commit(txn))) {
		if (txn && rc)
			mdb_txn_abort(txn);
		mdb_env_close(st->env);
		free(st);
		return err_of(rc);
	}
	/* Readers left by a daemon that was killed hold no pages hostage. */
	mdb_reader_check(st->env, NULL);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->wake, NULL);
	pthread_cond_init(&st->done, NULL);
	st->tail = &st->first;
	*out = st;
	return 0;
}

static void later_free(struct later *l)
{
	if (l->mk.release)
		l->mk.release(l->mk.arg);
	free(l->path);
	free(l);
}

void store_close(struct store *st)
{
	if (!st)
		return;
	/* What was queued is written before the environment closes: the next mount finds it. */
	pthread_mutex_lock(&st->lock);
	st->closing = true;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
	if (st->writer)
		pthread_join(st->thread, NULL);
	pthread_cond_destroy(&st->done);
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->lock);
	mdb_env_close(st->env);
	free(st);
}

static uint64_t path_key(const char *path)
{
	return hash_fnv1a(path, strlen(path), 0);
}

static int get_blob(struct store *st, MDB_dbi dbi, const char *path, uint8_t **blob, size_t *size)
{
	uint64_t k = path_key(path);
	MDB_val key = { sizeof(k), &k }, val;
	MDB_txn *txn;
	size_t plen = strlen(path);
	int rc;

	*blob = NULL;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
		return err_of(rc);
	rc = mdb_get(txn, dbi, &key, &val);
	if (rc == 0) {
		const uint8_t *p = val.mv_data;
		uint32_t n;
		if (val.mv_size < 4 || (memcpy(&n, p, 4), n != plen) || val.mv_size < 4 + (size_t)n ||
		    memcmp(p + 4, path, plen)) {
			rc = MDB_NOTFOUND;  /* another path with the same hash */
		} else if (!(*blob = malloc(val.mv_size - 4 - n + 1))) {
			mdb_txn_abort(txn);
			return -ENOMEM;
		} else {
			*size = val.mv_size - 4 - n;
			memcpy(*blob, p + 4 + n, *size);
		}
	}
	mdb_txn_abort(txn);
	return err_of(rc);
}

static int put_blob(struct store *st, MDB_dbi dbi, const char *path, const uint8_t *blob, size_t size)
{
	uint64_t k = path_key(path);
	uint32_t plen = (uint32_t)strlen(path);
	MDB_val key = { sizeof(k), &k }, val = { 4 + plen + size, NULL };
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
		return err_of(rc);
	if ((rc = mdb_put(txn, dbi, &key, &val, MDB_RESERVE))) {
		mdb_txn_abort(txn);
		return err_of(rc);
	}
	memcpy(val.mv_data, &plen, 4);
	memcpy((uint8_t *)val.mv_data + 4, path, plen);
	memcpy((uint8_t *)val.mv_data + 4 + plen, blob, size);
	return err_of(mdb_txn_commit(txn));
}

static bool queued(const struct store *st, const char *path)
{
	for (const struct later *l = st->first; l; l = l->next)
		if (!strcmp(l->path, path))
			return true;
	return false;
}

int store_get_media(struct store *st, const char *path, uint8_t **blob, size_t *size)
{
	pthread_mutex_lock(&st->lock);
	while (queued(st, path))
		pthread_cond_wait(&st->done, &st->lock);
	pthread_mutex_unlock(&st->lock);
	return get_blob(st, st->media, path, blob, size);
}

int store_put_media(struct store *st, const char *path, const uint8_t *blob, size_t size)
{
	return put_blob(st, st->media, path, blob, size);
}

/* Makes and writes one record; logs what fails. */
static void write_later(struct store *st, const struct later *l)
{
	uint8_t *blob;
	size_t size;
	int ret;

	if ((ret = l->mk.make(l->mk.arg, &blob, &size)) < 0) {
		log_warn("%s: cannot keep its index in the persistent index: %s", l->path, strerror(-ret));
		return;
	}
	if ((ret = put_blob(st, st->media, l->path, blob, size)) < 0)
		log_warn("%s: cannot keep its index in the persistent index: %s", l->path, strerror(-ret));
	free(blob);
}

/* The writer thread: writes queued media records, oldest first, until the store closes and
 * nothing is left. A record leaves the queue only once written (or failed) and released, so
 * that store_get_media finds it in the file or waits for it, and store_flush returns only when
 * nothing queued is held any more. */
static void *writer(void *arg)
{
	struct store *st = arg;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct later *l = st->first;
		if (!l) {
			if (st->closing)
				break;
			pthread_cond_wait(&st->wake, &st->lock);
			continue;
		}
		pthread_mutex_unlock(&st->lock);
		write_later(st, l);
		if (l->mk.release)  /* before store_flush returns: what it holds may go right after */
			l->mk.release(l->mk.arg);
		pthread_mutex_lock(&st->lock);
		if (!(st->first = l->next))
			st->tail = &st->first;
		free(l->path);
		free(l);
		pthread_cond_broadcast(&st->done);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int store_put_media_later(struct store *st, const char *path, const struct store_maker *mk)
{
	struct later *l = calloc(1, sizeof(*l));

	if (!l || !(l->path = strdup(path))) {
		free(l);
		if (mk->release)
			mk->release(mk->arg);
		return -ENOMEM;
	}
	l->mk = *mk;
	pthread_mutex_lock(&st->lock);
	if (!st->writer && pthread_create(&st->thread, NULL, writer, st) == 0)
		st->writer = true;
	if (!st->writer) {
		/* No thread: made and written now, as the caller waits. */
		pthread_mutex_unlock(&st->lock);
		write_later(st, l);
		later_free(l);
		return 0;
	}
	*st->tail = l;
	st->tail = &l->next;
	pthread_cond_signal(&st->wake);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void store_flush(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	while (st->first)
		pthread_cond_wait(&st->done, &st->lock);
	pthread_mutex_unlock(&st->lock);
}

int store_get_poster(struct store *st, const char *path, uint8_t **blob, size_t *size)
{
	return get_blob(st, st->posters, path, blob, size);
}

int store_put_poster(struct store *st, const char *path, const uint8_t *blob, size_t size)
{
	return put_blob(st, st->posters, path, blob, size);
}

int store_get_remote(struct store *st, const char *key, uint8_t **blob, size_t *size)
{
	return get_blob(st, st->remote, key, blob, size);
}

int store_put_remote(struct store *st, const char *key, const uint8_t *blob, size_t size)
{
	return put_blob(st, st->remote, key, blob, size);
}

uint64_t store_count_media(struct store *st)
{
	MDB_txn *txn;
	MDB_stat s;
	uint64_t n = 0;

	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn))
		return 0;
	if (!mdb_stat(txn, st->media, &s))
		n = s.ms_entries;
	mdb_txn_abort(txn);
	return n;
}

static int seg_key(const char *key, MDB_val *v)
{
	size_t n = strlen(key);
	if (n == 0 || n > 255)
		return -EINVAL;
	v->mv_size = n;
	v->mv_data = (void *)key;
	return 0;
}

int store_get_segment(struct store *st, const char *key, struct store_segment *out)
{
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	if (seg_key(key, &k) < 0)
		return -EINVAL;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
		return err_of(rc);
	rc = mdb_get(txn, st->segments, &k, &v);
	if (rc == 0) {
		if (v.mv_size == sizeof(*out))
			memcpy(out, v.mv_data, sizeof(*out));
		else
			rc = MDB_NOTFOUND;  /* a record of another layout: treated as absent */
	}
	mdb_txn_abort(txn);
	return err_of(rc);
}

int store_put_segment(struct store *st, const char *key, const struct store_segment *rec)
{
	MDB_val k, v = { sizeof(*rec), (void *)rec };
	MDB_txn *txn;
	int rc;

	if (seg_key(key, &k) < 0)
		return -EINVAL;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
		return err_of(rc);
	if ((rc = mdb_put(txn, st->segments, &k, &v, 0))) {
		mdb_txn_abort(txn);
		return err_of(rc);
	}
	return err_of(mdb_txn_commit(txn));
}

int store_del_segment(struct store *st, const char *key)
{
	MDB_val k;
	MDB_txn *txn;
	int rc;

	if (seg_key(key, &k) < 0)
		return -EINVAL;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
		return err_of(rc);
	rc = mdb_del(txn, st->segments, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return err_of(rc);
	}
	return err_of(mdb_txn_commit(txn));
}

int store_touch_segments(struct store *st, const struct store_touch *t, size_t n)
{
	MDB_txn *txn;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
		return err_of(rc);
	for (size_t i = 0; i < n; i++) {
		struct store_segment rec;
		MDB_val k, v;
		if (seg_key(t[i].key, &k) < 0 || mdb_get(txn, st->segments, &k, &v) || v.mv_size != sizeof(rec))
			continue;  /* evicted meanwhile */
		memcpy(&rec, v.mv_data, sizeof(rec));
		if (t[i].last_access > rec.last_access)
			rec.last_access = t[i].last_access;
		rec.hits += t[i].hits;
		v.mv_data = &rec;
		v.mv_size = sizeof(rec);
		if ((rc = mdb_put(txn, st->segments, &k, &v, 0))) {
			mdb_txn_abort(txn);
			return err_of(rc);
		}
	}
	return err_of(mdb_txn_commit(txn));
}

int store_each_segment(struct store *st, int (*fn)(const char *key, const struct store_segment *rec, void *arg),
		       void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
		return err_of(rc);
	if ((rc = mdb_cursor_open(txn, st->segments, &cur))) {
		mdb_txn_abort(txn);
		return err_of(rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		char key[256];
		struct store_segment rec;
		if (k.mv_size > 255 || v.mv_size != sizeof(rec))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		memcpy(&rec, v.mv_data, sizeof(rec));
		if (fn(key, &rec, arg))
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : err_of(rc);
}
