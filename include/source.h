/* Where source bytes come from. Every reader of media bytes (the indexer and the segment
 * writer) goes through this interface, so a remote source can take the place of a local file.
 * A source is opened once and carries the identity it had when opened. */
#ifndef HLSFS_SOURCE_H
#define HLSFS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

/* What makes two versions of a source the same (invariant 2): equal identities give equal bytes. */
struct source_identity {
	uint64_t size;
	int64_t mtime_ns;
	uint64_t ino;
	uint64_t dev;
};

struct source;

/* Opens a local file read-only. Returns 0, or a negative errno (the file cannot be opened,
 * is not a regular file). *out is freed with source_close. */
int source_open(const char *path, struct source **out);
void source_close(struct source *s);

const struct source_identity *source_identity(const struct source *s);

/* Reads exactly n bytes at off. Returns 0, -EIO when the file is shorter than that (it was
 * truncated or replaced under us), or another negative errno. */
int source_pread(struct source *s, void *buf, size_t n, uint64_t off);

/* Current identity of the path without opening it (stat). Returns 0 or a negative errno. */
int source_stat(const char *path, struct source_identity *out);

static inline int source_identity_equal(const struct source_identity *a, const struct source_identity *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ino == b->ino && a->dev == b->dev;
}

#endif
