/* ld.so.cache lookups (see ldcache.h).  Layout of glibc's new format
 * (elf/dl-cache.h): a 48-byte header ("glibc-ld.so.cache" "1.1", nlibs,
 * len_strings, flags, padding, extension_offset, unused), then nlibs
 * 24-byte entries {int32 flags, uint32 key, uint32 value, uint32
 * osversion, uint64 hwcap}; key and value are offsets of NUL-terminated
 * strings from the start of the header. */
#include "observe/ldcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/file.h"
#include "base/hostarch.h"

#define MAGIC "glibc-ld.so.cache1.1"
#define HEADER_SIZE 48
#define ENTRY_SIZE 24
#define FLAG_TYPE_MASK 0x00ff
#define FLAG_ELF_LIBC6 0x0003
#define FLAG_ARCH_MASK 0xff00

static uint32_t u32_at(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

int ldcache_parse(const uint8_t *buf, size_t len, LdCache *ret)
{
	if (len < HEADER_SIZE || memcmp(buf, MAGIC, strlen(MAGIC)) != 0)
		return -EINVAL;
	uint32_t nlibs = u32_at(buf + 20);
	if ((uint64_t)nlibs * ENTRY_SIZE > len - HEADER_SIZE)
		return -EINVAL;
	uint8_t *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	*ret = (LdCache){ .data = copy, .len = len, .nlibs = nlibs };
	return 0;
}

int ldcache_load(const char *path, LdCache *ret)
{
	struct stat st;
	_cleanup_close_ int fd = open_regular(path, &st);
	if (fd < 0)
		return fd;
	if (st.st_size < 0 || (uint64_t)st.st_size > LDCACHE_FILE_MAX)
		return -EFBIG;
	size_t len = (size_t)st.st_size, done = 0;
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return ldcache_parse(buf, done, ret);
}

void ldcache_done(LdCache *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

/* The string at OFF, or NULL when it is out of the file or unterminated. */
static const char *string_at(const LdCache *c, uint32_t off)
{
	if (off >= c->len)
		return NULL;
	const char *s = (const char *)c->data + off;
	return memchr(s, '\0', c->len - off) ? s : NULL;
}

const char *ldcache_lookup(const LdCache *c, const char *soname)
{
	uint32_t native = hostarch_native()->ldcache_flags;
	for (uint32_t i = 0; c && c->data && i < c->nlibs; i++) {
		const uint8_t *e = c->data + HEADER_SIZE + (size_t)i * ENTRY_SIZE;
		uint32_t flags = u32_at(e);
		if ((flags & FLAG_TYPE_MASK) != FLAG_ELF_LIBC6 ||
		    (flags & FLAG_ARCH_MASK) != native)
			continue;
		const char *key = string_at(c, u32_at(e + 4));
		if (key && !strcmp(key, soname))
			return string_at(c, u32_at(e + 8));
	}
	return NULL;
}
