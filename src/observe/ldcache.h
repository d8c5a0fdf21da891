/* The dynamic linker's cache (/etc/ld.so.cache, format
 * "glibc-ld.so.cache1.1"): which path it gives for a soname.  vgpu-run
 * records the answers for the DT_NEEDED entries of every library it
 * observes, so the diagnosis can say what the cache held without reading
 * this machine's cache later.  The file is untrusted input: every offset
 * is checked (tests/fuzz/fuzz-ldcache.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define LDCACHE_FILE_MAX (64u * 1024 * 1024)

typedef struct LdCache {
	uint8_t *data;
	size_t len;
	uint32_t nlibs;
} LdCache;

/* Take a copy of BUF (LEN bytes) as a cache.  0; -EINVAL when it is not a
 * valid new-format cache; -ENOMEM. */
int ldcache_parse(const uint8_t *buf, size_t len, LdCache *ret);
/* Read and parse PATH, a regular file (anything else is -EINVAL and is
 * never opened for reading); also -errno, -EFBIG. */
int ldcache_load(const char *path, LdCache *ret);
void ldcache_done(LdCache *c);

/* The path the cache gives for SONAME as a native 64-bit library (the
 * entry's flags: base/hostarch.h), or NULL.  Where glibc looks after it
 * is hostarch's default_dirs. */
const char *ldcache_lookup(const LdCache *c, const char *soname);
