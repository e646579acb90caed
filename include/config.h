/* hlsfs settings: one table of keys shared by -o options and the config file, and the parsers
 * of their values. Pure: the caller reads files and the command line. */
#ifndef HLSFS_CONFIG_H
#define HLSFS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

/* Every setting as the text it was given; main.c parses and checks each one once. */
struct config {
	char *cache_dir;          /* where the persistent index and segment cache live */
	char *segment;            /* target segment duration, seconds */
	char *cache_max;          /* size cap of cache_dir, e.g. "20G" */
	char *cache_ttl;          /* age cap of cache entries, e.g. "7d" */
	char *cache_passthrough;  /* also cache remuxed segments: yes|no */
	char *prefetch;           /* segments prepared ahead of a reader */
	char *workers;            /* generations at once */
	char *ladder;             /* transcoded rungs, HEIGHT:KBPS separated by '/' or ',', or none */
	char *encoder;            /* H.264 encoder for the rungs */
	char *preset;             /* its speed preset */
	char *profile;            /* baseline, main or high */
	char *base_url;           /* public https URL of the mount root, for cytube.json */
	char *remote_timeout;     /* seconds: connect timeout and longest stall of a remote read */
	char *remote_retries;     /* tries after the first on transient remote failures */
	char *remote_revalidate;  /* seconds a remote's identity is trusted before it is asked again */
	char *remote_ttl;         /* age cap of cached blocks of remote sources */
	char *remote_prefetch;    /* none|whole */
	char *s3_endpoint;        /* http(s) URL of an S3-compatible service, for s3:// sources */
	char *s3_region;
	char *s3_access_key;
	char *s3_secret_key;
	char *config;             /* the config file itself (-o only) */
};

#define CONFIG_DEFAULT_SEGMENT "6"
#define CONFIG_DEFAULT_PREFETCH "2"
#define CONFIG_DEFAULT_WORKERS "2"
#define CONFIG_DEFAULT_CACHE_PASSTHROUGH "no"
#define CONFIG_DEFAULT_LADDER "1080:5000/720:2800/480:1400/360:800"
#define CONFIG_DEFAULT_ENCODER "libx264"
#define CONFIG_DEFAULT_PRESET "veryfast"
#define CONFIG_DEFAULT_PROFILE "main"
#define CONFIG_DEFAULT_REMOTE_REVALIDATE "60"
#define CONFIG_DEFAULT_REMOTE_TTL "7d"
#define CONFIG_DEFAULT_REMOTE_PREFETCH "none"

/* Sets key to value unless the key already has a value (the command line wins over the
 * config file). Returns 0, -ENOENT for an unknown key, -ENOMEM. */
int config_set_default(struct config *c, const char *key, const char *value);

/* Parses a duration in seconds ("6", "4.5") into 90 kHz ticks, within [min_s, max_s].
 * Returns 0 or -EINVAL. */
int config_seconds(const char *s, unsigned min_s, unsigned max_s, uint32_t *ticks);

/* "512M", "20G", "1T", plain bytes; binary units. Returns 0 or -EINVAL. */
int config_size(const char *s, uint64_t *bytes);
/* "45s", "30m", "12h", "7d", plain seconds. Returns 0 or -EINVAL. */
int config_duration(const char *s, uint64_t *seconds);
/* A whole number within [min, max]. Returns 0 or -EINVAL. */
int config_uint(const char *s, unsigned min, unsigned max, unsigned *out);
/* yes/no, true/false, on/off, 1/0. Returns 0 or -EINVAL. */
int config_bool(const char *s, bool *out);

/* Parses a ladder: "none", or up to max rungs HEIGHT:KBPS separated by '/' or ',', heights
 * even from 64 to 4320, rates from 50 to 200000 kbit/s. Rungs come back tallest first.
 * Returns the number of rungs, or -EINVAL. */
int config_ladder(const char *s, unsigned max, unsigned *heights, uint32_t *kbps);

void config_release(struct config *c);

#endif
