/* Waiting for tracees, and the signals to pass on to the command.
 *
 * Two modes (loop.c picks one before each wait):
 *
 * fast: while the root process lives, no new task is held and no deadline
 *   is set, the loop blocks in waitpid(), one syscall per stop.  A
 *   forwarded signal runs a handler that kill()s the root at once: there
 *   is no state to race with (it reads two words, and a second signal,
 *   even a nested one, does the same).  SA_RESTART: the handler never
 *   breaks the loop's own I/O.
 *
 * careful: once the root is gone (the signal must go to whatever tracees
 *   remain, a table walk no handler may do), a task is held (its hold
 *   must time out) or a deadline is set (tracer_set_deadline: a signal
 *   that came just before waitpid() blocked would be served only at the
 *   next stop), every handled signal is blocked and taken with
 *   sigtimedwait() together with SIGCHLD, which every ptrace stop sends the
 *   tracer.  The loop drains waitpid(WNOHANG) before it sleeps, so nothing
 *   that arrives in between is missed.  This costs two more syscalls per
 *   stop, which is why it is not the default.
 *
 * A handler that runs just as the loop turns careful (the root has just
 * been reaped) leaves its signal in forward_pending, one flag per signal,
 * so that several signals arriving together are each passed on once. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "tracer-internal.h"

/* The tracer of the fast-mode handler: one per process, as signals are. */
static Tracer *handler_tracer;

/* Never forwarded: SIGCHLD is ours (each ptrace stop sends it), the other
 * two cannot be caught. */
static const int reserved_signals[] = { SIGCHLD, SIGKILL, SIGSTOP };

/* Stop signals a terminal sends its foreground (or, for SIGTTIN and
 * SIGTTOU, a background) process group. */
static bool is_tty_stop(int sig)
{
	return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Does SI say another process sent this signal?  SI_KERNEL is the
 * terminal (already delivered to the whole process group: forwarding
 * would deliver it twice) or a limit of our own; a positive code is a
 * fault or an I/O event of ours; what we sent ourselves (the SIGPIPE of a
 * write to a closed pipe, si_pid our own) is ours. */
static bool sent_by_another(const Tracer *t, const siginfo_t *si)
{
	return (si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL) &&
	       si->si_pid != t->self;
}

/* A signal meant for the whole job, typed at the terminal: a stop stops
 * us too, as it would have without a handler, so that the shell sees the
 * job stop and its SIGCONT resumes all of it. */
static void take_tty_signal(const Tracer *t, int sig, const siginfo_t *si)
{
	if (si->si_code == SI_KERNEL && is_tty_stop(sig))
		kill(t->self, SIGSTOP);
}

static void on_forwarded(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	Tracer *t = handler_tracer;
	if (!t)
		return;
	if (!sent_by_another(t, si)) {
		take_tty_signal(t, sig, si);
		return;
	}
	if (!t->root_exited && t->root > 0) {
		kill(t->root, sig);
		return;
	}
	/* careful mode takes it on */
	t->forward_pending[sig] = 1;
	t->any_forward_pending = 1;
}

static void on_request(int sig)
{
	(void)sig;
	if (handler_tracer)
		handler_tracer->request_pending = 1;
}

/* cfg.forward_signals less the reserved ones and the request signal. */
static void forwarded_wanted(const Tracer *t, sigset_t *ret)
{
	*ret = *t->cfg.forward_signals;
	for (size_t i = 0; i < ELEMENTSOF(reserved_signals); i++)
		sigdelset(ret, reserved_signals[i]);
	if (t->cfg.request_signal)
		sigdelset(ret, t->cfg.request_signal);
}

int waitsig_take(Tracer *t)
{
	sigset_t wanted;
	forwarded_wanted(t, &wanted);
	t->self = getpid();
	sigemptyset(&t->wait_set);
	sigemptyset(&t->handled_set);
	sigaddset(&t->wait_set, SIGCHLD);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&wanted, sig) != 1)
			continue;
		struct sigaction old;
		if (sigaction(sig, NULL, &old) < 0)
			return neg_errno();
		/* Ignored when we started: the command inherited that and
		 * would ignore it too. */
		if (old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&t->wait_set, sig);
		sigaddset(&t->handled_set, sig);
		t->old_actions[sig] = old;
	}
	if (t->cfg.request_signal) {
		int sig = t->cfg.request_signal;
		sigaddset(&t->wait_set, sig);
		sigaddset(&t->handled_set, sig);
		if (sigaction(sig, NULL, &t->old_actions[sig]) < 0)
			return neg_errno();
	}
	/* SIGCHLD set to SIG_IGN by our parent would make the kernel reap
	 * children behind our back; the command gets it back at exec. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, &t->old_actions[SIGCHLD]) < 0)
		return neg_errno();
	/* Everything blocked until the loop runs (careful mode): a signal
	 * sent before the first wait is pending, not lost. */
	if (sigprocmask(SIG_BLOCK, &t->wait_set, &t->old_mask) < 0) {
		int r = neg_errno();
		sigaction(SIGCHLD, &t->old_actions[SIGCHLD], NULL);
		return r;
	}
	handler_tracer = t;
	struct sigaction sa = { .sa_sigaction = on_forwarded, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != t->cfg.request_signal && sigismember(&t->handled_set, sig) == 1)
			sigaction(sig, &sa, NULL);
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
	sigprocmask(careful ? SIG_BLOCK : SIG_UNBLOCK, &t->handled_set, NULL);
	t->careful = careful;
}

static void restore_actions(const Tracer *t)
{
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&t->handled_set, sig) == 1)
			sigaction(sig, &t->old_actions[sig], NULL);
	sigaction(SIGCHLD, &t->old_actions[SIGCHLD], NULL);
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
	/* The loop forwards what another process sent once it has drained
	 * waitpid(), so that a root that just died is known to be gone. */
	if (sig <= 0 || sig == SIGCHLD)
		return;
	if (sig == t->cfg.request_signal) {
		t->request_pending = 1;
	} else if (sent_by_another(t, &si)) {
		t->forward_pending[sig] = 1;
		t->any_forward_pending = 1;
	} else {
		take_tty_signal(t, sig, &si);
	}
}
