/* Remote objects over HTTP(S) with libcurl.
 *
 * Easy handles are pooled (curl_easy_reset keeps their connections) and share DNS, TLS
 * sessions and the connection cache, so the requests of one source reuse one keep-alive
 * connection (HTTP/2 where offered). Each request is retried on transient failures --
 * connection errors, stalls, resets, short bodies, 5xx and 429 -- with exponential backoff and
 * jitter; everything else fails at once. Only http and https are spoken, redirects included. */
#include "remote.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "stats.h"

#ifndef HLSFS_VERSION
#define HLSFS_VERSION "unknown"
#endif

#define POOL_MAX 32
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 8000

static struct remote_config R;
static bool s3_enabled;
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];
static unsigned pool_len;
static struct curl_slist *s3_headers;
/* Credentials taken out of a remote base URL, sent with every request under that base. */
static char *cred_prefix, *cred_userpwd;

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)h, (void)a, (void)u;
	pthread_mutex_lock(&share_locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u)
{
	(void)h, (void)u;
	pthread_mutex_unlock(&share_locks[d]);
}

int remote_init(const struct remote_config *cfg)
{
	R = *cfg;
	s3_enabled = R.s3_endpoint && R.s3_region && R.s3_access_key && R.s3_secret_key;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_locks[i], NULL);
	if (!(share = curl_share_init()))
		return -ENOMEM;
	/* S3 wants the payload hash among the signed headers; reads send no payload. */
	if (s3_enabled && !(s3_headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD")))
		return -ENOMEM;
	curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	return 0;
}

void remote_shutdown(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_len)
		curl_easy_cleanup(pool[--pool_len]);
	pthread_mutex_unlock(&pool_lock);
	if (share)
		curl_share_cleanup(share);
	share = NULL;
	curl_slist_free_all(s3_headers);
	s3_headers = NULL;
	free(cred_prefix);
	free(cred_userpwd);
	cred_prefix = cred_userpwd = NULL;
	curl_global_cleanup();
}

static bool has_scheme(const char *s, const char *scheme)
{
	size_t n = strlen(scheme);
	return !strncasecmp(s, scheme, n) && !strncmp(s + n, "://", 3);
}

int remote_is_url(const char *s)
{
	return has_scheme(s, "http") || has_scheme(s, "https") || has_scheme(s, "s3");
}

/* The parts of url we keep: scheme, host, port, path. Returns 0 or -EINVAL. */
static int url_parts(const char *url, char *scheme, size_t ss, char *host, size_t hs, char *rest, size_t rs,
		     bool *has_query)
{
	CURLU *u = curl_url();
	char *sch = NULL, *h = NULL, *port = NULL, *path = NULL, *query = NULL;
	int ret = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &sch, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && h[0]) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		curl_url_get(u, CURLUPART_PATH, &path, 0);
		*has_query = curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query && query[0];
		snprintf(scheme, ss, "%s", sch);
		snprintf(host, hs, "%s%s%s", h, port ? ":" : "", port ? port : "");
		snprintf(rest, rs, "%s", path ? path : "/");
		ret = 0;
	}
	curl_free(sch);
	curl_free(h);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return ret;
}

void remote_redact(const char *url, char *out, size_t size)
{
	char scheme[16], host[256], path[1024];
	bool q = false;

	if (url_parts(url, scheme, sizeof(scheme), host, sizeof(host), path, sizeof(path), &q) < 0)
		snprintf(out, size, "(a URL that cannot be parsed)");
	else
		snprintf(out, size, "%s://%s%s%s", scheme, host, path, q ? "?..." : "");
}

int remote_strip_credentials(const char *url, char **out)
{
	CURLU *u = curl_url();
	char *user = NULL, *pass = NULL, *clean = NULL;
	int ret = -EINVAL;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
		curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE);
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &clean, 0) == CURLUE_OK) {
			ret = (*out = strdup(clean)) ? 0 : -ENOMEM;
			if (ret == 0 && user) {
				free(cred_prefix);
				free(cred_userpwd);
				cred_prefix = strdup(clean);
				if (asprintf(&cred_userpwd, "%s:%s", user, pass ? pass : "") < 0)
					cred_userpwd = NULL;
				if (!cred_prefix || !cred_userpwd)
					ret = -ENOMEM;
			}
		}
	}
	curl_free(user);
	curl_free(pass);
	curl_free(clean);
	curl_url_cleanup(u);
	return ret;
}

int remote_check_url(const char *url, char *why, size_t why_len)
{
	char scheme[16], host[256], path[1024];
	bool q;

	size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	if (n > 0 && n < 16 && url[n] == ':' && !has_scheme(url, "http") && !has_scheme(url, "https") &&
	    !has_scheme(url, "s3")) {
		snprintf(why, why_len, "only http and https URLs are fetched, and this one is %.*s:", (int)n, url);
		return -EPROTONOSUPPORT;
	}
	if (url_parts(url, scheme, sizeof(scheme), host, sizeof(host), path, sizeof(path), &q) < 0) {
		snprintf(why, why_len, "it is not a URL with a scheme and a host");
		return -EPROTONOSUPPORT;
	}
	if (!strcmp(scheme, "http") || !strcmp(scheme, "https"))
		return 0;
	if (!strcmp(scheme, "s3")) {
		if (s3_enabled)
			return 0;
		snprintf(why, why_len, "it is an s3 URL, but no S3 endpoint and keys are configured");
		return -EPROTONOSUPPORT;
	}
	snprintf(why, why_len, "only http and https URLs are fetched, and this one is %s:", scheme);
	return -EPROTONOSUPPORT;
}

/* --- one request -------------------------------------------------------------------------- */

enum req_kind { REQ_HEAD, REQ_RANGE, REQ_BODY, REQ_PUT };

struct xfer {
	enum req_kind kind;
	uint8_t *buf;
	size_t len, cap, max;       /* REQ_RANGE: cap == max == bytes asked for */
	bool over, ignored_range;
	bool headers_only, stopped;  /* stop at a body longer than asked: the headers say all */
	long status;
	char etag[128];
	int64_t mtime, retry_after, clen;
	bool has_range;
	uint64_t r_first, r_last, r_total;
	/* REQ_PUT: the body sent, and the headers sent with it */
	const uint8_t *up;
	size_t up_len, up_off;
	struct curl_slist *up_headers;
};

static void xfer_reset(struct xfer *x)
{
	x->len = 0;
	x->over = x->ignored_range = x->has_range = x->stopped = false;
	x->status = 0;
	x->etag[0] = '\0';
	x->mtime = 0;
	x->retry_after = 0;
	x->clen = -1;
}

/* The value of header line (already stripped of CRLF) when it is name, else NULL. */
static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, k = n < 1023 ? n : 1023;
	char line[1024];
	const char *v;

	memcpy(line, p, k);
	line[k] = '\0';
	while (k && (line[k - 1] == '\r' || line[k - 1] == '\n'))
		line[--k] = '\0';
	if (!strncmp(line, "HTTP/", 5)) {
		/* A new response (after a redirect, or a 100): forget the previous one's headers. */
		const char *sp = strchr(line, ' ');
		xfer_reset(x);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
	} else if ((v = header_value(line, "etag"))) {
		snprintf(x->etag, sizeof(x->etag), "%s", v);
	} else if ((v = header_value(line, "last-modified"))) {
		time_t t = curl_getdate(v, NULL);
		x->mtime = t > 0 ? (int64_t)t : 0;
	} else if ((v = header_value(line, "content-range"))) {
		unsigned long long a, b, t;
		if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
			x->has_range = true;
			x->r_first = a, x->r_last = b, x->r_total = t;
		}
	} else if ((v = header_value(line, "content-length"))) {
		x->clen = strtoll(v, NULL, 10);
	} else if ((v = header_value(line, "retry-after"))) {
		long s = strtol(v, NULL, 10);
		x->retry_after = s > 0 ? s : 0;
	}
	return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (x->status < 200 || x->status > 299 || x->kind == REQ_PUT)
		return n;  /* an error page, or a write's answer: its status says all */
	if (x->headers_only && x->clen != (int64_t)x->max) {
		/* More than asked (a server that ignores the range's end): stopping costs the
		 * connection, but the headers are all we need. */
		x->stopped = true;
		return 0;
	}
	if (x->kind == REQ_RANGE && x->status == 200 && x->clen != (int64_t)x->max) {
		x->ignored_range = true;  /* the whole object instead of the range */
		return 0;
	}
	if (x->len + n > x->max) {
		x->over = true;
		return 0;
	}
	if (x->kind == REQ_BODY && x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 64 << 10;
		uint8_t *nb;
		while (cap < x->len + n + 1)
			cap *= 2;
		if (cap > x->max + 1)
			cap = x->max + 1;
		if (!(nb = realloc(x->buf, cap))) {
			x->over = true;
			return 0;
		}
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	return n;
}

static size_t on_upload(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	if (n > x->up_len - x->up_off)
		n = x->up_len - x->up_off;
	memcpy(p, x->up + x->up_off, n);
	x->up_off += n;
	return n;
}

static CURL *take_handle(void)
{
	CURL *h = NULL;
	pthread_mutex_lock(&pool_lock);
	if (pool_len)
		h = pool[--pool_len];
	pthread_mutex_unlock(&pool_lock);
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	return h;
}

static void give_handle(CURL *h)
{
	pthread_mutex_lock(&pool_lock);
	if (pool_len < POOL_MAX) {
		pool[pool_len++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

/* The URL to request: http(s) as given; s3://bucket/key as a path-style URL at the endpoint. */
static int request_url(const char *url, char *out, size_t size)
{
	if (has_scheme(url, "s3")) {
		const char *ep = R.s3_endpoint;
		size_t el = strlen(ep);
		while (el && ep[el - 1] == '/')
			el--;
		if ((size_t)snprintf(out, size, "%.*s/%s", (int)el, ep, url + 5) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	return (size_t)snprintf(out, size, "%s", url) >= size ? -ENAMETOOLONG : 0;
}

static void setup(CURL *h, const char *url, struct xfer *x, const char *range, bool s3)
{
	char sigv4[128], userpwd[512];

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SHARE, share);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "hlsfs/" HLSFS_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)R.timeout_s);
	/* A stall (under 1 KiB/s for the timeout) ends the try; so does a whole try that takes
	 * far longer than any block should. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)R.timeout_s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(R.timeout_s * 30 > 60 ? R.timeout_s * 30 : 60));
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	if (x->kind == REQ_HEAD)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (x->kind == REQ_PUT) {
		x->up_off = 0;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_len);
	}
	if (range)
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	if (cred_prefix && !strncmp(url, cred_prefix, strlen(cred_prefix)))
		curl_easy_setopt(h, CURLOPT_USERPWD, cred_userpwd);
	if (s3) {
		snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", R.s3_region);
		snprintf(userpwd, sizeof(userpwd), "%s:%s", R.s3_access_key, R.s3_secret_key);
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->up_headers ? x->up_headers : s3_headers);
		curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	}
}

static uint64_t jitter_state;

static unsigned jitter(unsigned max)
{
	uint64_t x = __atomic_add_fetch(&jitter_state, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
	if (!max)
		return 0;
	x ^= (uint64_t)clock() << 17;
	x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
	return (unsigned)((x ^ (x >> 29)) % max);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Judges a 2xx answer for its caller: 0 when it is the one wanted, 1 when asking again may
 * mend it (a body cut short), or a negative errno to fail at once; why filled unless 0. */
typedef int (*answer_check)(const struct xfer *x, const void *arg, char *why, size_t why_len);

/* Runs one request with retries: at most retries + 1 tries in all, whether a try fails in
 * transfer, by its status, or by check (NULL: every 2xx will do), so that one read costs one
 * budget of tries however its failures mix. Returns 0 when an answer passed, else a negative
 * errno with why filled. */
static int perform(const char *url, struct xfer *x, const char *range, unsigned retries, answer_check check,
		   const void *arg, char *why, size_t why_len)
{
	char real[4096];
	bool s3 = has_scheme(url, "s3");
	int ret;

	if ((ret = request_url(url, real, sizeof(real))) < 0) {
		snprintf(why, why_len, "its URL is too long");
		return ret;
	}
	for (unsigned attempt = 0;; attempt++) {
		CURL *h = take_handle();
		CURLcode rc;
		bool transient;

		if (!h) {
			snprintf(why, why_len, "out of memory");
			return -ENOMEM;
		}
		xfer_reset(x);
		setup(h, real, x, range, s3);
		rc = curl_easy_perform(h);
		give_handle(h);
		stats_add(STATS_REMOTE_REQUESTS, 1);
		stats_add(STATS_REMOTE_BYTES, x->len);

		transient = true;
		if ((rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->stopped)) && x->status >= 200 && x->status <= 299) {
			if (!check || (ret = check(x, arg, why, why_len)) == 0)
				return 0;
			transient = ret > 0;
			ret = ret > 0 ? -EIO : ret;
		} else if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->status && (x->status < 200 || x->status > 299))) {
			snprintf(why, why_len, "the archive answered %ld", x->status);
			if (x->status == 404 || x->status == 410)
				ret = -ENOENT, transient = false;
			else if (x->status == 401 || x->status == 403)
				ret = -EACCES, transient = false;
			else
				ret = -EIO, transient = x->status == 429 || x->status >= 500;
		} else if (rc == CURLE_WRITE_ERROR && x->ignored_range) {
			snprintf(why, why_len, "the archive does not answer range requests");
			ret = -EIO, transient = false;
		} else if (rc == CURLE_WRITE_ERROR && x->over) {
			snprintf(why, why_len, "the archive sent more bytes than asked for");
			ret = -EIO;
		} else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
			snprintf(why, why_len, "it redirects to a scheme other than http and https");
			ret = -EPROTONOSUPPORT, transient = false;
		} else if (rc == CURLE_TOO_MANY_REDIRECTS || rc == CURLE_URL_MALFORMAT) {
			snprintf(why, why_len, "%s", curl_easy_strerror(rc));
			ret = -EIO, transient = false;
		} else if (rc == CURLE_OPERATION_TIMEDOUT) {
			snprintf(why, why_len, "the archive did not answer within %u s", R.timeout_s);
			ret = -EIO;
		} else {
			snprintf(why, why_len, "%s", curl_easy_strerror(rc));
			ret = -EIO;
		}
		if (!transient || attempt >= retries) {
			stats_add(STATS_REMOTE_ERRORS, 1);
			return ret;
		}
		stats_add(STATS_REMOTE_RETRIES, 1);
		{
			unsigned ms = BACKOFF_FIRST_MS << (attempt < 5 ? attempt : 5);
			if (ms > BACKOFF_MAX_MS)
				ms = BACKOFF_MAX_MS;
			ms += jitter(ms / 2 + 1);
			if (x->retry_after * 1000 > (int64_t)ms)
				ms = x->retry_after * 1000 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : (unsigned)x->retry_after * 1000;
			sleep_ms(ms);
		}
	}
}

/* Same object: the ETag when both sides have one, else Last-Modified when both have it. */
static bool same_version(const struct remote_info *info, const struct xfer *x)
{
	if (info->etag[0] && x->etag[0])
		return !strcmp(info->etag, x->etag);
	if (info->mtime && x->mtime)
		return info->mtime == x->mtime;
	return true;
}

int remote_probe(const char *url, struct remote_info *info, bool quick, char *why, size_t why_len)
{
	uint8_t one;
	struct xfer x = { .kind = REQ_RANGE, .buf = &one, .cap = 1, .max = 1, .headers_only = true };
	int ret;

	/* A one-byte range rather than HEAD: its Content-Range gives the size and shows at once
	 * that the archive answers ranges, which every later read needs. When a server sends more
	 * than the one byte, only its headers are read. */
	memset(info, 0, sizeof(*info));
	if ((ret = perform(url, &x, "0-0", quick ? 0 : R.retries, NULL, NULL, why, why_len)) < 0)
		return ret;
	if (x.status != 206 || !x.has_range) {
		snprintf(why, why_len, "the archive does not answer range requests");
		return -EIO;
	}
	info->size = x.r_total;
	info->mtime = x.mtime;
	snprintf(info->etag, sizeof(info->etag), "%s", x.etag);
	return 0;
}

/* What remote_read asked for, for read_check. */
struct read_want {
	const struct remote_info *info;
	uint64_t off;
	size_t n;
};

/* A range answer is the bytes asked for, of the version read so far. Another version or another
 * range fails at once; only a body cut short is worth asking again. */
static int read_check(const struct xfer *x, const void *arg, char *why, size_t why_len)
{
	const struct read_want *w = arg;

	if (!same_version(w->info, x)) {
		snprintf(why, why_len, "it changed on the archive while being read (ETag %s, was %s)",
			 x->etag[0] ? x->etag : "none", w->info->etag[0] ? w->info->etag : "none");
		return -ESTALE;
	}
	if (x->status == 200 && w->off != 0) {
		snprintf(why, why_len, "the archive does not answer range requests");
		return -EIO;
	}
	if (x->status == 206 && (!x->has_range || x->r_first != w->off || x->r_last != w->off + w->n - 1 ||
				 x->r_total != w->info->size)) {
		if (x->has_range && x->r_total != w->info->size) {
			snprintf(why, why_len, "it changed on the archive while being read (size %" PRIu64 ", was %" PRIu64 ")",
				 x->r_total, w->info->size);
			return -ESTALE;
		}
		snprintf(why, why_len, "the archive answered another range than asked for");
		return -EIO;
	}
	if (x->len != w->n) {
		snprintf(why, why_len, "the archive sent %zu of %zu bytes", x->len, w->n);
		return 1;
	}
	return 0;
}

int remote_read(const char *url, const struct remote_info *info, uint64_t off, size_t n, void *buf, char *why,
		size_t why_len)
{
	struct xfer x = { .kind = REQ_RANGE, .buf = buf, .cap = n, .max = n };
	struct read_want want = { info, off, n };
	char range[64];

	if (n == 0)
		return 0;
	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, off, off + n - 1);
	return perform(url, &x, range, R.retries, read_check, &want, why, why_len);
}

int remote_fetch(const char *url, size_t max, char **body, size_t *len, char *why, size_t why_len)
{
	struct xfer x = { .kind = REQ_BODY, .max = max };
	int ret;

	*body = NULL;
	if ((ret = perform(url, &x, NULL, R.retries, NULL, NULL, why, why_len)) < 0) {
		free(x.buf);
		return ret;
	}
	if (!x.buf && !(x.buf = malloc(1))) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	x.buf[x.len] = '\0';
	*body = (char *)x.buf;
	*len = x.len;
	return 0;
}

int remote_put(const char *url, const void *data, size_t len, char *why, size_t why_len)
{
	struct xfer x = { .kind = REQ_PUT, .max = 1 << 20, .up = data, .up_len = len };
	struct curl_slist *hd = NULL;
	int ret;

	/* Only where S3 signs the request: the payload hash header, a conditional write, and no
	 * "Expect: 100-continue" round trip. */
	if (!has_scheme(url, "s3") || !s3_enabled) {
		snprintf(why, why_len, "only s3:// objects are written");
		return -EPROTONOSUPPORT;
	}
	if (!(hd = curl_slist_append(hd, "x-amz-content-sha256: UNSIGNED-PAYLOAD")) ||
	    !curl_slist_append(hd, "If-None-Match: *") || !curl_slist_append(hd, "Expect:")) {
		curl_slist_free_all(hd);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	x.up_headers = hd;
	ret = perform(url, &x, NULL, R.retries, NULL, NULL, why, why_len);
	if (ret < 0 && x.status == 412)
		ret = -EEXIST;  /* an object of that name is there already */
	curl_slist_free_all(hd);
	free(x.buf);
	return ret;
}

/* --- S3 listings ---------------------------------------------------------------------------- */

int remote_percent_encode(const char *s, bool keep_slash, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = strlen(out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			     *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/');
		if (k + 4 > size)
			return -ENAMETOOLONG;
		if (plain) {
			out[k++] = (char)*p;
		} else {
			out[k++] = '%';
			out[k++] = hex[*p >> 4];
			out[k++] = hex[*p & 15];
		}
	}
	out[k] = '\0';
	return 0;
}

/* The text of the first <tag>...</tag> in [p, end), XML entities decoded, into out. Returns a
 * pointer past the closing tag, or NULL when there is none. */
static const char *xml_text(const char *p, const char *end, const char *tag, char *out, size_t size)
{
	char open[64], close[64];
	const char *a, *b;
	size_t k = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (!(a = memmem(p, (size_t)(end - p), open, strlen(open))))
		return NULL;
	a += strlen(open);
	if (!(b = memmem(a, (size_t)(end - a), close, strlen(close))))
		return NULL;
	while (a < b && k + 1 < size) {
		static const struct { const char *ent; char c; } ents[] = {
			{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' } };
		size_t i;
		if (*a != '&') {
			out[k++] = *a++;
			continue;
		}
		for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
			size_t n = strlen(ents[i].ent);
			if ((size_t)(b - a) >= n && !memcmp(a, ents[i].ent, n)) {
				out[k++] = ents[i].c;
				a += n;
				break;
			}
		}
		if (i < sizeof(ents) / sizeof(ents[0]))
			continue;
		if (a[1] == '#') {
			/* &#NN; and &#xHH; for ASCII only (keys with other numeric references are skipped
			 * by the caller's path checks, not misread). */
			char *e;
			long v = a[2] == 'x' ? strtol(a + 3, &e, 16) : strtol(a + 2, &e, 10);
			if (e < b && *e == ';' && v > 0 && v < 128) {
				out[k++] = (char)v;
				a = e + 1;
				continue;
			}
		}
		out[k++] = *a++;
	}
	out[k] = '\0';
	return b + strlen(close);
}

int remote_s3_list(const char *url, void (*fn)(const char *key, uint64_t size, void *arg), void *arg, char *why,
		   size_t why_len)
{
	char bucket[256], prefix[1024], token[2048] = "", req[8192];
	const char *p = url + 5, *slash;
	int ret;

	if (!has_scheme(url, "s3") || !(slash = strchr(p, '/')) || slash == p || (size_t)(slash - p) >= sizeof(bucket)) {
		snprintf(why, why_len, "expected s3://BUCKET/PREFIX");
		return -EINVAL;
	}
	snprintf(bucket, sizeof(bucket), "%.*s", (int)(slash - p), p);
	snprintf(prefix, sizeof(prefix), "%s", slash + 1);
	for (unsigned page = 0; page < 100000; page++) {
		char *body, key[1100], size_s[32];
		const char *c, *end;
		size_t len;

		snprintf(req, sizeof(req), "s3://%s?list-type=2&prefix=", bucket);
		if (remote_percent_encode(prefix, false, req, sizeof(req)) < 0 ||
		    (token[0] && (snprintf(req + strlen(req), sizeof(req) - strlen(req), "&continuation-token="),
				  remote_percent_encode(token, false, req, sizeof(req)) < 0))) {
			snprintf(why, why_len, "its listing request is too long");
			return -ENAMETOOLONG;
		}
		if ((ret = remote_fetch(req, 64u << 20, &body, &len, why, why_len)) < 0)
			return ret;
		end = body + len;
		for (c = body; (c = memmem(c, (size_t)(end - c), "<Contents>", 10));) {
			const char *stop = memmem(c, (size_t)(end - c), "</Contents>", 11);
			if (!stop)
				break;
			if (xml_text(c, stop, "Key", key, sizeof(key)) && xml_text(c, stop, "Size", size_s, sizeof(size_s)) &&
			    !strncmp(key, prefix, strlen(prefix)))
				fn(key + strlen(prefix), strtoull(size_s, NULL, 10), arg);
			c = stop + 11;
		}
		token[0] = '\0';
		{
			char trunc[16] = "";
			xml_text(body, end, "IsTruncated", trunc, sizeof(trunc));
			if (!strcmp(trunc, "true"))
				xml_text(body, end, "NextContinuationToken", token, sizeof(token));
		}
		free(body);
		if (!token[0])
			return 0;
	}
	snprintf(why, why_len, "the listing does not end");
	return -EIO;
}
