/* Shared by the libFuzzer harnesses: a reader that draws numbers from the fuzz input (and, once
 * the input runs out, from a generator seeded by it, so short inputs still describe long
 * indexes deterministically), and FUZZ_CHECK, which aborts so libFuzzer records the input. */
#ifndef HLSFS_FUZZ_COMMON_H
#define HLSFS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken property is a finding like a sanitizer report: say which, then abort. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

struct fz {
	const uint8_t *p;
	size_t left;
	uint64_t rng;  /* xorshift64 state, used once the input is spent */
};

static inline void fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ull;
	f->p = data;
	f->left = size;
	f->rng = h | 1;
}

static inline bool fz_spent(const struct fz *f)
{
	return f->left == 0;
}

static inline uint8_t fz_u8(struct fz *f)
{
	if (f->left) {
		f->left--;
		return *f->p++;
	}
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return (uint8_t)(f->rng >> 24);
}

/* n bytes, little-endian. */
static inline uint64_t fz_bytes(struct fz *f, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)fz_u8(f) << (8 * i);
	return v;
}

static inline uint16_t fz_u16(struct fz *f) { return (uint16_t)fz_bytes(f, 2); }
static inline uint32_t fz_u32(struct fz *f) { return (uint32_t)fz_bytes(f, 4); }
static inline uint64_t fz_u64(struct fz *f) { return fz_bytes(f, 8); }

/* A value in [lo, hi] (hi - lo < 2^64 - 1). */
static inline uint64_t fz_range(struct fz *f, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;
	uint64_t v = span <= 0x100 ? fz_u8(f) : span <= 0x10000 ? fz_u16(f) :
		     span <= 0x100000000ull ? fz_u32(f) : fz_u64(f);
	return lo + v % span;
}

#endif
