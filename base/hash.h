/* FNV-1a, 64 bits: the hash of the observer's tables.  Fast on the short
 * strings (paths, file contents of a few hundred bytes) it meets, and
 * good enough for power-of-two buckets; nothing here needs resistance to
 * chosen collisions, since every table is capped in entries. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_INIT UINT64_C(1469598103934665603)
#define HASH_FNV1A_PRIME UINT64_C(1099511628211)

/* The hash of N bytes at P, continued from H (HASH_FNV1A_INIT to start). */
static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * HASH_FNV1A_PRIME;
	return h;
}

static inline uint64_t hash_fnv1a_str(const char *s)
{
	uint64_t h = HASH_FNV1A_INIT;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * HASH_FNV1A_PRIME;
	return h;
}
