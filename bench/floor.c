/* Two-stop floor tracer for bench/overhead.
 *
 * Usage: floor PROGRAM [ARG...]
 *
 * Traces openat only, via a seccomp filter returning SCMP_ACT_TRACE, and
 * for each traced call does the least work needed to know what was opened
 * and how it ended: one PTRACE_GET_SYSCALL_INFO plus one process_vm_readv
 * at the seccomp stop, one PTRACE_GET_SYSCALL_INFO at the syscall-exit
 * stop.  Any tracer that records path and result per syscall pays at
 * least these two stops, so this is the yardstick for vgpu-run's cost per
 * traced syscall.  Forks are not followed: the workload it is meant for
 * (loops openat-missing) is a single process.
 */

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
/* glibc 2.36 defines the request but not struct ptrace_syscall_info. */
#include <linux/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PATH_READ 256

/* Kept so the work done at each stop cannot be optimised away. */
static volatile uint64_t sink;

static int load_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (!ctx)
		return -ENOMEM;
	rc = seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), SCMP_SYS(openat), 0);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	/* Without CAP_SYS_ADMIN the kernel insists on no_new_privs. */
	if (rc == -EACCES) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			rc = -errno;
		else
			rc = seccomp_load(ctx);
	}
	seccomp_release(ctx);
	return rc;
}

static void child(int rfd, char **argv)
{
	char c;
	int rc;

	/* Block until the parent has seized us, so no openat goes untraced. */
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	close(rfd);
	rc = load_filter();
	if (rc < 0) {
		fprintf(stderr, "floor: seccomp filter: %s\n", strerror(-rc));
		_exit(127);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "floor: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void on_seccomp_stop(pid_t pid)
{
	struct ptrace_syscall_info info;
	char buf[PATH_READ];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote;
	ssize_t n;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) <= 0)
		return;
	remote.iov_base = (void *)(uintptr_t)info.seccomp.args[1];
	remote.iov_len = sizeof(buf);
	/* A path near the end of a mapping reads short or fails; both are fine. */
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	sink += n > 0 ? (uint64_t)n + (unsigned char)buf[0] : 0;
}

static void on_syscall_exit(pid_t pid)
{
	struct ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) <= 0)
		return;
	if (info.op == PTRACE_SYSCALL_INFO_EXIT)
		sink += (uint64_t)info.exit.rval;
}

static int trace(pid_t tracee)
{
	for (;;) {
		int status;
		int sig = 0;
		enum __ptrace_request next = PTRACE_CONT;
		pid_t pid = waitpid(-1, &status, __WALL);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			perror("floor: waitpid");
			return 1;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (pid != tracee)
				continue;
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		}
		if (!WIFSTOPPED(status))
			continue;

		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
			on_seccomp_stop(pid);
			/* Stop once more at syscall exit to see the result. */
			next = PTRACE_SYSCALL;
		} else if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			on_syscall_exit(pid);
		} else if (status >> 16 == 0) {
			/* Signal-delivery stop: pass the signal on. */
			sig = WSTOPSIG(status);
		}
		/* ESRCH means the tracee died meanwhile; waitpid reports it. */
		if (ptrace(next, pid, 0, (void *)(uintptr_t)sig) < 0 && errno != ESRCH) {
			perror("floor: ptrace restart");
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	int fds[2];
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: floor PROGRAM [ARG...]\n");
		return 2;
	}
	if (pipe(fds) < 0) {
		perror("floor: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("floor: fork");
		return 1;
	}
	if (pid == 0) {
		close(fds[1]);
		child(fds[0], argv + 1);
	}
	close(fds[0]);
	if (ptrace(PTRACE_SEIZE, pid, 0,
		   (void *)(uintptr_t)(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD |
				       PTRACE_O_EXITKILL)) < 0) {
		perror("floor: PTRACE_SEIZE");
		kill(pid, SIGKILL);
		return 1;
	}
	if (write(fds[1], "g", 1) != 1) {
		perror("floor: write");
		kill(pid, SIGKILL);
		return 1;
	}
	close(fds[1]);
	return trace(pid);
}
