/* The files a traced program names, looked at with a time limit.
 *
 * Every stat, open and read vgpu-run does on a path a tracee chose goes
 * through here, so that no file can stall the event loop (base/worker.h
 * says how and why).  A call that passes the limit fails with -ETIMEDOUT,
 * which the events record as they record any other error. */
#pragma once

#include <stddef.h>
#include <sys/stat.h>

#include "base/worker.h"
#include "observe/elf-facts.h"

/* The limit on one call: far above what a local disk, even a slow
 * network file system, takes to read a library's headers. */
#define FILES_TIMEOUT_NS (2ULL * 1000000000ULL)

/* elf_parse_file(), plus the real path when it differs (ret->realpath). */
int files_elf_facts(Worker *w, const char *path, ElfFacts *ret);
/* elf_symbols_file(). */
int files_elf_symbols(Worker *w, const char *path, ElfSymbols *ret);
/* stat(2); 0 or -errno. */
int files_stat(Worker *w, const char *path, struct stat *ret);
/* The first bytes of the regular file PATH, at most FILES_HEAD_MAX and
 * SIZE, into OUT (*RET_LEN of them); -EINVAL for anything but a regular
 * file, which is never read. */
#define FILES_HEAD_MAX 4096
int files_head(Worker *w, const char *path, char *out, size_t size, size_t *ret_len);
/* realpath(3) into OUT; 0 or -errno. */
int files_realpath(Worker *w, const char *path, char *out, size_t size);
