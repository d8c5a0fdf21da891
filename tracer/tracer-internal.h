/* The Tracer object, shared by the files of the engine (not installed). */
#pragma once

#include <errno.h>
#include <seccomp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "syscalls.h"
#include "tracee.h"
#include "tracer.h"

typedef struct ProcBuffers ProcBuffers;	/* proc.c */

#define TRACER_SENDERS_MAX 64	/* signal senders in flight at once; past it, a */
				/* kill may follow the death it caused in the trace */

struct Tracer {
	TracerConfig cfg;
	int output_fds[TRACER_MAX_OUTPUT_FDS];
	sigset_t forward_copy;	/* cfg.forward_signals points here */
	char **env_keep;	/* owned copy of cfg.env_keep */
	const SyscallSpec *by_nr[SYSCALL_NR_MAX];
	scmp_filter_ctx filter;	/* built before fork, loaded by the child */
	struct timespec t0;
	TraceeTable tracees;
	size_t n_held;		/* tasks held at their attach stop */
	/* Tasks that entered a signal-sending syscall and may not have
	 * returned yet (some entries stale: checked when read), so that a
	 * death they cause is never recorded before them (stop_kills_of). */
	pid_t senders[TRACER_SENDERS_MAX];
	size_t n_senders;
	TracerStats stats;

	pid_t root;
	int launch_pipe;	/* read end: the child's launch failure */
	const char *spawn_step;	/* what tracer_spawn() was doing last */
	/* Read by the fast-mode signal handler (waitsig.c). */
	volatile sig_atomic_t root_exited;
	/* Signals to pass on, one flag each (several may come before the
	 * loop looks), and whether any flag is set. */
	volatile sig_atomic_t forward_pending[NSIG];
	volatile sig_atomic_t any_forward_pending;
	volatile sig_atomic_t request_pending;	/* cfg.request_signal came */
	pid_t self;		/* our own pid: what we send ourselves is ours */
	/* Signal state while tracing (waitsig.c). */
	sigset_t wait_set;	/* SIGCHLD + handled signals */
	sigset_t handled_set;	/* forwarded (not ignored at start) + request */
	sigset_t old_mask;	/* restored in the child and at the end */
	struct sigaction old_actions[NSIG];	/* of SIGCHLD and handled_set */
	/* tracer_set_deadline(): when (tracer clock), and what to call. */
	uint64_t deadline_ns;
	void (*deadline_fn)(void *userdata);
	bool signals_taken;
	bool careful;		/* forwarded signals blocked (careful mode) */
	TracerResult result;
	char *scratch;		/* output capture buffer (cfg.output_max) */
	ProcBuffers *proc;	/* what events read from /proc (proc.c) */
	/* The task stopped in the callback running now, and at what stop:
	 * what tracer_exec_edit() and tracer_redirect_path() may act on. */
	pid_t cur_tid;
	enum { CUR_NONE, CUR_EXEC, CUR_PATH } cur_stop;
};

/* Is R (-errno) the tracer short of memory or file descriptors, rather
 * than a task that is gone?  Such a failure loses part of the record
 * (TracerStats.lost). */
static inline bool tracer_short_of(int r)
{
	return r == -ENOMEM || r == -EMFILE || r == -ENFILE;
}

/* Set EV's time and ids for task TR. */
void tracer_stamp(const Tracer *t, const Tracee *tr, TracerEvent *ev);
/* Emit EV (kind and payload set by the caller) for task TR. */
void tracer_emit(Tracer *t, const Tracee *tr, TracerEvent *ev);

/* stop.c: a seccomp stop and the syscall-exit stop that completes it.
 * Both return the ptrace restart request to use. */
int stop_seccomp(Tracer *t, Tracee *tr);
int stop_syscall_exit(Tracer *t, Tracee *tr);
/* Emit the pending syscall with a result (also used at exec). */
void stop_emit_pending(Tracer *t, Tracee *tr, bool is_error, long result);
/* Process TGID (or its task TID) is dying: emit now, without a result,
 * every signal-sending syscall still in flight that targets it, so that
 * the kill comes before the death in the trace; its return is then not
 * recorded again. */
void stop_kills_of(Tracer *t, pid_t tgid, pid_t tid);

/* proc.c: facts read from /proc, into buffers made once (Tracer.proc). */
int proc_buffers_new(ProcBuffers **ret);
void proc_buffers_free(ProcBuffers *b);
int proc_task_ids(Tracer *t, pid_t tid, pid_t *ret_tgid, pid_t *ret_ppid);
int proc_pidfd_pid(Tracer *t, pid_t tid, int fd, pid_t *ret_pid);
/* Emit the exec event of TR (reads exe, cmdline, environ). */
void proc_emit_exec(Tracer *t, Tracee *tr, pid_t former_tid);
/* Emit the mapped files of TR's process (reads /proc/TID/maps). */
void proc_emit_maps(Tracer *t, Tracee *tr);

/* inject.c: AT_SECURE of TID's new program (false when unknown). */
bool inject_exec_secure(pid_t tid);

/* waitsig.c: taking SIGCHLD and forwarded signals synchronously. */
int waitsig_take(Tracer *t);
void waitsig_restore(Tracer *t);
/* Switch between fast and careful waiting (see waitsig.c). */
void waitsig_set_careful(Tracer *t, bool careful);
/* In the forked child: the caller's signal mask and SIGCHLD action. */
void waitsig_restore_in_child(const Tracer *t);
/* Block until a tracee may have changed state, a signal to forward came
 * (left in forward_pending), or TIMEOUT_NS passed (-1: no limit). */
void waitsig_wait(Tracer *t, int64_t timeout_ns);

/* launch.c */
int launch_child(Tracer *t, const char *path, char *const argv[], char *const envp[]);
void launch_read_failure(Tracer *t);
