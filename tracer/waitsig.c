/* Waiting for tracees without a signal handler.
 *
 * SIGCHLD (every ptrace stop notifies the tracer with it) and the signals
 * to forward are blocked for the whole run and taken with sigtimedwait():
 * the loop drains waitpid(WNOHANG) and only then sleeps, so a notification
 * that arrives in between is pending and ends the sleep at once.  No
 * handler runs, so nothing interrupts trace writes, and a signal for the
 * command can never slip in between a check and a blocking wait. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "tracer-internal.h"

int waitsig_take(Tracer *t)
{
	sigemptyset(&t->wait_set);
	sigaddset(&t->wait_set, SIGCHLD);
	for (size_t i = 0; i < t->cfg.n_forward_signals; i++) {
		int sig = t->cfg.forward_signals[i];
		struct sigaction old;
		if (sigaction(sig, NULL, &old) < 0)
			return neg_errno();
		/* Ignored when we started: the command inherited that and
		 * would ignore it too. */
		if (old.sa_handler != SIG_IGN)
			sigaddset(&t->wait_set, sig);
	}
	/* SIGCHLD set to SIG_IGN by our parent would make the kernel reap
	 * children behind our back; the command gets it back at exec. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, &t->old_sigchld) < 0)
		return neg_errno();
	if (sigprocmask(SIG_BLOCK, &t->wait_set, &t->old_mask) < 0) {
		int r = neg_errno();
		sigaction(SIGCHLD, &t->old_sigchld, NULL);
		return r;
	}
	t->signals_taken = true;
	return 0;
}

void waitsig_restore_in_child(const Tracer *t)
{
	if (!t->signals_taken)
		return;
	sigaction(SIGCHLD, &t->old_sigchld, NULL);
	sigprocmask(SIG_SETMASK, &t->old_mask, NULL);
}

void waitsig_restore(Tracer *t)
{
	if (!t->signals_taken)
		return;
	/* Forwarded signals that arrived after the last wait are dropped:
	 * the command they were meant for has ended. */
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	while (sigtimedwait(&t->wait_set, &si, &zero) > 0)
		;
	sigaction(SIGCHLD, &t->old_sigchld, NULL);
	sigprocmask(SIG_SETMASK, &t->old_mask, NULL);
	t->signals_taken = false;
}

void waitsig_wait(Tracer *t, int64_t timeout_ns)
{
	struct timespec ts = {
		.tv_sec = timeout_ns / 1000000000,
		.tv_nsec = timeout_ns % 1000000000,
	};
	siginfo_t si;
	int sig = sigtimedwait(&t->wait_set, &si, timeout_ns >= 0 ? &ts : NULL);
	/* SI_KERNEL: typed at the terminal, already delivered to the
	 * command's process group; forwarding would deliver it twice.  The
	 * loop forwards the rest once it has drained waitpid(), so that a
	 * root that just died is known to be gone. */
	if (sig > 0 && sig != SIGCHLD && si.si_code != SI_KERNEL)
		t->forward_pending = sig;
}
