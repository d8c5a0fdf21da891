/* What differs between the architectures vgpu-run runs on, above the
 * registers (those are tracer/arch-*.c): the ELF machine of native
 * programs, the dynamic linker's search (its default directories, the
 * glibc-hwcaps and legacy subdirectories it tries inside each, the
 * ld.so.cache flag of native entries).  One row per architecture, in
 * hostarch.c; the native row is the one this program was built for, and a
 * trace made elsewhere is diagnosed with the row its header names. */
#pragma once

#include <stdint.h>

#define HOSTARCH_DIRS_MAX 6

typedef struct HostArch {
	const char *uname;		/* uname -m: "x86_64", "aarch64" */
	const char *elf_name;		/* as elf_machine_name() says it */
	uint16_t elf_machine;		/* EM_* */
	uint32_t ldcache_flags;		/* FLAG_* of native 64-bit entries */
	/* ld.so's system search path, in order (ld.so --help) */
	const char *default_dirs[HOSTARCH_DIRS_MAX + 1];
	/* subdirectories tried first in each directory, best first, ""
	 * (the directory itself) last */
	const char *hwcaps[HOSTARCH_DIRS_MAX + 1];
	/* legacy subdirectories (tls, AT_PLATFORM) a found path may hold */
	const char *legacy[HOSTARCH_DIRS_MAX + 1];
} HostArch;

/* The row this program was built for. */
const HostArch *hostarch_native(void);
/* The row for uname -m NAME; NULL when vgpu-run does not know it. */
const HostArch *hostarch_by_uname(const char *name);
