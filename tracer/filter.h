/* The seccomp-bpf program that decides which syscalls stop. */
#pragma once

#include <seccomp.h>
#include <stddef.h>

/* Build the filter from syscall_specs[]: SCMP_ACT_TRACE for the watched
 * syscalls (with the argument conditions of their stop rule), ALLOW for
 * everything else, ALLOW for foreign architectures (a 32-bit child must not
 * be killed; it runs untraced).  *ret is released with seccomp_release(). */
int filter_build(const int *output_fds, size_t n_output_fds, scmp_filter_ctx *ret);

/* Load the filter into the calling process.  Tries without no_new_privs
 * first (a privileged caller keeps setuid working for the traced tree) and
 * sets it only when the kernel demands it.  Async-signal-safe enough for a
 * freshly forked child of a single-threaded parent. */
int filter_load(scmp_filter_ctx ctx);

static inline void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}
