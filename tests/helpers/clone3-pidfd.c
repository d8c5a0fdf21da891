/* Test helper: create a child with raw clone3(CLONE_PIDFD), kill it with
 * pidfd_send_signal and report how it died.
 *
 * Prints "child=<pid> signal=<n>" and exits 0 iff the child died of
 * SIGTERM, 1 if it died otherwise, 2 if a syscall failed.  A tracer must
 * pass clone3's struct through untouched (the pidfd comes back through a
 * pointer in it) and must follow a child created by clone3.
 */

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "clone3-pidfd: %s: %s\n", what, strerror(errno));
	return 2;
}

int main(void)
{
	struct clone_args args;
	int pidfd = -1;
	int status;
	long pid;
	sigset_t term;

	/* The child inherits dispositions and the mask; an ignored or blocked
	 * SIGTERM from our caller would leave it in pause() for ever. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (signal(SIGTERM, SIG_DFL) == SIG_ERR ||
	    sigprocmask(SIG_UNBLOCK, &term, NULL) < 0)
		return fail("reset SIGTERM");

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;

	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		return fail("clone3");
	if (pid == 0) {
		/* Raw syscalls only: glibc does not know this child exists, so
		 * its per-thread state (TID cache, locks) cannot be trusted.
		 * ppoll on no fds, no timeout: pause() as arm64 has it. */
		for (;;)
			syscall(SYS_ppoll, NULL, 0, NULL, NULL, 0);
	}

	if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0) {
		int saved = errno;

		kill((pid_t)pid, SIGKILL);
		errno = saved;
		return fail("pidfd_send_signal");
	}
	while (waitpid((pid_t)pid, &status, 0) < 0) {
		if (errno != EINTR)
			return fail("waitpid");
	}
	close(pidfd);

	if (!WIFSIGNALED(status)) {
		printf("child=%ld signal=0\n", pid);
		return 1;
	}
	printf("child=%ld signal=%d\n", pid, WTERMSIG(status));
	return WTERMSIG(status) == SIGTERM ? 0 : 1;
}
