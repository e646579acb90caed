/* Settings shared by -o and the config file, and their value parsers. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

int config_set_default(struct config *c, const char *key, const char *value)
{
	char **field;

	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "cache_dir", offsetof(struct config, cache_dir) },
		{ "segment", offsetof(struct config, segment) },
		{ "cache_max", offsetof(struct config, cache_max) },
		{ "cache_ttl", offsetof(struct config, cache_ttl) },
		{ "cache_passthrough", offsetof(struct config, cache_passthrough) },
		{ "prefetch", offsetof(struct config, prefetch) },
		{ "workers", offsetof(struct config, workers) },
		{ "ladder", offsetof(struct config, ladder) },
		{ "encoder", offsetof(struct config, encoder) },
		{ "preset", offsetof(struct config, preset) },
		{ "profile", offsetof(struct config, profile) },
		{ "base_url", offsetof(struct config, base_url) },
		{ "remote_timeout", offsetof(struct config, remote_timeout) },
		{ "remote_retries", offsetof(struct config, remote_retries) },
		{ "remote_revalidate", offsetof(struct config, remote_revalidate) },
		{ "remote_ttl", offsetof(struct config, remote_ttl) },
		{ "remote_prefetch", offsetof(struct config, remote_prefetch) },
		{ "s3_endpoint", offsetof(struct config, s3_endpoint) },
		{ "s3_region", offsetof(struct config, s3_region) },
		{ "s3_access_key", offsetof(struct config, s3_access_key) },
		{ "s3_secret_key", offsetof(struct config, s3_secret_key) },
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i].key))
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return -ENOENT;
	field = (char **)((char *)c + keys[i].off);
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

int config_seconds(const char *s, unsigned min_s, unsigned max_s, uint32_t *ticks)
{
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		whole = whole * 10 + (uint64_t)(*p++ - '0');
		if (whole > max_s)
			return -EINVAL;
	}
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return -EINVAL;
		while (*p >= '0' && *p <= '9') {
			if (scale < 1000000) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
			p++;
		}
	}
	if (p == s)
		return -EINVAL;  /* no digit at all */
	if (*p == 's')
		p++;
	if (*p)
		return -EINVAL;
	{
		uint64_t t = whole * 90000 + frac * 90000 / scale;
		if (t < (uint64_t)min_s * 90000 || t > (uint64_t)max_s * 90000)
			return -EINVAL;
		*ticks = (uint32_t)t;
	}
	return 0;
}

/* Digits then an optional unit from units (multipliers in mult). */
static int number_with_unit(const char *s, const char *units, const uint64_t *mult, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	const char *u;

	if (!(*p >= '0' && *p <= '9'))
		return -EINVAL;
	while (*p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (*p) {
		if (p[1] || !(u = strchr(units, *p)))
			return -EINVAL;
		if (v > UINT64_MAX / mult[u - units])
			return -EINVAL;
		v *= mult[u - units];
	}
	*out = v;
	return 0;
}

int config_size(const char *s, uint64_t *bytes)
{
	static const uint64_t mult[] = { 1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40,
					 1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40 };
	return number_with_unit(s, "KMGTkmgt", mult, bytes);
}

int config_duration(const char *s, uint64_t *seconds)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400 };
	return number_with_unit(s, "smhd", mult, seconds);
}

int config_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	uint64_t v;
	static const uint64_t none[] = { 1 };
	if (number_with_unit(s, "", none, &v) < 0 || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int config_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config_ladder(const char *s, unsigned max, unsigned *heights, uint32_t *kbps)
{
	unsigned n = 0;
	const char *p = s;

	if (!strcmp(s, "none"))
		return 0;
	while (*p) {
		unsigned long h = 0, k = 0;
		const char *start = p;
		while (*p >= '0' && *p <= '9' && h <= 100000)
			h = h * 10 + (unsigned long)(*p++ - '0');
		if (p == start || *p++ != ':')
			return -EINVAL;
		start = p;
		while (*p >= '0' && *p <= '9' && k <= 1000000)
			k = k * 10 + (unsigned long)(*p++ - '0');
		if (p == start || (*p && *p != '/' && *p != ','))
			return -EINVAL;
		if (*p)
			p++;
		if (!*p && (p[-1] == '/' || p[-1] == ','))
			return -EINVAL;
		if (n == max || h < 64 || h > 4320 || (h & 1) || k < 50 || k > 200000)
			return -EINVAL;
		heights[n] = (unsigned)h;
		kbps[n] = (uint32_t)k;
		n++;
	}
	if (n == 0)
		return -EINVAL;
	/* tallest first */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && heights[j] > heights[j - 1]; j--) {
			unsigned th = heights[j];
			uint32_t tk = kbps[j];
			heights[j] = heights[j - 1];
			kbps[j] = kbps[j - 1];
			heights[j - 1] = th;
			kbps[j - 1] = tk;
		}
	for (unsigned i = 1; i < n; i++)
		if (heights[i] == heights[i - 1])
			return -EINVAL;
	return (int)n;
}

void config_release(struct config *c)
{
	free(c->cache_dir);
	free(c->segment);
	free(c->cache_max);
	free(c->cache_ttl);
	free(c->cache_passthrough);
	free(c->prefetch);
	free(c->workers);
	free(c->ladder);
	free(c->encoder);
	free(c->preset);
	free(c->profile);
	free(c->base_url);
	free(c->remote_timeout);
	free(c->remote_retries);
	free(c->remote_revalidate);
	free(c->remote_ttl);
	free(c->remote_prefetch);
	free(c->s3_endpoint);
	free(c->s3_region);
	free(c->s3_access_key);
	free(c->s3_secret_key);
	free(c->config);
	memset(c, 0, sizeof(*c));
}
