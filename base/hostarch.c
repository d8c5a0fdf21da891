/* The architectures' rows (see hostarch.h).  The facts come from each
 * architecture's Debian 12 dynamic linker (ld.so --help: "system search
 * path", glibc-hwcaps and legacy HWCAP subdirectories) and glibc's
 * elf/dl-cache.h (FLAG_X8664_LIB64 0x0300, FLAG_AARCH64_LIB64 0x0a00). */
#include "base/hostarch.h"

#include <elf.h>
#include <stddef.h>
#include <string.h>

#include "base/cleanup.h"

static const HostArch rows[] = {
	{
		.uname = "x86_64",
		.elf_name = "x86-64",
		.elf_machine = EM_X86_64,
		.ldcache_flags = 0x0300,
		/* /lib64 and /usr/lib64 as well: on distributions that are
		 * not multiarch they are the system path */
		.default_dirs = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
				  "/lib", "/usr/lib" },
		.hwcaps = { "glibc-hwcaps/x86-64-v4/", "glibc-hwcaps/x86-64-v3/", "glibc-hwcaps/x86-64-v2/", "" },
		.legacy = { "tls", "x86_64" },
	},
	{
		.uname = "aarch64",
		.elf_name = "aarch64",
		.elf_machine = EM_AARCH64,
		.ldcache_flags = 0x0a00,
		.default_dirs = { "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib" },
		/* glibc 2.36 has no glibc-hwcaps levels for arm64 */
		.hwcaps = { "" },
		.legacy = { "tls", "aarch64", "atomics" },
	},
};

#if defined(__x86_64__)
#define NATIVE 0
#elif defined(__aarch64__)
#define NATIVE 1
#else
#error "vgpu-run runs on x86_64 and aarch64"
#endif

const HostArch *hostarch_native(void)
{
	return &rows[NATIVE];
}

const HostArch *hostarch_by_uname(const char *name)
{
	for (size_t i = 0; name && i < ELEMENTSOF(rows); i++)
		if (!strcmp(rows[i].uname, name))
			return &rows[i];
	return NULL;
}
