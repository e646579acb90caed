/* HTTP(S) and S3 object reads through libcurl: one request per call, with timeouts, bounded
 * retries (backoff and jitter) and every answer checked (status, Content-Range, ETag), so a
 * caller gets exactly the bytes it asked for or an error. The only module that includes
 * curl.h. Knows URLs and bytes, not media or caches. */
#ifndef HLSFS_REMOTE_H
#define HLSFS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct remote_config {
	unsigned timeout_s;          /* connect timeout, and longest stall of a transfer */
	unsigned retries;            /* tries after the first on transient failures */
	/* s3:// URLs: path-style requests to endpoint, signed with SigV4 (all NULL: no S3) */
	const char *s3_endpoint, *s3_region, *s3_access_key, *s3_secret_key;
};

#define REMOTE_DEFAULT_TIMEOUT "10"
#define REMOTE_DEFAULT_RETRIES "3"

/* Call once before any other function (not thread-safe), and remote_shutdown at exit. */
int remote_init(const struct remote_config *cfg);
void remote_shutdown(void);

/* 1 when s names a remote object (an http, https or s3 URL by its scheme), else 0. */
int remote_is_url(const char *s);
/* Checks that url may be fetched: http or https (s3 when S3 is configured), with a host.
 * Returns 0, or -EPROTONOSUPPORT with why filled. */
int remote_check_url(const char *url, char *why, size_t why_len);
/* A remote base given with user:password@: *out (free() it) is the URL without them, and the
 * credentials are sent with every request under it. Returns 0 or a negative errno. */
int remote_strip_credentials(const char *url, char **out);
/* Appends s to out (a NUL-terminated string in a buffer of size bytes) with every byte but
 * A-Za-z0-9-._~ (and '/' when keep_slash) percent-encoded. Returns 0 or -ENAMETOOLONG. */
int remote_percent_encode(const char *s, bool keep_slash, char *out, size_t size);
/* url without credentials or query, for logs and error texts. */
void remote_redact(const char *url, char *out, size_t size);

/* What a remote object says of itself. */
struct remote_info {
	uint64_t size;
	int64_t mtime;          /* Last-Modified, unix seconds (0: none) */
	char etag[128];         /* ETag as sent (empty: none) */
};

/* Asks the archive what url is now (a one-byte range request); quick: one try, no retries
 * (a revalidation that can fall back on what is known). Returns 0 with *info; -ENOENT (404, 410), -EACCES (401, 403), -EPROTONOSUPPORT, or
 * -EIO (transient failures after the retries, other statuses), with why filled. */
int remote_probe(const char *url, struct remote_info *info, bool quick, char *why, size_t why_len);

/* Reads exactly n bytes at off of the object info describes, in retries + 1 requests at most
 * whatever mix of failures they meet (a body cut short is retried like a 503). Returns 0;
 * -ESTALE when the object changed (another ETag or Last-Modified, or size); other errors as
 * remote_probe. */
int remote_read(const char *url, const struct remote_info *info, uint64_t off, size_t n, void *buf, char *why,
		size_t why_len);

/* GETs a whole small object (a manifest, a listing) of at most max bytes. Returns 0 with
 * *body (NUL-terminated; free() it) and *len, or an error as remote_probe. */
int remote_fetch(const char *url, size_t max, char **body, size_t *len, char *why, size_t why_len);

/* PUTs len bytes as the object url (an s3:// URL) if no object of that name exists yet
 * (If-None-Match: *). Returns 0; -EEXIST when one exists (412); other errors as remote_probe. */
int remote_put(const char *url, const void *data, size_t len, char *why, size_t why_len);

/* S3 ListObjectsV2 of bucket under prefix (from an s3://bucket/prefix URL): calls fn with each
 * key (relative to the prefix) and its size. Returns 0 or an error as remote_probe. */
int remote_s3_list(const char *url, void (*fn)(const char *key, uint64_t size, void *arg), void *arg, char *why,
		   size_t why_len);

#endif
