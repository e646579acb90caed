/* Settings shared by -o and the config file, and their value parsers. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int config_set_default(struct config *c, const char *key, const char *value)
{
	char **field;

	if (!strcmp(key, "cache_dir"))
		field = &c->cache_dir;
	else if (!strcmp(key, "segment"))
		field = &c->segment;
	else
		return -ENOENT;
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
	if (*p == 's')
		p++;
	if (*p || p == s)
		return -EINVAL;
	{
		uint64_t t = whole * 90000 + frac * 90000 / scale;
		if (t < (uint64_t)min_s * 90000 || t > (uint64_t)max_s * 90000)
			return -EINVAL;
		*ticks = (uint32_t)t;
	}
	return 0;
}

void config_release(struct config *c)
{
	free(c->cache_dir);
	free(c->segment);
	free(c->config);
	memset(c, 0, sizeof(*c));
}
