/* The price of any seccomp filter, with no tracer: install a one-rule
 * filter that decides on the syscall number alone (as vgpu-run's does for
 * every syscall it does not watch), then exec the workload.
 *
 *   seccomp-only PROGRAM [ARG...]
 *
 * Even when the kernel's constant-action bitmap skips the BPF program, a
 * task with a filter takes the slower syscall entry path; bench/overhead
 * uses this program to show how much of vgpu-run's cost on untraced
 * syscalls is that floor. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: seccomp-only PROGRAM [ARG...]\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	/* acct(2): a syscall no workload here makes. */
	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(acct), 0) < 0) {
		fprintf(stderr, "seccomp-only: cannot build the filter\n");
		return 125;
	}
	int r = seccomp_load(ctx);
	if (r < 0) {
		fprintf(stderr, "seccomp-only: cannot load the filter: %s\n", strerror(-r));
		return 125;
	}
	seccomp_release(ctx);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "seccomp-only: cannot execute %s: %s\n", argv[1], strerror(errno));
	return 127;
}
