/* Remote base listings: a sorted array of relative video paths. Everything under one folder is
 * one contiguous run of that array, so lookups and listings are binary searches. */
#include "catalog.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "naming.h"
#include "remote.h"
#include "store.h"
#include "strbuf.h"

#define MANIFEST_MAX (64u << 20)
#define STORE_PREFIX "list:"

struct listing {
	char **paths;   /* sorted; the strings live in text */
	size_t n;
	char *text;     /* the paths, '\n'-separated: what the store keeps */
};

struct catalog {
	char *base;                 /* ends with '/' */
	struct store *store;
	unsigned revalidate_s;
	pthread_mutex_t lock;
	struct listing cur;
	double fetched;             /* monotonic seconds of the last try */
	bool refreshing, warned;
};

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int catalog_path_ok(const char *path)
{
	const char *p = path;

	if (!*p || *p == '/' || strlen(p) > 1024 || !naming_is_video(p))
		return 0;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		if (n == 0 || n > 255 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		for (const char *q = p; q < end; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				return 0;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			return 0;  /* a trailing '/' */
	}
	return 1;
}

static int cmp_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void listing_free(struct listing *l)
{
	free(l->paths);
	free(l->text);
	memset(l, 0, sizeof(*l));
}

/* Builds a listing from '\n'-separated lines, keeping the valid, distinct video paths. Takes
 * over text. */
static int listing_from_text(char *text, struct listing *out)
{
	size_t cap = 0, n = 0;
	char **paths = NULL, *save = NULL;

	memset(out, 0, sizeof(*out));
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#' || !catalog_path_ok(line))
			continue;
		if (n == cap) {
			char **p = realloc(paths, (cap = cap ? cap * 2 : 256) * sizeof(*p));
			if (!p) {
				free(paths);
				free(text);
				return -ENOMEM;
			}
			paths = p;
		}
		paths[n++] = line;
	}
	if (n)
		qsort(paths, n, sizeof(*paths), cmp_paths);
	/* Distinct paths only. */
	{
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (!k || strcmp(paths[k - 1], paths[i]))
				paths[k++] = paths[i];
		n = k;
	}
	out->paths = paths;
	out->n = n;
	out->text = text;
	return 0;
}

/* The listing text as the store keeps it: the paths joined by '\n'. */
static int listing_join(const struct listing *l, char **text, size_t *len)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 0; i < l->n; i++) {
		strbuf_add(&sb, l->paths[i], strlen(l->paths[i]));
		strbuf_add(&sb, "\n", 1);
	}
	return (*text = strbuf_steal(&sb, len)) ? 0 : -ENOMEM;
}

struct s3_acc {
	struct strbuf sb;
};

static void s3_key(const char *key, uint64_t size, void *arg)
{
	struct s3_acc *a = arg;
	(void)size;
	strbuf_add(&a->sb, key, strlen(key));
	strbuf_add(&a->sb, "\n", 1);
}

/* Fetches the listing from the archive. */
static int fetch(struct catalog *c, struct listing *out, char *why, size_t why_len)
{
	char url[4096], *body = NULL;
	size_t len;
	int ret;

	if (!strncmp(c->base, "s3://", 5)) {
		struct s3_acc a;
		strbuf_init(&a.sb);
		if ((ret = remote_s3_list(c->base, s3_key, &a, why, why_len)) < 0) {
			strbuf_release(&a.sb);
			return ret;
		}
		if (!(body = strbuf_steal(&a.sb, &len)))
			return -ENOMEM;
	} else {
		snprintf(url, sizeof(url), "%s%s", c->base, CATALOG_MANIFEST);
		if ((ret = remote_fetch(url, MANIFEST_MAX, &body, &len, why, why_len)) < 0)
			return ret;
	}
	return listing_from_text(body, out);
}

static void keep(struct catalog *c)
{
	char key[4096 + 8], *text;
	size_t len;
	int ret;

	if (!c->store || listing_join(&c->cur, &text, &len) < 0)
		return;
	snprintf(key, sizeof(key), STORE_PREFIX "%s", c->base);
	if ((ret = store_put_remote(c->store, key, (const uint8_t *)text, len)) < 0)
		log_warn("%s: cannot keep its listing in the persistent index: %s", c->base, strerror(-ret));
	free(text);
}

static int load_kept(struct catalog *c, struct listing *out)
{
	char key[4096 + 8], *text;
	uint8_t *blob;
	size_t size;

	snprintf(key, sizeof(key), STORE_PREFIX "%s", c->base);
	if (!c->store || store_get_remote(c->store, key, &blob, &size) < 0)
		return -ENOENT;
	if (!(text = malloc(size + 1))) {
		free(blob);
		return -ENOMEM;
	}
	memcpy(text, blob, size);
	text[size] = '\0';
	free(blob);
	return listing_from_text(text, out);
}

int catalog_open(const char *base, struct store *store, unsigned revalidate_s, struct catalog **out, char *why,
		 size_t why_len)
{
	struct catalog *c;
	size_t n = strlen(base);
	char red[1024];
	int ret;

	*out = NULL;
	if (!(c = calloc(1, sizeof(*c))) || !(c->base = malloc(n + 2))) {
		free(c);
		return -ENOMEM;
	}
	memcpy(c->base, base, n + 1);
	if (n && base[n - 1] != '/')
		memcpy(c->base + n, "/", 2);
	c->store = store;
	c->revalidate_s = revalidate_s;
	pthread_mutex_init(&c->lock, NULL);
	remote_redact(c->base, red, sizeof(red));
	ret = fetch(c, &c->cur, why, why_len);
	if (ret == 0) {
		keep(c);
	} else if (ret != -ENOMEM && load_kept(c, &c->cur) == 0) {
		log_warn("%s: cannot list the archive (%s); using the listing kept from before", red, why);
		c->warned = true;
		ret = 0;
	}
	if (ret < 0) {
		catalog_close(c);
		return ret;
	}
	c->fetched = mono_s();
	log_debug("%s: %zu videos listed", red, c->cur.n);
	*out = c;
	return 0;
}

void catalog_close(struct catalog *c)
{
	if (!c)
		return;
	listing_free(&c->cur);
	pthread_mutex_destroy(&c->lock);
	free(c->base);
	free(c);
}

/* Fetches the listing again when it is older than revalidate_s; one caller does it while the
 * others go on with the listing they have. Called without the lock. */
static void refresh(struct catalog *c)
{
	struct listing fresh;
	char why[512], red[1024];
	int ret;

	pthread_mutex_lock(&c->lock);
	if (c->refreshing || mono_s() - c->fetched < c->revalidate_s) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->refreshing = true;
	pthread_mutex_unlock(&c->lock);

	ret = fetch(c, &fresh, why, sizeof(why));
	remote_redact(c->base, red, sizeof(red));
	pthread_mutex_lock(&c->lock);
	if (ret == 0) {
		listing_free(&c->cur);
		c->cur = fresh;
		if (c->warned)
			log_warn("%s: the archive lists again", red);
		c->warned = false;
		keep(c);
	} else if (!c->warned) {
		log_warn("%s: cannot list the archive (%s); keeping the listing from before", red, why);
		c->warned = true;
	}
	c->fetched = mono_s();
	c->refreshing = false;
	pthread_mutex_unlock(&c->lock);
}

/* First index whose path is >= key. */
static size_t lower_bound(const struct listing *l, const char *key)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(l->paths[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int catalog_lookup(struct catalog *c, const char *rel, char *url, size_t url_size)
{
	char prefix[1100];
	size_t i, n = strlen(rel);
	int ret = -ENOENT;

	refresh(c);
	if (!*rel)
		return CATALOG_DIR;
	if (n + 2 > sizeof(prefix))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&c->lock);
	i = lower_bound(&c->cur, rel);
	if (i < c->cur.n && !strcmp(c->cur.paths[i], rel)) {
		if ((size_t)snprintf(url, url_size, "%s", c->base) >= url_size ||
		    remote_percent_encode(rel, true, url, url_size) < 0)
			ret = -ENAMETOOLONG;
		else
			ret = CATALOG_VIDEO;
	} else {
		memcpy(prefix, rel, n);
		memcpy(prefix + n, "/", 2);
		i = lower_bound(&c->cur, prefix);
		if (i < c->cur.n && !strncmp(c->cur.paths[i], prefix, n + 1))
			ret = CATALOG_DIR;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int catalog_list(struct catalog *c, const char *rel, void (*fn)(const char *name, void *arg), void *arg)
{
	char prefix[1100], last[256] = "";
	size_t i, n = strlen(rel);

	refresh(c);
	if (n + 2 > sizeof(prefix))
		return -ENAMETOOLONG;
	memcpy(prefix, rel, n);
	if (n)
		prefix[n++] = '/';
	prefix[n] = '\0';
	pthread_mutex_lock(&c->lock);
	for (i = lower_bound(&c->cur, prefix); i < c->cur.n && !strncmp(c->cur.paths[i], prefix, n); i++) {
		const char *name = c->cur.paths[i] + n, *end = strchrnul(name, '/');
		size_t len = (size_t)(end - name);
		if (len >= sizeof(last) || (!strncmp(last, name, len) && last[len] == '\0'))
			continue;
		memcpy(last, name, len);
		last[len] = '\0';
		fn(last, arg);
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}
