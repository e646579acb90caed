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

static inline bool identity_equal(const struct source_identity *a, const struct source_identity *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ino == b->ino && a->dev == b->dev &&
	       a->tag == b->tag;
}

#endif
