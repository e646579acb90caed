/* Settings shared by -o and the config file: the table of options laid out from CONFIG_OPTIONS,
 * the key lookup of the config file, one validator per kind of value, and the --help text. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

const struct config_option config_options[CONFIG_NB_OPTIONS] = {
#define CONFIG_OPTION_ROW(n, k, lo, hi, d, fl, meta, h) \
	[CONFIG_OPT_##n] = { #n, CONFIG_KIND_##k, lo, hi, d, fl, meta, h, \
			     offsetof(struct config, n), offsetof(struct config_values, n) },
	CONFIG_OPTIONS(CONFIG_OPTION_ROW)
#undef CONFIG_OPTION_ROW
};

/* The text field of opt in c; c is const so that the checker and the setter share it. */
static char **config_text(const struct config *c, const struct config_option *opt)
{
	return (char **)((char *)c + opt->text_off);
}

int config_set_default(struct config *c, const char *key, const char *value)
{
	const struct config_option *opt = NULL;
	char **field;

	for (size_t i = 0; i < CONFIG_NB_OPTIONS && !opt; i++)
		if (!strcmp(key, config_options[i].name) && !(config_options[i].flags & CONFIG_CMDLINE))
			opt = &config_options[i];
	if (!opt)
		return -ENOENT;
	field = config_text(c, opt);
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

/* Seconds in the largest unit that divides them ("365d", not "31536000"), as a user writes them. */
static void config_format_duration(uint64_t s, char *buf, size_t n)
{
	if (s && s % 86400 == 0)
		snprintf(buf, n, "%" PRIu64 "d", s / 86400);
	else if (s && s % 3600 == 0)
		snprintf(buf, n, "%" PRIu64 "h", s / 3600);
	else if (s && s % 60 == 0)
		snprintf(buf, n, "%" PRIu64 "m", s / 60);
	else
		snprintf(buf, n, "%" PRIu64, s);
}

/* Whether s is one of the '|'-separated words of list. */
static bool config_is_word(const char *list, const char *s)
{
	size_t len = strlen(s);

	for (const char *p = list;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == len && !strncmp(p, s, n))
			return true;
		if (!bar)
			return false;
		p = bar + 1;
	}
}

/* "a, b or c" from "a|b|c", into buf (cut short if it does not fit). */
static void config_format_words(const char *list, char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, "|");
		const char *sep = p == list ? "" : p[len] ? ", " : " or ";
		int w = snprintf(buf + used, n - used, "%s%.*s", sep, (int)len, p);
		if (w < 0 || (size_t)w >= n - used)
			return;
		used += (size_t)w;
		p += len;
		if (*p)
			p++;
	}
}

/* Parses text, the value of opt, into out; on failure writes why (what the kind allows). */
static int config_check_one(const struct config_option *opt, const char *text, void *out, char *why,
			    size_t why_len)
{
	char words[128], dur[32];
	uint64_t u64;
	bool b;
	int n;

	switch (opt->kind) {
	case CONFIG_KIND_TEXT:
		*(const char **)out = text;
		return 0;
	case CONFIG_KIND_URL:
		if (strncmp(text, "http://", 7) && strncmp(text, "https://", 8)) {
			snprintf(why, why_len, "expected an http or https URL");
			return -EINVAL;
		}
		*(const char **)out = text;
		return 0;
	case CONFIG_KIND_UINT:
		if (config_uint(text, (unsigned)opt->min, (unsigned)opt->max, out) < 0) {
			snprintf(why, why_len, "expected a whole number from %" PRIu64 " to %" PRIu64, opt->min, opt->max);
			return -EINVAL;
		}
		return 0;
	case CONFIG_KIND_SECONDS:
		if (config_seconds(text, (unsigned)opt->min, (unsigned)opt->max, out) < 0) {
			snprintf(why, why_len, "expected a duration in seconds from %" PRIu64 " to %" PRIu64, opt->min,
				 opt->max);
			return -EINVAL;
		}
		return 0;
	case CONFIG_KIND_SIZE:
		if (config_size(text, out) < 0) {
			snprintf(why, why_len, "expected a size such as 512M or 20G");
			return -EINVAL;
		}
		return 0;
	case CONFIG_KIND_DURATION:
		if (config_duration(text, &u64) < 0 || (opt->max && u64 > opt->max)) {
			config_format_duration(opt->max, dur, sizeof(dur));
			snprintf(why, why_len, "expected a duration such as 12h or 7d%s%s", opt->max ? ", at most " : "",
				 opt->max ? dur : "");
			return -EINVAL;
		}
		*(uint64_t *)out = u64;
		return 0;
	case CONFIG_KIND_BOOL:
		if (config_bool(text, &b) < 0) {
			snprintf(why, why_len, "expected yes or no");
			return -EINVAL;
		}
		*(bool *)out = b;
		return 0;
	case CONFIG_KIND_ENUM:
		if (!config_is_word(opt->metavar, text)) {
			config_format_words(opt->metavar, words, sizeof(words));
			snprintf(why, why_len, "expected %s", words);
			return -EINVAL;
		}
		*(const char **)out = text;
		return 0;
	case CONFIG_KIND_LADDER: {
		struct config_ladder *l = out;
		n = config_ladder(text, (unsigned)opt->max, l->height, l->kbps);
		if (n < 0) {
			snprintf(why, why_len, "expected none or up to %" PRIu64 " HEIGHT:KBPS pairs separated by '/', "
				 "for example 720:2800/360:800", opt->max);
			return -EINVAL;
		}
		l->nb_rungs = (unsigned)n;
		return 0;
	}
	}
	snprintf(why, why_len, "unknown kind of option (bug)");
	return -EINVAL;
}

int config_check(const struct config *c, struct config_values *v, char *why, size_t why_len)
{
	char reason[256];

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < CONFIG_NB_OPTIONS; i++) {
		const struct config_option *opt = &config_options[i];
		const char *text = *config_text(c, opt) ? *config_text(c, opt) : opt->dflt;
		if (!text)
			continue;  /* unset: zero */
		if (config_check_one(opt, text, (char *)v + opt->value_off, reason, sizeof(reason)) < 0) {
			int n = snprintf(why, why_len, "%s=%s: %s", opt->name, text, reason);
			/* One line whatever the value held (a config file or -o may carry control bytes). */
			for (size_t k = strlen(opt->name) + 1; why_len && k < (size_t)n && k < why_len - 1; k++)
				if ((unsigned char)why[k] < 0x20 || why[k] == 0x7f)
					why[k] = '?';
			return -EINVAL;
		}
	}
	return 0;
}

/* Help columns as they were written by hand before the table: the text starts at column 27
 * and lines end by column 84, where most of its lines ended. */
#define HELP_COLUMN 27
#define HELP_WIDTH 84

/* Appends the words of text, then tail as one unbreakable piece, to sb, whose current line
 * already holds col characters; lines break between words, continuing at HELP_COLUMN. */
static void config_help_wrap(struct strbuf *sb, size_t col, const char *text, const char *tail)
{
	bool first = true;

	for (const char *p = text; *p || *tail;) {
		size_t n;
		if (!*p) {
			p = tail;  /* the default and range, kept together */
			tail = "";
			n = strlen(p);
		} else {
			n = strcspn(p, " ");
		}
		if (!first && col + 1 + n > HELP_WIDTH) {
			strbuf_printf(sb, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else if (!first) {
			strbuf_add(sb, " ", 1);
			col++;
		}
		strbuf_add(sb, p, n);
		col += n;
		first = false;
		for (p += n; *p == ' '; p++)
			;
	}
	strbuf_add(sb, "\n", 1);
}

int config_help(char **text)
{
	struct strbuf sb, tail;
	char dur[32];

	strbuf_init(&sb);
	strbuf_init(&tail);
	for (size_t i = 0; i < CONFIG_NB_OPTIONS && !tail.failed; i++) {
		const struct config_option *opt = &config_options[i];
		size_t col = strlen("    -o ") + strlen(opt->name) + 1 + strlen(opt->metavar);

		strbuf_printf(&sb, "    -o %s=%s", opt->name, opt->metavar);
		/* a long name pushes its text right, two spaces after it, as the hand-made help did */
		if (col + 1 < HELP_COLUMN) {
			strbuf_printf(&sb, "%*s", (int)(HELP_COLUMN - col), "");
			col = HELP_COLUMN;
		} else {
			strbuf_add(&sb, "  ", 2);
			col += 2;
		}
		tail.len = 0;
		if (!opt->dflt)
			strbuf_printf(&tail, "(default: none)");
		else if (opt->kind == CONFIG_KIND_UINT || opt->kind == CONFIG_KIND_SECONDS)
			strbuf_printf(&tail, "(default %s, %" PRIu64 " to %" PRIu64 ")", opt->dflt, opt->min, opt->max);
		else if (opt->kind == CONFIG_KIND_DURATION && opt->max) {
			config_format_duration(opt->max, dur, sizeof(dur));
			strbuf_printf(&tail, "(default %s, at most %s)", opt->dflt, dur);
		} else {
			strbuf_printf(&tail, "(default %s)", opt->dflt);
		}
		if (!tail.failed)
			config_help_wrap(&sb, col, opt->help, tail.data);
	}
	if (tail.failed)
		sb.failed = true;
	strbuf_release(&tail);
	*text = strbuf_steal(&sb, NULL);
	return *text ? 0 : -ENOMEM;
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
	for (size_t i = 0; i < CONFIG_NB_OPTIONS; i++)
		free(*config_text(c, &config_options[i]));
	memset(c, 0, sizeof(*c));
}
