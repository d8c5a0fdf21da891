/* The event loop: one waitpid(__WALL) at a time, each stop turned into at
 * most one event and exactly one restart.
 *
 *   new task ──attach stop (EVENT_STOP, first)──► CONT at once: native speed
 *      │                                          until its first watched call
 *      ▼
 *   running ──seccomp stop──► decode args ──► SYSCALL ──exit stop──► event, CONT
 *      │                          └─(output capture: event, CONT; one stop)
 *      ├──fork/vfork/clone event──► fork event, CONT (child may stop first)
 *      ├──exec event──► pending execve = 0, exec event, CONT (no exit stop)
 *      ├──signal-delivery stop──► signal event, CONT with the signal
 *      ├──group-stop (EVENT_STOP + stop signal)──► LISTEN (job control kept)
 *      ├──exit event──► mappings event (leader), CONT
 *      └──exited / killed──► exit event (thread-group leader), forget
 *
 * Signals are re-injected only at signal-delivery stops; every other stop
 * restarts with 0.  Go's SIGURG preemption therefore keeps working, at the
 * price of one stop per SIGURG (counted in TracerStats.sigurg_stops). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "base/cleanup.h"
#include "tracer-internal.h"

/* A handler returns the ptrace restart request for the stopped task, or
 * NO_RESTART to leave it stopped. */
typedef int (*StopHandler)(Tracer *t, Tracee *tr, int sig, int event);
#define NO_RESTART (-1)

/* How long a new task is held for its creator's fork event.  The event is
 * normally microseconds behind; it never comes when the creator was killed
 * between clone and its event stop, and then the task must not stay
 * frozen. */
#define HOLD_MAX_NS (500 * 1000000LL)

static void release(Tracer *t, Tracee *tr)
{
	tr->held = false;
	t->n_held--;
	(void)ptrace(PTRACE_CONT, tr->tid, 0L, 0L);
}

/* Release holds that timed out; returns ns until the next one expires,
 * or -1 when nothing is held. */
static int64_t expire_holds(Tracer *t)
{
	if (!t->n_held)
		return -1;
	uint64_t now = tracer_now_ns(t);
	int64_t next = -1;
	for (size_t b = 0; t->n_held && b < t->tracees.n_buckets; b++) {
		for (Tracee *tr = t->tracees.buckets[b]; tr; tr = tr->next) {
			if (!tr->held)
				continue;
			int64_t left = (int64_t)(tr->held_since_ns + HOLD_MAX_NS - now);
			if (left <= 0)
				release(t, tr);
			else if (next < 0 || left < next)
				next = left;
		}
	}
	return next;
}

static Tracee *adopt(Tracer *t, pid_t tid)
{
	pid_t tgid, ppid;
	Tracee *tr;
	/* A task we have not met: the child of a fork whose first stop beat
	 * the parent's fork event.  /proc knows its process and parent; when
	 * it does not, the task is already gone and must not be recorded
	 * (its tid could be reused by anyone). */
	int r = proc_task_ids(t, tid, &tgid, &ppid);
	if (r >= 0)
		r = tracee_add(&t->tracees, tid, tgid, ppid, &tr);
	if (r < 0) {
		/* out of memory: the task runs on, unrecorded until a later
		 * stop of it finds the memory */
		if (tracer_short_of(r))
			t->stats.lost++;
		return NULL;
	}
	t->stats.tasks++;
	if (t->tracees.count > t->stats.max_live_tasks)
		t->stats.max_live_tasks = t->tracees.count;
	return tr;
}

static int on_new_task(Tracer *t, Tracee *tr, int sig, int event)
{
	(void)sig;
	unsigned long msg = 0;
	if (ptrace(PTRACE_GETEVENTMSG, tr->tid, 0L, &msg) < 0)
		return PTRACE_CONT;
	pid_t child_tid = (pid_t)msg;
	Tracee *child = tracee_find(&t->tracees, child_tid);
	if (!child)
		child = adopt(t, child_tid);
	if (!child)
		return PTRACE_CONT;	/* died before we could look at it */

	static const TracerForkKind kinds[] = {
		[PTRACE_EVENT_FORK] = TRACER_FORK_FORK,
		[PTRACE_EVENT_VFORK] = TRACER_FORK_VFORK,
		[PTRACE_EVENT_CLONE] = TRACER_FORK_CLONE,
	};
	TracerForkKind kind = kinds[event];
	if (event == PTRACE_EVENT_CLONE && child->tgid == tr->tgid)
		kind = TRACER_FORK_THREAD;
	TracerEvent ev = {
		.kind = TRACER_EVENT_FORK,
		.fork = { .kind = kind, .child_pid = child->tgid, .child_tid = child_tid },
	};
	tracer_emit(t, tr, &ev);
	child->announced = true;
	if (child->held)
		release(t, child);
	return PTRACE_CONT;
}

static int on_exec(Tracer *t, Tracee *tr, int sig, int event)
{
	(void)sig;
	(void)event;
	unsigned long former = (unsigned long)tr->tid;
	(void)ptrace(PTRACE_GETEVENTMSG, tr->tid, 0L, &former);
	pid_t leader = tr->tid;
	if ((pid_t)former != leader) {
		/* A non-leader thread exec'd: it takes over the leader's tid;
		 * the old leader vanishes without an exit notification. */
		if (tracee_rekey(&t->tracees, (pid_t)former, leader) < 0)
			return PTRACE_CONT;
		tr = tracee_find(&t->tracees, leader);
	}
	if (tr->in_syscall && tr->pending.spec && tr->pending.spec->decode == DECODE_EXEC)
		stop_emit_pending(t, tr, false, 0);
	tracee_clear_pending(tr);
	/* The consumer may give the new program another environment
	 * (tracer_exec_edit) while the event is delivered. */
	t->cur_tid = tr->tid;
	t->cur_stop = CUR_EXEC;
	proc_emit_exec(t, tr, (pid_t)former != leader ? (pid_t)former : 0);
	t->cur_stop = CUR_NONE;
	/* PTRACE_CONT drops the syscall-exit stop of the execve: its result
	 * is known (0) and the stop would cost time for nothing. */
	return PTRACE_CONT;
}

static int on_seccomp(Tracer *t, Tracee *tr, int sig, int event)
{
	(void)sig;
	(void)event;
	t->stats.seccomp_stops++;
	return stop_seccomp(t, tr);
}

/* The exit stop: a leader's memory is still there (even when it was
 * SIGKILLed), the last chance to see which libraries it kept. */
static int on_exit_stop(Tracer *t, Tracee *tr, int sig, int event)
{
	(void)sig;
	(void)event;
	if (tr->tid == tr->tgid)
		proc_emit_maps(t, tr);
	return PTRACE_CONT;
}

static int on_plain_event(Tracer *t, Tracee *tr, int sig, int event)
{
	(void)t;
	(void)tr;
	(void)sig;
	(void)event;
	return PTRACE_CONT;
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static int on_event_stop(Tracer *t, Tracee *tr, int sig, int event)
{
	(void)t;
	(void)event;
	if (!tr->attached) {
		/* The auto-attach stop of a new task: run it at once, unless
		 * its creator's event is still to come (then on_new_task
		 * releases it right after announcing it). */
		tr->attached = true;
		if (tr->announced)
			return PTRACE_CONT;
		tr->held = true;
		tr->held_since_ns = tracer_now_ns(t);
		t->n_held++;
		return NO_RESTART;
	}
	/* Group-stop: LISTEN keeps the task stopped (the parent sees it
	 * stopped, SIGCONT resumes it) without us swallowing the stop. */
	return is_stop_signal(sig) ? PTRACE_LISTEN : PTRACE_CONT;
}

static const struct {
	int event;
	StopHandler fn;
} event_handlers[] = {
	{ PTRACE_EVENT_FORK, on_new_task },
	{ PTRACE_EVENT_VFORK, on_new_task },
	{ PTRACE_EVENT_CLONE, on_new_task },
	{ PTRACE_EVENT_EXEC, on_exec },
	{ PTRACE_EVENT_VFORK_DONE, on_plain_event },
	{ PTRACE_EVENT_EXIT, on_exit_stop },
	{ PTRACE_EVENT_SECCOMP, on_seccomp },
	{ PTRACE_EVENT_STOP, on_event_stop },
};

static StopHandler handler_for(int event)
{
	for (size_t i = 0; i < ELEMENTSOF(event_handlers); i++)
		if (event_handlers[i].event == event)
			return event_handlers[i].fn;
	return on_plain_event;
}

/* A signal-delivery stop: record it, and hand the signal back. */
static void on_signal(Tracer *t, Tracee *tr, int sig)
{
	t->stats.signal_stops++;
	if (sig == SIGURG) {
		/* Go preempts goroutines with SIGURG many times a second:
		 * count it, but keep its stop as short as possible. */
		t->stats.sigurg_stops++;
		return;
	}
	siginfo_t si = { 0 };
	(void)ptrace(PTRACE_GETSIGINFO, tr->tid, 0L, &si);
	TracerEvent ev = {
		.kind = TRACER_EVENT_SIGNAL,
		.sig = { .signo = sig, .code = si.si_code },
	};
	/* si_pid is meaningful for signals sent by a process. */
	if (si.si_code == SI_USER || si.si_code == SI_TKILL || si.si_code == SI_QUEUE) {
		ev.sig.sender = si.si_pid;
		ev.sig.has_sender = true;
	}
	tracer_emit(t, tr, &ev);
}

static void on_gone(Tracer *t, pid_t tid, int status)
{
	Tracee *tr = tracee_find(&t->tracees, tid);
	if (tr && tr->held) {
		tr->held = false;
		t->n_held--;
	}
	if (tr && tr->tid == tr->tgid) {
		/* a kill in flight against it first: the cause before the death */
		stop_kills_of(t, tr->tgid, tr->tid);
		TracerEvent ev = {
			.kind = TRACER_EVENT_EXIT,
			.exit = {
				.signaled = WIFSIGNALED(status),
				.code = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				.core_dumped = WIFSIGNALED(status) && WCOREDUMP(status),
			},
		};
		tracer_emit(t, tr, &ev);
	}
	if (tid == t->root) {
		t->result.signaled = WIFSIGNALED(status);
		t->result.code = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
		t->result.core_dumped = WIFSIGNALED(status) && WCOREDUMP(status);
		t->root_exited = 1;
		launch_read_failure(t);
	}
	tracee_remove(&t->tracees, tid);
}

static void dispatch(Tracer *t, pid_t tid, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		on_gone(t, tid, status);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	t->stats.stops++;
	int sig = WSTOPSIG(status);
	int event = (unsigned)status >> 16;
	Tracee *tr = tracee_find(&t->tracees, tid);
	if (!tr && !(tr = adopt(t, tid))) {
		/* Gone, or no memory to follow it: it runs on as it would
		 * untraced, with the signal of a signal-delivery stop. */
		(void)ptrace(PTRACE_CONT, tid, 0L, event == 0 && sig != (SIGTRAP | 0x80) ? (long)sig : 0L);
		return;
	}
	int request, inject = 0;
	if (sig == (SIGTRAP | 0x80)) {
		request = stop_syscall_exit(t, tr);
	} else if (event != 0) {
		if (event != PTRACE_EVENT_SECCOMP)
			t->stats.event_stops++;
		request = handler_for(event)(t, tr, sig, event);
		/* on_exec may have re-keyed: restart the task that stopped */
	} else {
		on_signal(t, tr, sig);
		request = PTRACE_CONT;
		inject = sig;
	}
	/* ESRCH: killed meanwhile (SIGKILL, or another thread's exec); its
	 * exit notification follows. */
	if (request != NO_RESTART)
		(void)ptrace(request, tid, 0L, (long)inject);
}

/* Signals for the command: to the root while it lives, afterwards to
 * what is left of its tree (vgpu-run exits once all of it has ended). */
static void forward_pending_signals(Tracer *t)
{
	/* Cleared before the walk: a flag set meanwhile sets it again. */
	t->any_forward_pending = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		if (!t->forward_pending[sig])
			continue;
		t->forward_pending[sig] = 0;
		if (!t->root_exited) {
			kill(t->root, sig);
			continue;
		}
		for (size_t b = 0; b < t->tracees.n_buckets; b++)
			for (Tracee *tr = t->tracees.buckets[b]; tr; tr = tr->next)
				if (tr->tid == tr->tgid)
					kill(tr->tid, sig);
	}
}

/* ns until the deadline (0: it has come), or -1 when none is set. */
static int64_t deadline_left(const Tracer *t)
{
	if (!t->deadline_fn)
		return -1;
	int64_t left = (int64_t)(t->deadline_ns - tracer_now_ns(t));
	return left > 0 ? left : 0;
}

static void run_deadline(Tracer *t)
{
	void (*fn)(void *) = t->deadline_fn;
	t->deadline_fn = NULL;	/* FN may set the next one */
	fn(t->cfg.userdata);
}

/* The earlier of two timeouts (-1: none). */
static int64_t earlier(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int tracer_run(Tracer *t, TracerResult *ret)
{
	if (!t->root)
		return -ECHILD;
	for (;;) {
		int status;
		if (t->request_pending) {
			t->request_pending = 0;
			if (t->cfg.on_request)
				t->cfg.on_request(t->cfg.userdata);
		}
		if (deadline_left(t) == 0)
			run_deadline(t);
		/* See waitsig.c for the two ways of waiting. */
		bool careful = t->root_exited || t->n_held || t->deadline_fn;
		waitsig_set_careful(t, careful);
		pid_t tid = waitpid(-1, &status, __WALL | (careful ? WNOHANG : 0));
		if (tid > 0) {
			dispatch(t, tid, status);
			continue;
		}
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			return neg_errno();
		}
		/* Careful, and drained: every stop so far is handled. */
		if (t->any_forward_pending) {
			forward_pending_signals(t);
			continue;
		}
		int64_t deadline = deadline_left(t);
		if (deadline == 0)
			continue;	/* served at the top */
		waitsig_wait(t, earlier(expire_holds(t), deadline));
	}
	waitsig_restore(t);
	*ret = t->result;
	return 0;
}
