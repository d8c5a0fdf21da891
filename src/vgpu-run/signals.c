/* Signal forwarding and re-raising (see signals.h). */
#include "vgpu-run/signals.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* The signals vgpu-run keeps, whatever sent them.  Everything else that
 * can be caught goes on to the command, as tini and dumb-init do: a
 * signal vgpu-run does not use must not end it (and, through
 * PTRACE_O_EXITKILL, the whole traced tree). */
static const int kept_signals[] = {
	SIGKILL, SIGSTOP,	/* cannot be caught */
	SIGCHLD,		/* every ptrace stop of a tracee sends it */
	/* Synchronous faults: they say vgpu-run itself went wrong (sent by
	 * another process, they are still nothing the command asked for). */
	SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS,
};

/* The standard signals are 1..31; 32 and 33 are glibc's own (thread
 * cancellation, setxid), SIGRTMIN is the first a program may use. */
#define STANDARD_SIGNALS_MAX 31

void signals_forward_set(sigset_t *ret, bool report_file)
{
	sigemptyset(ret);
	for (int sig = 1; sig <= STANDARD_SIGNALS_MAX; sig++)
		sigaddset(ret, sig);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(ret, sig);
	for (size_t i = 0; i < sizeof(kept_signals) / sizeof(kept_signals[0]); i++)
		sigdelset(ret, kept_signals[i]);
	if (report_file)
		sigdelset(ret, SIGUSR1);	/* rewrites the report instead */
}


void signals_reraise(int sig)
{
	/* The command's core (if any) was its own; ours would only confuse. */
	struct rlimit no_core = { 0, 0 };
	(void)setrlimit(RLIMIT_CORE, &no_core);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}
