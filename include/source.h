/* Where source bytes come from. Every reader of media bytes (the indexer and the segment
 * writer) goes through this interface: a local file, or a remote object (an http(s) or s3 URL,
 * named by the path itself or by a link file NAME.mp4.url) read in fixed blocks through the
 * block cache. A source is opened once and carries the identity it had when opened. */
#ifndef HLSFS_SOURCE_H
#define HLSFS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"


#define SOURCE_BLOCK_SIZE (1u << 20)   /* remote bytes are fetched and kept in these blocks */
#define SOURCE_RUN_MAX 8               /* blocks fetched in one request by a reader going in order */
#define SOURCE_LINK_SUFFIX ".url"      /* a link file: NAME.mp4.url holds the URL of NAME.mp4 */

struct store;

struct source_config {
	unsigned revalidate_s;   /* a remote identity is trusted this long before it is asked again */
	bool prefetch_whole;     /* once a remote video is read, fetch all its blocks in the background */
};

/* Where blocks of remote sources are kept (the segment cache, under cache_max). get fills buf
 * with exactly n bytes and returns 0, or returns -ENOENT; put keeps a copy; has says whether
 * get would find it. */
struct source_blocks {
	int (*get)(const char *key, void *buf, size_t n);
	void (*put)(const char *key, const void *buf, size_t n);
	bool (*has)(const char *key);  /* without reading it */
};

/* Call once before any source is opened; store (may be NULL) keeps what archives last said
 * of each remote source, for when they are away. blocks may be NULL: nothing is kept. */
void source_init(const struct source_config *cfg, struct store *store, const struct source_blocks *blocks);
/* Confines local sources to the folder dir (absolute and free of symlinks, as realpath gives
 * it; "/" too): from then on source_open, source_stat and link files reach a local path only
 * through a descriptor of dir held open, resolving it beneath dir, so that a symlink put on the
 * path after it was checked (the file, or a folder on its way) cannot lead outside. Symlinks that
 * stay inside dir are followed. A path not beneath dir, or leading out of it, answers -ENOENT.
 * Without this call local paths are opened as given. Call once before any source is opened;
 * source_shutdown undoes it. Returns 0, or a negative errno (dir cannot be opened: every local
 * open then fails with it). */
int source_set_root(const char *dir);
/* Starts background fetching (remote_prefetch=whole): after daemonizing (fork). */
void source_start(void);
/* Stops it, and forgets what archives said. */
void source_shutdown(void);

struct source;

/* Opens the source at path read-only. Returns 0, or a negative errno (the file cannot be
 * opened or is not a regular file (-EINVAL); it leads outside the root (-ENOENT, see
 * source_set_root); a link file's URL is refused (-EPROTONOSUPPORT); the archive answered 404
 * (-ENOENT), 403 (-EACCES), or could not be reached (-EIO)), with why filled when why_len > 0.
 * *out is freed with source_close. */
int source_open(const char *path, struct source **out, char *why, size_t why_len);
void source_close(struct source *s);
/* source_open for the version want of path: for a growing identity (identity_growing) the file
 * opened must be the same one (device and inode) and is then given identity *want, its reads
 * checked only against shrinking (a file being written grows under its readers); for any other
 * identity it is source_open. Whether the opened identity is want stays the caller's check. */
int source_open_as(const char *path, const struct source_identity *want, struct source **out, char *why,
		   size_t why_len);

const struct source_identity *source_identity(const struct source *s);
/* Bytes of s that can be read: its identity's size, or for a file opened as growing
 * (source_open_as) its size when it was opened, which it keeps. */
uint64_t source_size(const struct source *s);

/* Reads exactly n bytes at off. Returns 0, -EIO when the source is shorter than that or
 * changed under us (truncated or replaced, a new ETag), or another negative errno. */
int source_pread(struct source *s, void *buf, size_t n, uint64_t off);
/* Says the reads to come end before byte end (a segment's samples), so a remote source's
 * read-ahead does not fetch past it. */
void source_will_read(struct source *s, uint64_t end);
/* Why the last read of s failed, for a log line ("the archive answered 503 (http://...)"),
 * or strerror(-err) when there is nothing more to say. */
const char *source_strerror(const struct source *s, int err);

/* Current identity of the path without reading media (stat; for a remote, what the archive
 * said at most revalidate seconds ago). A remote that answers 404 or 403 still has an identity
 * (so its folder can hold error.txt); source_open then fails. Returns 0 or a negative errno. */
int source_stat(const char *path, struct source_identity *out);
/* Whether some process has the local file at path open for writing: 1 yes, 0 no, a negative errno
 * when it cannot be told (a remote source or link, a file system or user without leases). */
int source_open_for_writing(const char *path);

/* 1 when path (a file name or path) is a link file: ends in SOURCE_LINK_SUFFIX. */
int source_is_link(const char *path);

#endif
