/* Option values: durations, the config-file keys of the option table, the validator of each kind
 * with the line it gives, and the --help lines made from the table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"

/* check_bad(key, value, why): config_check refuses key=value, and its one line is why. */
static void check_bad(const char *key, const char *value, const char *want)
{
	struct config c = { 0 };
	struct config_values v;
	char why[512] = "";

	CHECK_EQ(config_set_default(&c, key, value), 0);
	CHECK_EQ(config_check(&c, &v, why, sizeof(why)), -EINVAL);
	if (strcmp(why, want))
		fprintf(stderr, "config_check %s=%s: \"%s\", expected \"%s\"\n", key, value, why, want);
	CHECK(!strcmp(why, want));
	config_release(&c);
}

int main(void)
{
	struct config c = { 0 };
	struct config_values v;
	uint32_t t = 0;
	char why[512], *help;

	CHECK_EQ(config_seconds("6", 1, 60, &t), 0);
	CHECK_EQ(t, 540000);
	CHECK_EQ(config_seconds("4.5", 1, 60, &t), 0);
	CHECK_EQ(t, 405000);
	CHECK_EQ(config_seconds("10s", 1, 60, &t), 0);
	CHECK_EQ(t, 900000);
	CHECK_EQ(config_seconds("60", 1, 60, &t), 0);
	const char *bad[] = { "", "0", "0.5", "61", "abc", "6x", "-6", "6.", ".5", "1e3", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(config_seconds(bad[i], 1, 60, &t), -EINVAL);

	CHECK_EQ(config_set_default(&c, "segment", "4"), 0);
	CHECK_EQ(config_set_default(&c, "segment", "8"), 0);  /* first value (the command line) wins */
	CHECK(!strcmp(c.segment, "4"));
	CHECK_EQ(config_set_default(&c, "cache_dir", "/tmp/x"), 0);
	CHECK(!strcmp(c.cache_dir, "/tmp/x"));
	CHECK_EQ(config_set_default(&c, "nonsense", "1"), -ENOENT);
	CHECK_EQ(config_set_default(&c, "config", "/etc/other.conf"), -ENOENT);  /* -o only */
	CHECK(c.config == NULL);
	config_release(&c);

	/* Every key of the table but config is a config-file key. */
	for (size_t i = 0; i < CONFIG_NB_OPTIONS; i++) {
		int want = config_options[i].flags & CONFIG_CMDLINE ? -ENOENT : 0;
		CHECK_EQ(config_set_default(&c, config_options[i].name, "x"), want);
	}
	config_release(&c);

	/* Nothing given: every default, parsed. */
	CHECK_EQ(config_check(&c, &v, why, sizeof(why)), 0);
	CHECK_EQ(v.segment, 6 * 90000);
	CHECK_EQ(v.prefetch, 2);
	CHECK_EQ(v.workers, 2);
	CHECK_EQ(v.cache_passthrough, false);
	CHECK_EQ(v.cache_max, 0);
	CHECK_EQ(v.cache_ttl, 0);
	CHECK(v.cache_dir == NULL && v.base_url == NULL && v.s3_endpoint == NULL);
	CHECK_EQ(v.ladder.nb_rungs, 4);
	CHECK_EQ(v.ladder.height[0], 1080);
	CHECK_EQ(v.ladder.kbps[3], 800);
	CHECK(!strcmp(v.encoder, "libx264"));
	CHECK(!strcmp(v.preset, "veryfast"));
	CHECK(!strcmp(v.profile, "main"));
	CHECK_EQ(v.remote_timeout, 10);
	CHECK_EQ(v.remote_retries, 3);
	CHECK_EQ(v.remote_revalidate, 60);
	CHECK_EQ(v.remote_ttl, 7 * 86400);
	CHECK(!strcmp(v.remote_prefetch, "none"));

	/* Given values of each kind. */
	CHECK_EQ(config_set_default(&c, "segment", "4.5"), 0);
	CHECK_EQ(config_set_default(&c, "cache_max", "20G"), 0);
	CHECK_EQ(config_set_default(&c, "cache_passthrough", "On"), 0);
	CHECK_EQ(config_set_default(&c, "ladder", "360:800,720:2800"), 0);
	CHECK_EQ(config_set_default(&c, "profile", "high"), 0);
	CHECK_EQ(config_set_default(&c, "remote_revalidate", "365d"), 0);
	CHECK_EQ(config_set_default(&c, "remote_prefetch", "whole"), 0);
	CHECK_EQ(config_set_default(&c, "s3_endpoint", "https://s3.example.net"), 0);
	CHECK_EQ(config_check(&c, &v, why, sizeof(why)), 0);
	CHECK_EQ(v.segment, 405000);
	CHECK_EQ(v.cache_max, 20ull << 30);
	CHECK_EQ(v.cache_passthrough, true);
	CHECK_EQ(v.ladder.nb_rungs, 2);
	CHECK_EQ(v.ladder.height[0], 720);
	CHECK(!strcmp(v.profile, "high"));
	CHECK_EQ(v.remote_revalidate, 365 * 86400);
	CHECK(!strcmp(v.remote_prefetch, "whole"));
	CHECK(!strcmp(v.s3_endpoint, "https://s3.example.net"));
	config_release(&c);

	/* One line naming the option, the value and what is allowed. */
	check_bad("segment", "90", "segment=90: expected a duration in seconds from 1 to 60");
	check_bad("cache_max", "1X", "cache_max=1X: expected a size such as 512M or 20G");
	check_bad("cache_ttl", "-1", "cache_ttl=-1: expected a duration such as 12h or 7d");
	check_bad("cache_passthrough", "maybe", "cache_passthrough=maybe: expected yes or no");
	check_bad("prefetch", "17", "prefetch=17: expected a whole number from 0 to 16");
	check_bad("workers", "0", "workers=0: expected a whole number from 1 to 64");
	check_bad("ladder", "720:2800/", "ladder=720:2800/: expected none or up to 8 HEIGHT:KBPS pairs separated by "
		  "'/', for example 720:2800/360:800");
	check_bad("profile", "Main", "profile=Main: expected baseline, main or high");
	check_bad("remote_timeout", "601", "remote_timeout=601: expected a whole number from 1 to 600");
	check_bad("remote_revalidate", "366d", "remote_revalidate=366d: expected a duration such as 12h or 7d, "
		  "at most 365d");
	check_bad("remote_prefetch", "all", "remote_prefetch=all: expected none or whole");
	check_bad("s3_endpoint", "s3.example.net", "s3_endpoint=s3.example.net: expected an http or https URL");

	/* --help: a line for each option, with its default. */
	CHECK_EQ(config_help(&help), 0);
	CHECK(strstr(help, "    -o segment=SECONDS     target segment duration (default 6, 1 to 60)\n") != NULL);
	CHECK(strstr(help, "    -o cache_passthrough=yes|no  also cache remuxed segments (default no)\n") != NULL);
	CHECK(strstr(help, "(default 1080:5000/720:2800/480:1400/360:800)") != NULL);
	CHECK(strstr(help, "    -o config=FILE ") != NULL);
	for (const char *p = help; *p; p = strchr(p, '\n') + 1)
		CHECK(strchr(p, '\n') - p <= 84);
	free(help);
	return check_report("config");
}
