/* hlsfs settings: one table of keys shared by -o options and the config file, and the parsers
 * of their values. Pure: the caller reads files and the command line. */
#ifndef HLSFS_CONFIG_H
#define HLSFS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct config {
	char *cache_dir;   /* where the persistent cache lives */
	char *segment;     /* target segment duration, seconds */
	char *config;      /* the config file itself (-o only) */
};

#define CONFIG_DEFAULT_SEGMENT "6"

/* Sets key to value unless the key already has a value (the command line wins over the
 * config file). Returns 0, -ENOENT for an unknown key, -ENOMEM. */
int config_set_default(struct config *c, const char *key, const char *value);

/* Parses a duration in seconds ("6", "4.5") into 90 kHz ticks, within [min_s, max_s].
 * Returns 0 or -EINVAL. */
int config_seconds(const char *s, unsigned min_s, unsigned max_s, uint32_t *ticks);

void config_release(struct config *c);

#endif
