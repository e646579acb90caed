/* The cluster's shared segment store (-o shared_cache=): a folder every node mounts (NFS) or an
 * S3-compatible bucket under a prefix. Before transcoding a segment a node looks there by the
 * segment's cluster key; after making one it offers it (folder: written aside, then linked into
 * place without replacing; S3: a conditional PUT, If-None-Match: *), so a cluster transcodes each
 * segment about once. Every object carries its key, size and checksum: a torn or foreign one is
 * ignored. The store is an accelerator: a failure never fails a read (the node transcodes itself
 * and says so once), and what it holds is bounded by the folder's or bucket's own expiry.
 *
 * The cluster key names the segment by what every node agrees on: the source's path below the
 * mount's root, the media version (naming_version: identity and configuration), the variant, the
 * segment number and its planned size; never an inode, device or local path. */
#ifndef HLSFS_SHARED_STORE_H
#define HLSFS_SHARED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media.h"

/* Sets the store from the shared_cache option: NULL (none), an absolute folder path, or
 * s3://bucket/prefix (remote_init must have been called with S3 configured). root: the source
 * root, cut from source paths so that nodes mounting the archive at different places agree.
 * Returns 0, or -EINVAL with why filled. */
int shared_store_init(const char *spec, const char *root, char *why, size_t why_len);
/* Starts the upload thread: after daemonizing (fork). Offers before it are dropped. */
void shared_store_start(void);
/* Stops the upload thread: the upload under way finishes, queued ones are dropped. Safe without
 * init. */
void shared_store_shutdown(void);
bool shared_store_enabled(void);

/* Looks for segment seg of variant of m in the store. Returns 0 with *data (size bytes, free()
 * it) when a whole, matching object is there; else a negative errno (-ENOENT: not there). */
int shared_store_get(const struct media *m, unsigned variant, uint32_t seg, uint64_t size, uint8_t **data);
/* shared_store_get into the local cache as entry cache_key. Returns 0 when the entry is in place. */
int shared_store_fill(const struct media *m, unsigned variant, uint32_t seg, uint64_t size, const char *cache_key);
/* Offers the size bytes of cache entry cache_key as segment seg of variant of m: copied and
 * uploaded in the background; an object already there is left alone. Never fails the caller. */
void shared_store_offer(const struct media *m, unsigned variant, uint32_t seg, uint64_t size, const char *cache_key);

#endif
