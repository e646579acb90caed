/* FNV-1a and the cache's word-at-a-time checksum (hash.h). Pure: both are part of what is kept on
 * disk (cache keys, index blob checksums, cache file checksums), so they never change. */
#include "hash.h"

#include <string.h>

#define FNV_PRIME 1099511628211ull

uint64_t hash_fnv1a(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = HASH_BASIS ^ seed;
	while (n--)
		h = (h ^ *b++) * FNV_PRIME;
	return h;
}

uint64_t hash_words(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = (h ^ w) * FNV_PRIME;
		b += 8;
		n -= 8;
	}
	while (n--)
		h = (h ^ *b++) * FNV_PRIME;
	return h;
}
