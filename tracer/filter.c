/* Compile the watched-syscall table into a seccomp program (libseccomp).
 *
 * Rules that test only the syscall number let the kernel (>= 5.11) cache an
 * ALLOW verdict per number, so every other syscall runs at native cost.
 * Only the rules with argument tests (newfstatat, statx, write, writev,
 * ptrace) run the BPF program, and only for those numbers. */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>

#include "syscalls.h"

static int add_rule(scmp_filter_ctx ctx, const SyscallSpec *s, int nr,
		    const int *output_fds, size_t n_output_fds)
{
	switch (s->rule) {
	case STOP_ALWAYS:
		return seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), nr, 0);
	case STOP_UNLESS_EMPTY_PATH:
		return seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), nr, 1,
					SCMP_CMP(s->at_flags_arg, SCMP_CMP_MASKED_EQ,
						 AT_EMPTY_PATH, 0));
	case STOP_OUTPUT_FD:
		for (size_t i = 0; i < n_output_fds; i++) {
			/* 32-bit compare: the fd argument is an int. */
			int r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), nr, 1,
						 SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)output_fds[i]));
			if (r < 0)
				return r;
		}
		return 0;
	case STOP_PTRACE_ATTACH: {
		/* request is a long to the kernel: all 64 bits compared */
		int r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), nr, 1, SCMP_A0_64(SCMP_CMP_EQ, PTRACE_ATTACH));
		return r < 0 ? r : seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), nr, 1, SCMP_A0_64(SCMP_CMP_EQ, PTRACE_SEIZE));
	}
	default:
		return -EINVAL;
	}
}

int filter_build(const int *output_fds, size_t n_output_fds, scmp_filter_ctx *ret)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;

	/* Real kernel errnos, not libseccomp's -ECANCELED. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (r >= 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	if (r >= 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; r >= 0 && i < syscall_specs_count; i++) {
		int nr = syscall_resolve(syscall_specs[i].name);
		if (nr < 0)
			continue;
		r = add_rule(ctx, &syscall_specs[i], nr, output_fds, n_output_fds);
	}
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int filter_load(scmp_filter_ctx ctx)
{
	int r = seccomp_load(ctx);
	if (r != -EACCES)
		return r;
	/* Unprivileged: the kernel insists on no_new_privs (which also voids
	 * setuid bits in the traced tree; documented in vgpu-run(1)). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return seccomp_load(ctx);
}
