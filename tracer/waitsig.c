/* Waiting for tracees, and the signals to pass on to the command.
 *
 * Two modes (loop.c picks one before each wait):
 *
 * fast: while the root process lives and no new task is held, the loop
 *   blocks in waitpid(), one syscall per stop.  A forwarded signal runs a
 *   handler that kill()s the root at once: there is no state to race
 *   with.  SA_RESTART: the handler never breaks the loop's own I/O.
 *
 * careful: once the root is gone (the signal must go to whatever tracees
 *   remain, a table walk no handler may do) or a task is held (its hold
 *   must time out), the forwarded signals are blocked and taken with
 *   sigtimedwait() together with SIGCHLD, which every ptrace stop sends the
 *   tracer.  The loop drains waitpid(WNOHANG) before it sleeps, so nothing
 *   that arrives in between is missed.  This costs two more syscalls per
 *   stop, which is why it is not the default. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "tracer-internal.h"

/* The tracer of the fast-mode handler: one per process, as signals are. */
static Tracer *handler_tracer;

static void on_forwarded(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	Tracer *t = handler_tracer;
	/* SI_KERNEL: typed at the terminal, already delivered to the
	 * command's process group; forwarding would deliver it twice. */
	if (!t || si->si_code == SI_KERNEL)
		return;
	if (!t->root_exited && t->root > 0)
		kill(t->root, sig);
	else
		t->forward_pending = sig;	/* careful mode takes it on */
}

static void on_request(int sig)
{
	(void)sig;
	if (handler_tracer)
		handler_tracer->request_pending = 1;
}

int waitsig_take(Tracer *t)
{
	sigemptyset(&t->wait_set);
	sigemptyset(&t->forward_set);
	sigaddset(&t->wait_set, SIGCHLD);
	for (size_t i = 0; i < t->cfg.n_forward_signals; i++) {
		int sig = t->cfg.forward_signals[i];
		struct sigaction old;
		if (sigaction(sig, NULL, &old) < 0)
			return neg_errno();
		/* Ignored when we started: the command inherited that and
		 * would ignore it too. */
		if (old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&t->wait_set, sig);
		sigaddset(&t->forward_set, sig);
		t->old_actions[i] = old;
	}
	struct sigaction old_req = { 0 };
	if (t->cfg.request_signal) {
		sigaddset(&t->wait_set, t->cfg.request_signal);
		sigaddset(&t->forward_set, t->cfg.request_signal);
		if (sigaction(t->cfg.request_signal, NULL, &old_req) < 0)
			return neg_errno();
		t->old_request_action = old_req;
	}
	/* SIGCHLD set to SIG_IGN by our parent would make the kernel reap
	 * children behind our back; the command gets it back at exec. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, &t->old_sigchld) < 0)
		return neg_errno();
	/* Everything blocked until the loop runs (careful mode): a signal
	 * sent before the first wait is pending, not lost. */
	if (sigprocmask(SIG_BLOCK, &t->wait_set, &t->old_mask) < 0) {
		int r = neg_errno();
		sigaction(SIGCHLD, &t->old_sigchld, NULL);
		return r;
	}
	handler_tracer = t;
	struct sigaction sa = { .sa_sigaction = on_forwarded, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < t->cfg.n_forward_signals; i++)
		if (sigismember(&t->forward_set, t->cfg.forward_signals[i]))
			sigaction(t->cfg.forward_signals[i], &sa, NULL);
	if (t->cfg.request_signal) {
		/* no SA_RESTART: the blocking wait returns, the loop serves it */
		struct sigaction rq = { .sa_handler = on_request };
		sigemptyset(&rq.sa_mask);
		sigaction(t->cfg.request_signal, &rq, NULL);
	}
	t->careful = true;
	t->signals_taken = true;
	return 0;
}

void waitsig_set_careful(Tracer *t, bool careful)
{
	if (careful == t->careful)
		return;
	sigprocmask(careful ? SIG_BLOCK : SIG_UNBLOCK, &t->forward_set, NULL);
	t->careful = careful;
}

static void restore_actions(const Tracer *t)
{
	for (size_t i = 0; i < t->cfg.n_forward_signals; i++)
		if (sigismember(&t->forward_set, t->cfg.forward_signals[i]))
			sigaction(t->cfg.forward_signals[i], &t->old_actions[i], NULL);
	sigaction(SIGCHLD, &t->old_sigchld, NULL);
	if (t->cfg.request_signal)
		sigaction(t->cfg.request_signal, &t->old_request_action, NULL);
}

void waitsig_restore_in_child(const Tracer *t)
{
	if (!t->signals_taken)
		return;
	restore_actions(t);
	sigprocmask(SIG_SETMASK, &t->old_mask, NULL);
}

void waitsig_restore(Tracer *t)
{
	if (!t->signals_taken)
		return;
	/* Forwarded signals that arrived after the last wait are dropped:
	 * the command they were meant for has ended. */
	waitsig_set_careful(t, true);
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	while (sigtimedwait(&t->wait_set, &si, &zero) > 0)
		;
	restore_actions(t);
	sigprocmask(SIG_SETMASK, &t->old_mask, NULL);
	handler_tracer = NULL;
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
	if (sig > 0 && sig == t->cfg.request_signal)
		t->request_pending = 1;
	else if (sig > 0 && sig != SIGCHLD && si.si_code != SI_KERNEL)
		t->forward_pending = sig;
}
