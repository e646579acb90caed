/* A media index (or the reason a source cannot be served) as one self-checking byte string,
 * so the store can keep it across restarts. Pure: no I/O. The encoding is this machine's
 * native layout behind a magic, a version and a checksum: a cache written by another build
 * or torn in any way is refused and rebuilt, never trusted. */
#ifndef HLSFS_INDEX_BLOB_H
#define HLSFS_INDEX_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"

/* Encodes either ix (error NULL) or an error sentence (ix NULL) for the source identity id.
 * Returns 0 with *blob (free() it) and *size, or -ENOMEM. */
int index_blob_encode(const struct source_identity *id, const struct media_index *ix, const char *error,
		      uint8_t **blob, size_t *size);

/* Decodes a blob for a source that now has identity id. Returns 0 with exactly one of *ix
 * (index_free) or *error (free()); -ESTALE when the blob is for another identity; -EINVAL when
 * it is damaged or from another format version; -ENOMEM. */
int index_blob_decode(const uint8_t *blob, size_t size, const struct source_identity *id,
		      struct media_index **ix, char **error);

#endif
