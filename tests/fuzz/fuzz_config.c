/* Fuzzes the value parsers of the settings (-o options and the config file), the ladder
 * included, against small reference parsers of the documented grammars, and config_set_default
 * against a model where the first value given for a key wins, and config_check over what was
 * set. The input is split into strings at newlines; "key=value" strings also go to
 * config_set_default. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fuzz_common.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits then at most one unit letter; *v saturates past 2^64. Returns false on bad grammar. */
static bool ref_number(const char *s, const char *units, const uint64_t *mult, unsigned __int128 *v)
{
	const char *p = s;
	unsigned __int128 x = 0, cap = (unsigned __int128)1 << 80;  /* times 2^40 still fits */

	if (!is_digit(*p))
		return false;
	while (is_digit(*p)) {
		x = x * 10 + (unsigned)(*p++ - '0');
		if (x > cap)
			x = cap;
	}
	if (*p) {
		const char *u = strchr(units, *p);
		if (!u || p[1])
			return false;
		x *= mult[u - units];
	}
	*v = x;
	return true;
}

/* A parser may refuse numbers too close to 2^64 (it checks before each digit); below 2^63
 * it must accept exactly what the grammar allows, and what it returns must be the number. */
static void check_number(int ret, uint64_t got, bool ok, unsigned __int128 want)
{
	if (ret == 0) {
		FUZZ_CHECK(ok && want == got);
	} else {
		FUZZ_CHECK(ret == -EINVAL);
		FUZZ_CHECK(!ok || want >= ((unsigned __int128)1 << 63));
	}
}

static void check_value(const char *s, unsigned lo, unsigned hi)
{
	static const uint64_t size_mult[] = { 1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40,
					      1ull << 10, 1ull << 20, 1ull << 30, 1ull << 40 };
	static const uint64_t dur_mult[] = { 1, 60, 3600, 86400 };
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	unsigned __int128 want;
	uint64_t got;
	unsigned u;
	uint32_t ticks;
	bool ok, b, ref_b = false, known = false;
	int ret;

	ok = ref_number(s, "KMGTkmgt", size_mult, &want);
	got = 0;
	ret = config_size(s, &got);
	check_number(ret, got, ok, want);

	ok = ref_number(s, "smhd", dur_mult, &want);
	got = 0;
	ret = config_duration(s, &got);
	check_number(ret, got, ok, want);

	ok = ref_number(s, "", NULL, &want);
	ret = config_uint(s, lo, hi, &u);
	if (ret == 0)
		FUZZ_CHECK(ok && want == u && u >= lo && u <= hi);
	else
		FUZZ_CHECK(ret == -EINVAL && (!ok || want < lo || want > hi));

	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			known = true, ref_b = true;
		if (!strcasecmp(s, no[i]))
			known = true, ref_b = false;
	}
	ret = config_bool(s, &b);
	FUZZ_CHECK(ret == (known ? 0 : -EINVAL));
	if (known)
		FUZZ_CHECK(b == ref_b);

	/* Segment durations as main.c asks for them, and other ranges whose ticks fit 32 bits. */
	for (int k = 0; k < 2; k++) {
		unsigned min_s = k ? lo % 47722 : 1, max_s = k ? hi % 47722 : 60;
		const char *p = s;
		bool digit = false;
		unsigned __int128 whole = 0, frac = 0, scale = 1, t;

		ret = config_seconds(s, min_s, max_s, &ticks);
		/* reference: digits, optionally '.' and digits, optionally 's'; fraction to 1 us */
		while (is_digit(*p)) {
			whole = whole * 10 + (unsigned)(*p++ - '0');
			if (whole > (unsigned __int128)1 << 64)
				whole = (unsigned __int128)1 << 64;
			digit = true;
		}
		ok = true;
		if (*p == '.') {
			p++;
			if (!is_digit(*p))
				ok = false;
			for (; is_digit(*p); p++, digit = true) {
				if (scale < 1000000) {
					frac = frac * 10 + (unsigned)(*p - '0');
					scale *= 10;
				}
			}
		}
		if (*p == 's')
			p++;
		ok = ok && digit && !*p;
		t = whole * 90000 + frac * 90000 / scale;
		ok = ok && t >= (unsigned __int128)min_s * 90000 && t <= (unsigned __int128)max_s * 90000;
		if (ret == 0) {
			if (!ok)
				fprintf(stderr, "config_seconds(\"%s\", %u, %u) accepted it as %u ticks\n", s, min_s, max_s,
					(unsigned)ticks);
			FUZZ_CHECK(ok && t == ticks);
		} else {
			FUZZ_CHECK(ret == -EINVAL && !ok);
		}
	}
}

/* The keys config_set_default must know are the rows of the option table (config.h) but those
 * that are -o only: a config file cannot name itself. */
#define NB_KEYS CONFIG_NB_OPTIONS
_Static_assert(sizeof(struct config) == CONFIG_NB_OPTIONS * sizeof(char *),
	       "fuzz_config.c: struct config holds something besides the table's texts");

static bool is_key(size_t i)
{
	return !(config_options[i].flags & CONFIG_CMDLINE);
}

static char **field(struct config *c, size_t i)
{
	return (char **)((char *)c + config_options[i].text_off);
}

/* Ladder grammar: "none", or HEIGHT:KBPS pairs separated by '/' or ',' (no empty pair),
 * heights even in [64, 4320] and distinct, rates in [50, 200000], at most max pairs. */
static int ref_ladder(const char *s, unsigned max, unsigned *h, uint32_t *k)
{
	unsigned n = 0;
	const char *p = s;

	if (!strcmp(s, "none"))
		return 0;
	for (;;) {
		unsigned long long hv = 0, kv = 0;
		int dh = 0, dk = 0;
		for (; is_digit(*p); p++, dh++)
			hv = hv < 1000000000ull ? hv * 10 + (unsigned)(*p - '0') : hv;
		if (!dh || *p++ != ':')
			return -EINVAL;
		for (; is_digit(*p); p++, dk++)
			kv = kv < 1000000000ull ? kv * 10 + (unsigned)(*p - '0') : kv;
		if (!dk || (*p && *p != '/' && *p != ','))
			return -EINVAL;
		if (n == max || hv < 64 || hv > 4320 || (hv & 1) || kv < 50 || kv > 200000)
			return -EINVAL;
		for (unsigned i = 0; i < n; i++)
			if (h[i] == hv)
				return -EINVAL;
		h[n] = (unsigned)hv;
		k[n] = (uint32_t)kv;
		n++;
		if (!*p)
			return (int)n;
		p++;
	}
}

static void check_ladder(const char *s, unsigned max)
{
	unsigned h[16], rh[16];
	uint32_t k[16], rk[16];
	int n = config_ladder(s, max, h, k), want = ref_ladder(s, max, rh, rk);

	if (n != want)
		fprintf(stderr, "config_ladder(\"%s\", %u) = %d, expected %d\n", s, max, n, want);
	FUZZ_CHECK(n == want);
	for (int i = 0; i < n; i++) {
		int j;
		FUZZ_CHECK(i == 0 || h[i] < h[i - 1]);  /* tallest first */
		for (j = 0; j < n && rh[j] != h[i]; j++)
			;
		FUZZ_CHECK(j < n && rk[j] == k[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c = { 0 };
	const char *model[NB_KEYS] = { 0 };
	char *buf, *strs[64];
	size_t n = 0;
	unsigned lo = 0, hi = 0;

	if (size > 4096)
		return 0;
	if (size >= 8) {
		memcpy(&lo, data, 4);
		memcpy(&hi, data + 4, 4);
	}
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	strs[n++] = buf;
	for (size_t i = 0; i < size && n < 64; i++) {
		if (buf[i] == '\n') {
			buf[i] = '\0';
			strs[n++] = buf + i + 1;
		}
	}

	for (size_t i = 0; i < n; i++) {
		check_value(strs[i], lo, hi);
		check_ladder(strs[i], 8);
		check_ladder(strs[i], 1 + lo % 16);
	}

	/* "key=value" strings, as a config file gives them */
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(strs[i], '=');
		size_t k;
		int ret;
		if (!eq)
			continue;
		*eq = '\0';
		for (k = 0; k < NB_KEYS; k++)
			if (is_key(k) && !strcmp(strs[i], config_options[k].name))
				break;
		ret = config_set_default(&c, strs[i], eq + 1);
		if (k == NB_KEYS) {
			FUZZ_CHECK(ret == -ENOENT);
		} else {
			FUZZ_CHECK(ret == 0);
			if (!model[k])
				model[k] = eq + 1;
		}
	}
	for (size_t k = 0; k < NB_KEYS; k++) {
		char *v = *field(&c, k);
		FUZZ_CHECK((v == NULL) == (model[k] == NULL));
		FUZZ_CHECK(!v || !strcmp(v, model[k]));
	}
	FUZZ_CHECK(c.config == NULL);
	/* Whatever was set, the check gives 0 or one line that names an option given or defaulted. */
	{
		struct config_values v;
		char why[512];
		int ret;
		why[0] = '\0';
		ret = config_check(&c, &v, why, sizeof(why));
		FUZZ_CHECK(ret == 0 || ret == -EINVAL);
		if (ret < 0) {
			size_t k;
			for (k = 0; k < NB_KEYS; k++) {
				size_t len = strlen(config_options[k].name);
				if (!strncmp(why, config_options[k].name, len) && why[len] == '=')
					break;
			}
			FUZZ_CHECK(k < NB_KEYS && !strchr(why, '\n'));
		}
	}
	config_release(&c);
	for (size_t k = 0; k < NB_KEYS; k++)
		FUZZ_CHECK(*field(&c, k) == NULL);
	free(buf);
	return 0;
}
