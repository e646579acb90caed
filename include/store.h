/* The persistent index: an LMDB environment in cache_dir holding, per source path, the blob
 * of its media index (index_blob.h) and its poster, and, per cached segment, its record (size, last access,
 * hits). The only module that includes lmdb.h. Records are whole values written in one
 * transaction each, so a kill -9 leaves either the old record or the new one. A media record
 * made by indexing is written by the store's own thread (store_put_media_later): a kill -9
 * before it is written costs that video one more indexing, never a wrong record. */
#ifndef HLSFS_STORE_H
#define HLSFS_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Opens (creating) dir/index.lmdb. Returns 0 with *out (store_close), or a negative errno. */
int store_open(const char *dir, struct store **out);
void store_close(struct store *st);

/* The media blob stored for path. Returns 0 with *blob (free() it), -ENOENT, or another
 * negative errno. */
int store_get_media(struct store *st, const char *path, uint8_t **blob, size_t *size);
/* Stores (replaces) the media blob of path. Returns 0, -ENOSPC when the map is full, or
 * another negative errno. */
int store_put_media(struct store *st, const char *path, const uint8_t *blob, size_t size);
/* A media record made when the store's writer thread gets to it: make() gives the blob (malloc()ed,
 * freed by the store) and returns 0 or a negative errno; release() (may be NULL) is called once
 * afterwards, whatever happened, or at once when the record cannot be queued. */
struct store_maker {
	int (*make)(void *arg, uint8_t **blob, size_t *size);
	void (*release)(void *arg);
	void *arg;
};
/* store_put_media made and written on the store's writer thread, so that the caller waits for
 * neither the copy nor the disk. From the call on, store_get_media of path waits for it; a record
 * that cannot be made or written then is logged with path. Returns 0, or -ENOMEM (not queued). */
int store_put_media_later(struct store *st, const char *path, const struct store_maker *mk);
/* Waits until every record queued so far is written (or has failed). store_close does too. */
void store_flush(struct store *st);
/* poster.jpg of path, made after its index (media.h): a record of its own, so that the index
 * blob is not written twice; same contract as the media records. */
int store_get_poster(struct store *st, const char *path, uint8_t **blob, size_t *size);
int store_put_poster(struct store *st, const char *path, const uint8_t *blob, size_t size);
/* What remote sources last said of themselves (identities, listings), keyed by a string such
 * as a URL; same contract as the media records. */
int store_get_remote(struct store *st, const char *key, uint8_t **blob, size_t *size);
int store_put_remote(struct store *st, const char *key, const uint8_t *blob, size_t size);
/* Number of media records. */
uint64_t store_count_media(struct store *st);

struct store_segment {
	uint64_t size;         /* bytes of the cache file */
	uint64_t checksum;     /* of the file's bytes */
	int64_t last_access;   /* unix seconds */
	uint64_t hits;
};

/* Segment records, keyed by the cache's key string (at most 255 bytes). */
int store_get_segment(struct store *st, const char *key, struct store_segment *out);
int store_put_segment(struct store *st, const char *key, const struct store_segment *rec);
int store_del_segment(struct store *st, const char *key);

/* Adds hits and moves last_access forward for many keys in one transaction. */
struct store_touch {
	char key[256];
	int64_t last_access;
	uint64_t hits;
};
int store_touch_segments(struct store *st, const struct store_touch *t, size_t n);

/* Calls fn for every segment record (read-only snapshot); stops when fn returns non-zero. */
int store_each_segment(struct store *st, int (*fn)(const char *key, const struct store_segment *rec, void *arg),
		       void *arg);

#endif
