/* Turning a path argument into an absolute, normalised path.
 *
 * Lexical normalisation (no ".", "..", "//"; ".." stops at "/") is pure and
 * unit-tested; resolution of relative paths asks /proc for the tracee's cwd
 * or the directory behind a dirfd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Normalise absolute IN into OUT (SIZE bytes).  Returns the length,
 * -EINVAL when IN is not absolute, -ENAMETOOLONG when OUT is too small. */
int path_normalize(const char *in, char *out, size_t size);

/* Join BASE (absolute) and REL, then normalise.  REL absolute wins; an
 * empty REL names BASE itself. */
int path_join(const char *base, const char *rel, char *out, size_t size);

/* The directory a relative path of TID is resolved against: its cwd for
 * DIRFD == AT_FDCWD, else what its fd DIRFD names.  -EBADF when the fd is
 * not open or names something that is not a path (socket:[..]), -ENOENT
 * when the task is gone or the directory was removed (the kernel's
 * " (deleted)" is never taken for part of a name). */
int path_base(pid_t tid, int dirfd, char *out, size_t size);

/* TARGET (LEN bytes), read from the /proc link LINK: when it carries the
 * kernel's " (deleted)" mark and what it points to has no name left, cut
 * the mark and say true. */
bool path_link_removed(const char *link, char *target, size_t len);

/* path_base + path_join. */
int path_resolve(pid_t tid, int dirfd, const char *arg, char *out, size_t size);

/* The last component of PATH ("/a/b.so" -> "b.so"; no '/': PATH itself;
 * NULL: NULL), pointing into PATH. */
const char *path_base_name(const char *path);

/* Is NAME a shared library file name: "x.so", "x.so.1", "x.so.12.4"? */
bool path_is_library_name(const char *name);

/* PATH.N-1 -> PATH.N, ..., PATH.1 -> PATH.2, PATH -> PATH.1 (N >= 1;
 * missing ones skipped, the old PATH.N replaced).  0, or -errno with the
 * rename that failed in FROM and TO (each PATH_MAX + 16 bytes). */
int path_rotate(const char *path, unsigned n, char *from, char *to);
