/* What makes two versions of a source the same (invariant 2): equal identities give equal bytes.
 * Plain data shared by the source, the index and everything keyed by a source. */
#ifndef HLSFS_IDENTITY_H
#define HLSFS_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

struct source_identity {
	uint64_t size;
	int64_t mtime_ns;
	uint64_t ino;
	uint64_t dev;
	uint64_t tag;      /* remote: hash of URL and ETag (or Last-Modified); local: 0 */
};

/* mtime_ns of a local file still being written (media.c): its size and time change with every
 * write, so it is named by what stays: size 0, device and inode, and tag a hash of its head (its
 * header and first fragment), which another recording put at the same inode does not share. */
#define IDENTITY_GROWING INT64_MIN

static inline bool identity_growing(const struct source_identity *id)
{
	return id->mtime_ns == IDENTITY_GROWING;
}

static inline bool identity_equal(const struct source_identity *a, const struct source_identity *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ino == b->ino && a->dev == b->dev &&
	       a->tag == b->tag;
}

#endif
