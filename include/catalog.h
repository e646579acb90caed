/* The tree of a remote base given as SOURCE: an http(s) base URL whose file hlsfs.list names
 * its videos, or an s3://bucket/prefix listed with ListObjectsV2. The listing is fetched at
 * mount, refreshed at most every revalidate seconds by whoever asks after that, and kept in the
 * store so a remount works while the archive is away. Knows relative paths and URLs. */
#ifndef HLSFS_CATALOG_H
#define HLSFS_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define CATALOG_MANIFEST "hlsfs.list"

struct catalog;
struct store;

/* Lists base (an http(s) or s3 URL; a missing trailing '/' is added). Returns 0 with *out, or
 * a negative errno with why filled when the archive cannot be listed and no listing is kept. */
int catalog_open(const char *base, struct store *store, unsigned revalidate_s, struct catalog **out, char *why,
		 size_t why_len);
void catalog_close(struct catalog *c);

enum catalog_kind { CATALOG_DIR = 1, CATALOG_VIDEO = 2 };

/* What rel ("" for the root, "films/a.mp4", no leading '/') is: CATALOG_DIR, CATALOG_VIDEO
 * (with its URL in url), or -ENOENT. */
int catalog_lookup(struct catalog *c, const char *rel, char *url, size_t url_size);

/* Calls fn with the name of each entry (video or folder) directly inside the folder rel. */
int catalog_list(struct catalog *c, const char *rel, void (*fn)(const char *name, void *arg), void *arg);

/* Checks and keeps one line of a listing: a relative path of a video, '/'-separated, with no
 * empty, "." or ".." component and no control character. Exposed for tests. */
int catalog_path_ok(const char *path);

#endif
