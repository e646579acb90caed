/* The hashes hlsfs names and checks things with: 64-bit FNV-1a for keys, and a word-at-a-time
 * variant of it cheap enough to run over every byte the cache writes. Pure. */
#ifndef HLSFS_HASH_H
#define HLSFS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a's offset basis: where a running hash_words starts. */
#define HASH_BASIS 14695981039346656037ull

/* 64-bit FNV-1a of n bytes at p, its basis xor seed (two seeds give two independent halves of a
 * 128-bit key). Stored hashes depend on it: changing it changes every cache key and index blob. */
uint64_t hash_fnv1a(const void *p, size_t n, uint64_t seed);

/* Continues the running checksum h over n bytes, eight at a time. Not FNV-1a: only for comparing
 * bytes with a checksum made by the same function. */
uint64_t hash_words(uint64_t h, const void *p, size_t n);

#endif
