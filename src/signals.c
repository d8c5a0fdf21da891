/* Signal forwarding and re-raising (see signals.h). */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cleanup.h"

static Tracer *forward_target;

static void on_forwarded(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* SI_KERNEL: typed at the terminal, already delivered to the
	 * command's process group.  Forwarding would deliver it twice. */
	if (si && si->si_code == SI_KERNEL)
		return;
	if (forward_target)
		tracer_forward_signal(forward_target, sig);
}

int signals_forward_to(Tracer *t)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	forward_target = t;
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
		/* A signal ignored when vgpu-run started stays ignored: the
		 * command inherited that disposition and would ignore it. */
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) < 0)
			return neg_errno();
		if (old.sa_handler == SIG_IGN)
			continue;
		/* No SA_RESTART: the signal interrupts waitpid(), so the
		 * event loop sees it promptly. */
		struct sigaction sa = { .sa_sigaction = on_forwarded, .sa_flags = SA_SIGINFO };
		sigemptyset(&sa.sa_mask);
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return neg_errno();
	}
	return 0;
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
