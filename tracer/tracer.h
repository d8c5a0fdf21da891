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
#include <stdint.h>
#include <sys/types.h>

#include "event.h"
#include "backtrace.h"

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
	/* Signals sent to vgpu-run that are passed on to the traced command
	 * (to the root process while it lives, then to what remains of the
	 * tree).  Signals typed at the terminal (si_code SI_KERNEL) are not:
	 * the terminal already sent them to the whole foreground process
	 * group.  A signal ignored when the tracer starts stays ignored. */
	const int *forward_signals;
	size_t n_forward_signals;
	/* A signal that asks the consumer for something (vgpu-run: SIGUSR1,
	 * rewrite the report now): ON_REQUEST runs from the event loop, never
	 * from a signal handler, soon after it arrives.  0: none. */
	int request_signal;
	void (*on_request)(void *userdata);
	TracerEventFn on_event;
	void *userdata;
} TracerConfig;

#define TRACER_MAX_OUTPUT_FDS 8
#define TRACER_MAX_FORWARD_SIGNALS 8

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
} TracerStats;

/* Create a tracer; nothing is started.  *ret is owned by the caller. */
int tracer_new(const TracerConfig *cfg, Tracer **ret);
Tracer *tracer_free(Tracer *t);

/* Fork, seize and start PATH with ARGV and ENVP under the filter.  Returns
 * the root pid.  The command does not run until tracer_run() is called. */
int tracer_spawn(Tracer *t, const char *path, char *const argv[], char *const envp[]);

/* Trace until every process of the tree has ended.  The forwarded signals
 * and SIGCHLD are blocked from tracer_spawn() on and taken synchronously,
 * so no handler ever interrupts the caller's I/O. */
int tracer_run(Tracer *t, TracerResult *ret);

/* Unwind the user stack of TID, which must be the task of the event being
 * delivered (it is stopped during the callback).  Fills at most MAX frames,
 * innermost first; returns the number, or a negative errno. */
int tracer_backtrace(Tracer *t, pid_t tid, TracerFrame *frames, size_t max);

void tracer_get_stats(const Tracer *t, TracerStats *ret);

/* Monotonic nanoseconds since tracer_new(): the clock of every event. */
uint64_t tracer_now_ns(const Tracer *t);
