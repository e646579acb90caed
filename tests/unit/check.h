/* A minimal assertion helper for the unit tests: counts checks, prints each failure with
 * its line, and makes the test exit non-zero when any failed. */
#ifndef HLSFS_CHECK_H
#define HLSFS_CHECK_H

#include <stdio.h>

static int check_failures, check_count;

#define CHECK(cond) do { \
	check_count++; \
	if (!(cond)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	check_count++; \
	if (_a != _b) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a, #b, _b); \
	} \
} while (0)

static inline int check_report(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
