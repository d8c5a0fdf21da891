/* ELF facts of a shared library, read from the file itself: what the
 * dynamic linker will do with it (class, machine, SONAME, NEEDED,
 * RUNPATH/RPATH) and what it needs from others (undefined symbols).
 *
 * The parser trusts nothing in the file: every offset and size is checked
 * against the file size before use, and bad input is an error, never a
 * crash (tests/fuzz/fuzz-elf.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELF_LIST_MAX 256	/* NEEDED entries kept */
#define ELF_UNDEF_MAX 2048	/* undefined symbols kept */

typedef struct ElfFacts {
	int elf_class;		/* 32 or 64 */
	bool little_endian;
	uint16_t machine;	/* EM_X86_64 = 62 */
	uint16_t type;		/* ET_DYN = 3 */
	char *soname;		/* NULL when absent */
	char *runpath;		/* DT_RUNPATH, raw ($ORIGIN kept), or NULL */
	char *rpath;		/* DT_RPATH, or NULL */
	char **needed;		/* NULL-terminated */
	size_t n_needed;
	char **undefined;	/* undefined global (non-weak) symbols */
	size_t n_undefined;
	bool truncated;		/* a list hit its bound */
	char *realpath;		/* the file behind the path, when it differs (symlinks), or NULL */
} ElfFacts;

/* Parse the ELF file in BUF (LEN bytes).  Returns 0; -ENOEXEC when it is
 * not ELF; -EINVAL when it is ELF but malformed (a bound or offset out of
 * the file); -ENOMEM.  Only 64-bit little-endian files have their dynamic
 * section read; for others class, byte order and machine are set. */
int elf_parse(const uint8_t *buf, size_t len, ElfFacts *ret);

/* Parse the file at PATH, reading only the parts it needs.  Also -errno
 * from open(2); -ENOEXEC for something that is not a regular file. */
int elf_parse_file(const char *path, ElfFacts *ret);

void elf_facts_done(ElfFacts *f);

/* "x86-64", "i386", "aarch64", or "EM_<n>". */
const char *elf_machine_name(uint16_t machine, char *buf, size_t size);

/* What a library offers others and asks of them, for the check of a
 * backend that was not loaded: the names it defines, the version nodes it
 * defines, and the versions it needs of each library (DT_VERNEED). */
#define ELF_DEFINED_MAX (1u << 20)	/* dynamic symbols read */
#define ELF_NEEDS_MAX 4096		/* version needs and definitions kept */

typedef struct ElfNeed {
	char *file;		/* "libstdc++.so.6" */
	char *version;		/* "GLIBCXX_3.4.32" */
} ElfNeed;

typedef struct ElfSymbols {
	const char **defined;	/* sorted; point into strings */
	size_t n_defined;
	char *strings;
	char **versions;	/* NULL-terminated */
	size_t n_versions;
	ElfNeed *needs;
	size_t n_needs;
	bool truncated;		/* a list hit its bound */
	unsigned steps;		/* version entries walked (bounded) */
} ElfSymbols;

/* Parse BUF / the file PATH (64-bit little-endian only); 0, -ENOEXEC,
 * -EINVAL (malformed), -ENOMEM, -errno.  *RET is zeroed on failure. */
int elf_symbols(const uint8_t *buf, size_t len, ElfSymbols *ret);
int elf_symbols_file(const char *path, ElfSymbols *ret);
bool elf_symbols_defines(const ElfSymbols *s, const char *name);
bool elf_symbols_has_version(const ElfSymbols *s, const char *version);
void elf_symbols_done(ElfSymbols *s);
