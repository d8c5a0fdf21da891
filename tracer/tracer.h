/* vgpu-run tracer: launch a command under seccomp-bpf + ptrace, follow every
 * process and thread it creates, and turn kernel stops into typed events.
 *
 * The engine knows nothing of policies, reports or any particular program:
 * it is told which output fds to capture and which environment variables to
 * record, and hands each event to a callback.  Every function returns >= 0 on
 * success and a negative errno on failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "backtrace.h"
#include "event.h"

typedef struct Tracer Tracer;

typedef void (*TracerEventFn)(const TracerEvent *ev, void *userdata);

typedef struct TracerConfig {
	/* fds whose write()/writev() data becomes TRACER_EVENT_OUTPUT; an
	 * empty list captures nothing.  At most TRACER_MAX_OUTPUT_FDS. */
	const int *output_fds;
	size_t n_output_fds;
	/* Environment variables recorded at exec: exact names, or prefixes
	 * ending in '*' ("OLLAMA_*").  NULL-terminated; may be NULL. */
	const char *const *env_keep;
	/* Bytes of one write() kept in an output event (0: default 64 KiB). */
	size_t output_max;
	/* Signals sent to the tracer's process that are passed on to the
	 * traced command (to the root process while it lives, then to what
	 * remains of the tree); NULL: none.  Only a signal another process
	 * sent (si_code SI_USER, SI_QUEUE or SI_TKILL, from a pid not the
	 * tracer's own) is passed on: not one typed at the terminal
	 * (SI_KERNEL: the terminal already sent it to the whole foreground
	 * process group), nor the SIGPIPE of the tracer's own write to a
	 * closed pipe, nor any other signal the kernel raised for the
	 * tracer itself.  A terminal's SIGTSTP, SIGTTIN or SIGTTOU stops the
	 * tracer as it stops the rest of the job; the same signals sent by
	 * a process are passed on and never stop the tracer.  A signal
	 * ignored when the tracer starts stays ignored.  SIGCHLD, SIGKILL,
	 * SIGSTOP and REQUEST_SIGNAL are never forwarded, whatever the set
	 * says.  Copied by tracer_new(). */
	const sigset_t *forward_signals;
	/* A signal that asks the consumer for something (vgpu-run: SIGUSR1,
	 * rewrite the report now): ON_REQUEST runs from the event loop, never
	 * from a signal handler, soon after it arrives.  0: none. */
	int request_signal;
	void (*on_request)(void *userdata);
	TracerEventFn on_event;
	/* Called at the seccomp stop of every path syscall, before the
	 * kernel runs it: a TRACER_EVENT_SYSCALL with has_result false,
	 * never numbered or recorded by the tracer.  The one place where
	 * tracer_redirect_path() works.  NULL: not called. */
	TracerEventFn on_path;
	void *userdata;
	/* Standard fds (bit N: fd N, N <= 2) closed in the command before
	 * its exec: those the caller's parent left closed, which the caller
	 * filled with /dev/null for itself. */
	unsigned close_std_fds;
} TracerConfig;

#define TRACER_MAX_OUTPUT_FDS 8

/* Why the launched command never ran (TracerResult.launch_stage). */
typedef enum TracerLaunchStage {
	TRACER_LAUNCH_OK = 0,
	TRACER_LAUNCH_FILTER,	/* the seccomp filter could not be loaded */
	TRACER_LAUNCH_EXEC,	/* execve() of the command failed */
} TracerLaunchStage;

typedef struct TracerResult {
	/* How the launched (root) process ended: exit code, or fatal signal. */
	bool signaled;
	int code;		/* exit code, or signal number when signaled */
	bool core_dumped;
	TracerLaunchStage launch_stage;
	int launch_errno;	/* positive errno for launch_stage != OK */
} TracerResult;

typedef struct TracerStats {
	uint64_t stops;		/* every ptrace stop, all kinds */
	uint64_t seccomp_stops;
	uint64_t exit_stops;	/* syscall-exit stops taken for results */
	uint64_t signal_stops;	/* signal-delivery stops (re-injected) */
	uint64_t sigurg_stops;	/* of which SIGURG (Go preemption) */
	uint64_t event_stops;	/* fork/clone/exec/exit/attach/group stops */
	uint64_t backtraces;	/* tracer_backtrace() calls, and their cost */
	uint64_t backtrace_ns;
	uint64_t tasks;		/* processes and threads seen */
	uint64_t max_live_tasks;
	/* Times the tracer ran out of memory or file descriptors and lost
	 * something: a task it could not follow (its creation, its stops),
	 * an exec without its argv or environment, an end without its
	 * mappings, a path or a signal's target it could not keep.  The
	 * command runs on unharmed; what is built from the events lacks
	 * these. */
	uint64_t lost;
} TracerStats;

/* Create a tracer; nothing is started.  *ret is owned by the caller. */
int tracer_new(const TracerConfig *cfg, Tracer **ret);
Tracer *tracer_free(Tracer *t);

/* Fork, seize and start PATH with ARGV and ENVP under the filter.  Returns
 * the root pid.  The command does not run until tracer_run() is called. */
int tracer_spawn(Tracer *t, const char *path, char *const argv[], char *const envp[]);
/* What the last tracer_spawn() was doing when it failed, for the message:
 * "ptrace" when the kernel refused to trace (the self-test's ground),
 * otherwise a resource ("cannot fork", "cannot create a pipe"). */
const char *tracer_spawn_step(const Tracer *t);

/* Trace until every process of the tree has ended.  The forwarded signals
 * and SIGCHLD are blocked from tracer_spawn() on and taken synchronously,
 * so no handler ever interrupts the caller's I/O. */
int tracer_run(Tracer *t, TracerResult *ret);

/* Call FN(cfg.userdata) from the event loop, never from a signal handler,
 * IN_NS nanoseconds from now (at the latest: the next stop, or a signal,
 * may come first; FN runs once the time has passed).  Replaces the
 * deadline set before; IN_NS < 0 clears it.  FN may set the next one.
 * While a deadline is set the loop waits in its careful mode (see
 * waitsig.c): nothing else can wake a blocking waitpid() without a race. */
void tracer_set_deadline(Tracer *t, int64_t in_ns, void (*fn)(void *userdata));

/* Send SIG to every process of the traced tree that is still there (from
 * a callback or a deadline).  Returns how many were sent it. */
int tracer_kill_all(Tracer *t, int sig);

/* Unwind the user stack of TID, which must be the task of the event being
 * delivered (it is stopped during the callback).  Fills at most MAX frames,
 * innermost first; returns the number, or a negative errno. */
int tracer_backtrace(Tracer *t, pid_t tid, TracerFrame *frames, size_t max);

void tracer_get_stats(const Tracer *t, TracerStats *ret);

/* A new environment for a program that has just been exec'd. */
typedef struct TracerExecEdit {
	/* "NAME=VALUE" entries: each replaces NAME's entry, or is added. */
	const char *const *env;
	size_t n_env;
	/* Strings placed beside them, outside the environment; their
	 * addresses in the tracee come back in tracer_exec_edit()'s
	 * RET_ADDRS (for tracer_redirect_path()). */
	const char *const *strings;
	size_t n_strings;
} TracerExecEdit;

/* During the TRACER_EVENT_EXEC callback of TID, before the new program
 * has run one instruction: give it the environment E describes.  The
 * kernel's argc/argv/envp/auxv block stays as it is; a changed copy of
 * the vectors and the new strings go on the fresh stack just below it,
 * and the stack pointer moves there.  Nothing is written below the stack
 * pointer of a running thread (a vfork parent shares none of this new
 * address space).  /proc/PID/environ keeps showing the kernel's block.
 * Returns 0; -EINVAL when TID is not at its exec stop; -E2BIG when the
 * block would pass the bound; -EFAULT when the stack is not writable. */
int tracer_exec_edit(Tracer *t, pid_t tid, const TracerExecEdit *e, uint64_t *ret_addrs);

/* During an on_path callback of TID: run the syscall on the string at
 * ADDR in the tracee (placed by tracer_exec_edit) instead of its path
 * argument.  ADDR must still hold EXPECT, an absolute path: a program
 * may have written over it (-ESTALE).  The syscall event that completes
 * the call carries EXPECT as "redirected".  -EINVAL when TID is not at
 * the seccomp stop of a path syscall. */
int tracer_redirect_path(Tracer *t, pid_t tid, uint64_t addr, const char *expect);

/* Monotonic nanoseconds since tracer_new(): the clock of every event. */
uint64_t tracer_now_ns(const Tracer *t);
