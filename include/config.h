/* hlsfs settings: the one table of options (CONFIG_OPTIONS) that -o, the config file, validation
 * and --help are made from, and the parsers of their values. Pure: the caller reads files and argv. */
#ifndef HLSFS_CONFIG_H
#define HLSFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "remote.h"

/*
 * Every option is one OPTION(...) line below, and nowhere else: src/main.c builds its fuse_opt
 * table from it, config_set_default() knows the config-file keys from it, config_check() parses
 * and range-checks each value by its kind, and config_help() writes the --help lines. README.md,
 * man/hlsfs.1 and man/hlsfs.conf.5 describe the options in prose; tests/t-docs.sh reads this
 * table and fails when a name or a default there differs from it (curl's rule: every option is
 * documented once, and a test holds the parser, the man page and --help together).
 *
 * OPTION(name, kind, min, max, default, flags, metavar, help):
 *   name     the -o option and config-file key; struct config and struct config_values have a
 *            field of that name (the text given, and the value parsed from it or from default)
 *   kind     how the text is parsed and checked (one validator per kind, in config.c):
 *            TEXT      any text (paths, names; their users check what they need)
 *            URL       an http:// or https:// URL
 *            UINT      a whole number from min to max
 *            SECONDS   seconds with an optional fraction, from min to max, kept as 90 kHz ticks
 *            SIZE      bytes, or with a binary unit K, M, G or T
 *            DURATION  seconds, or with a unit s, m, h or d; at most max seconds when max is not 0
 *            BOOL      yes/no, true/false, on/off, 1/0
 *            ENUM      one of the words of metavar, which are separated by '|'
 *            LADDER    none, or up to max HEIGHT:KBPS rungs (see config_ladder())
 *   default  the text used when the option is not given, parsed like a given one; NULL: unset
 *            (text options stay NULL, numbers 0, booleans false)
 *   flags    CONFIG_CMDLINE: an -o option only, not a config-file key
 *   metavar  what --help shows after "name="
 *   help     the --help text, one sentence without the default or range (config_help adds them)
 *
 * The order is that of --help, and the order in which config_check() looks at the values.
 */
#define CONFIG_OPTIONS(OPTION) \
	OPTION(cache_dir, TEXT, 0, 0, NULL, 0, "DIR", \
	       "folder for the persistent index and segment cache, created if missing; without it nothing is kept") \
	OPTION(segment, SECONDS, 1, 60, "6", 0, "SECONDS", \
	       "target segment duration") \
	OPTION(cache_max, SIZE, 0, 0, NULL, 0, "SIZE", \
	       "size cap of cache_dir, e.g. 512M, 20G") \
	OPTION(cache_ttl, DURATION, 0, 0, NULL, 0, "DURATION", \
	       "drop cache entries unused this long, e.g. 12h, 7d") \
	OPTION(cache_passthrough, BOOL, 0, 0, "no", 0, "yes|no", \
	       "also cache remuxed segments") \
	OPTION(prefetch, UINT, 0, 16, "2", 0, "N", \
	       "segments prepared ahead of a reader") \
	OPTION(workers, UINT, 1, 64, "2", 0, "N", \
	       "segments made at once for readers (prefetch yields to them)") \
	OPTION(ladder, LADDER, 0, CONFIG_MAX_RUNGS, "1080:5000/720:2800/480:1400/360:800", 0, "H:KBPS/...", \
	       "transcoded rungs below the source, or none") \
	OPTION(encoder, TEXT, 0, 0, "libx264", 0, "NAME", \
	       "H.264 encoder of the rungs") \
	OPTION(preset, TEXT, 0, 0, "veryfast", 0, "NAME", \
	       "its speed preset") \
	OPTION(profile, ENUM, 0, 0, "main", 0, "baseline|main|high", \
	       "H.264 profile of the rungs") \
	OPTION(base_url, TEXT, 0, 0, NULL, 0, "URL", \
	       "public https URL of the mount root; adds cytube.json to every video") \
	OPTION(thumbnails, BOOL, 0, 0, "yes", 0, "yes|no", \
	       "offer thumbs/ scrubbing previews, made on the first stat of a sheet") \
	OPTION(growing_idle, DURATION, 0, 3600, "15", 0, "DURATION", \
	       "a local video written this recently and open for writing is a recording being written (EVENT playlists); 0: never") \
	OPTION(remote_timeout, UINT, 1, 600, REMOTE_DEFAULT_TIMEOUT, 0, "SECONDS", \
	       "remote sources: connect timeout and longest stall of a read") \
	OPTION(remote_retries, UINT, 0, 10, REMOTE_DEFAULT_RETRIES, 0, "N", \
	       "tries after the first on 5xx, 429, timeouts and resets") \
	OPTION(remote_revalidate, DURATION, 0, 86400 * 365, "60", 0, "DURATION", \
	       "how long what an archive said of a file (size, ETag) is trusted") \
	OPTION(remote_ttl, DURATION, 0, 0, "7d", 0, "DURATION", \
	       "drop cached blocks of remote files unused this long, or 0 for no age limit") \
	OPTION(remote_prefetch, ENUM, 0, 0, "none", 0, "none|whole", \
	       "fetch the rest of a played remote file in the background") \
	OPTION(s3_endpoint, URL, 0, 0, NULL, 0, "URL", \
	       "S3-compatible service of s3:// sources") \
	OPTION(s3_region, TEXT, 0, 0, NULL, 0, "NAME", \
	       "its region, for SigV4 signing") \
	OPTION(s3_access_key, TEXT, 0, 0, NULL, 0, "KEY", \
	       "its access key") \
	OPTION(s3_secret_key, TEXT, 0, 0, NULL, 0, "KEY", \
	       "its secret key; put it in the config file, as -o options are visible to every user in ps") \
	OPTION(shared_cache, TEXT, 0, 0, NULL, 0, "DIR|s3://BUCKET/PREFIX", \
	       "segment store shared by several nodes (a folder they all mount, or a bucket): transcoded segments are looked for there first and put there once made; needs cache_dir") \
	OPTION(config, TEXT, 0, 0, NULL, CONFIG_CMDLINE, "FILE", \
	       "read settings from an INI file with the same keys; -o wins")

/* Rungs a ladder may have; main.c checks that the plan has room for as many. */
#define CONFIG_MAX_RUNGS 8

enum config_kind {
	CONFIG_KIND_TEXT,
	CONFIG_KIND_URL,
	CONFIG_KIND_UINT,
	CONFIG_KIND_SECONDS,
	CONFIG_KIND_SIZE,
	CONFIG_KIND_DURATION,
	CONFIG_KIND_BOOL,
	CONFIG_KIND_ENUM,
	CONFIG_KIND_LADDER,
};

/* flags of an option */
#define CONFIG_CMDLINE 1u  /* -o only: a config file cannot name another (or itself) */

/* CONFIG_OPT_name: an option's index in config_options[]. */
enum {
#define CONFIG_OPTION_INDEX(name, ...) CONFIG_OPT_##name,
	CONFIG_OPTIONS(CONFIG_OPTION_INDEX)
#undef CONFIG_OPTION_INDEX
	CONFIG_NB_OPTIONS
};

/* Every option as the text it was given, NULL when it was not; malloc'd, freed by
 * config_release(). */
struct config {
#define CONFIG_TEXT_FIELD(name, ...) char *name;
	CONFIG_OPTIONS(CONFIG_TEXT_FIELD)
#undef CONFIG_TEXT_FIELD
};

/* A parsed ladder, tallest rung first. */
struct config_ladder {
	unsigned nb_rungs;
	unsigned height[CONFIG_MAX_RUNGS];
	uint32_t kbps[CONFIG_MAX_RUNGS];
};

/* What a value of each kind is parsed into. */
#define CONFIG_TYPE_TEXT const char *      /* the given text or the default, NULL if neither */
#define CONFIG_TYPE_URL const char *
#define CONFIG_TYPE_UINT unsigned
#define CONFIG_TYPE_SECONDS uint32_t       /* 90 kHz ticks */
#define CONFIG_TYPE_SIZE uint64_t          /* bytes */
#define CONFIG_TYPE_DURATION uint64_t      /* seconds */
#define CONFIG_TYPE_BOOL bool
#define CONFIG_TYPE_ENUM const char *      /* the word, one of the metavar's */
#define CONFIG_TYPE_LADDER struct config_ladder

/* Every option's value once checked. Text fields point into the struct config they were
 * checked from, or at the table's default: valid while that struct config is. */
struct config_values {
#define CONFIG_VALUE_FIELD(name, kind, ...) CONFIG_TYPE_##kind name;
	CONFIG_OPTIONS(CONFIG_VALUE_FIELD)
#undef CONFIG_VALUE_FIELD
};

/* One row of the table, as config.c lays it out. */
struct config_option {
	const char *name;
	enum config_kind kind;
	uint64_t min, max;
	const char *dflt;
	unsigned flags;
	const char *metavar;
	const char *help;
	size_t text_off;   /* of its char * in struct config */
	size_t value_off;  /* of its value in struct config_values */
};

/* The table, CONFIG_NB_OPTIONS rows in CONFIG_OPTIONS order. */
extern const struct config_option config_options[CONFIG_NB_OPTIONS];

/* Sets key to value unless the key already has a value (the command line wins over the
 * config file). Returns 0, -ENOENT for an unknown key or one that is -o only, -ENOMEM. */
int config_set_default(struct config *c, const char *key, const char *value);

/* Parses every option of c (or its default) by its kind into v, in table order. Returns 0, or
 * -EINVAL with why holding one line (no newline) for the first bad value, naming the option,
 * the value and what is allowed, e.g. "segment=90: expected a duration in seconds from 1 to 60". */
int config_check(const struct config *c, struct config_values *v, char *why, size_t why_len);

/* The --help lines of every option ("    -o name=METAVAR   help (default X, MIN to MAX)"),
 * wrapped at 80 columns, each ending in a newline. *text is malloc'd; the caller frees it.
 * Returns 0 or -ENOMEM. */
int config_help(char **text);

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

/* Frees every text of c and zeroes it. */
void config_release(struct config *c);

#endif
