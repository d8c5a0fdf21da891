/* Durations in a fixed histogram (four buckets per power of two): the
 * median and 99th percentile of any number of samples in constant memory
 * and constant time per sample, within 19% of the true value. */
#pragma once

#include <stdint.h>

#define LATENCY_BUCKETS 256

typedef struct Latency {
	uint64_t n;
	uint64_t bucket[LATENCY_BUCKETS];
} Latency;

static inline unsigned latency_bucket(uint64_t ns)
{
	if (ns < 4)
		return (unsigned)ns;
	unsigned log = 63u - (unsigned)__builtin_clzll(ns);
	unsigned b = 4 * (log - 1) + (unsigned)((ns >> (log - 2)) & 3);
	return b < LATENCY_BUCKETS ? b : LATENCY_BUCKETS - 1;
}

/* The largest value that falls in bucket B. */
static inline uint64_t latency_bucket_max(unsigned b)
{
	if (b < 4)
		return b;
	unsigned log = b / 4 + 1, sub = b % 4;
	return ((UINT64_C(4) + sub + 1) << (log - 2)) - 1;
}

static inline void latency_add(Latency *l, uint64_t ns)
{
	l->n++;
	l->bucket[latency_bucket(ns)]++;
}

/* The upper bound of the bucket holding the PCT-th percentile; 0 without samples. */
static inline uint64_t latency_percentile(const Latency *l, unsigned pct)
{
	uint64_t want = (l->n * pct + 99) / 100, seen = 0;
	for (unsigned b = 0; l->n && b < LATENCY_BUCKETS; b++)
		if ((seen += l->bucket[b]) >= want && seen)
			return latency_bucket_max(b);
	return 0;
}
