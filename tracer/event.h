/* The typed events the tracer hands to its consumer.
 *
 * Pointers inside an event belong to the tracer and are valid only during
 * the callback that receives it: copy what must outlive it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum TracerEventKind {
	TRACER_EVENT_FORK,	/* a process or thread was created */
	TRACER_EVENT_EXEC,	/* a process replaced its image */
	TRACER_EVENT_EXIT,	/* a process (thread group) ended */
	TRACER_EVENT_SIGNAL,	/* a signal was delivered to a thread */
	TRACER_EVENT_SYSCALL,	/* a watched syscall completed */
	TRACER_EVENT_OUTPUT,	/* a process wrote to a captured fd */
	TRACER_EVENT_MAPS,	/* the files a process has mapped as it ends */
	_TRACER_EVENT_MAX,
} TracerEventKind;

/* How a task was created. */
typedef enum TracerForkKind {
	TRACER_FORK_FORK,	/* fork(), or clone() with SIGCHLD */
	TRACER_FORK_VFORK,	/* vfork(), or clone(CLONE_VFORK) (Go's os/exec) */
	TRACER_FORK_CLONE,	/* another clone() that made a new process */
	TRACER_FORK_THREAD,	/* clone(CLONE_THREAD) */
	_TRACER_FORK_MAX,
} TracerForkKind;

/* What the syscall's arguments mean; selects the fields that are set. */
typedef enum TracerArgKind {
	TRACER_ARGS_PATH,	/* path (+dirfd, flags) */
	TRACER_ARGS_EXEC,	/* path of the program */
	TRACER_ARGS_SIGNAL,	/* target + signal */
} TracerArgKind;

/* Which flag table decodes SyscallEvent.flags. */
typedef enum TracerFlagKind {
	TRACER_FLAGS_NONE,
	TRACER_FLAGS_OPEN,	/* O_* */
	TRACER_FLAGS_ACCESS,	/* F_OK / R_OK|W_OK|X_OK */
	TRACER_FLAGS_AT,	/* AT_* */
} TracerFlagKind;

typedef struct TracerSyscallEvent {
	const char *name;	/* "openat" */
	long nr;
	TracerArgKind args;
	/* Path syscalls.  path is absolute and lexically normalised, or NULL
	 * when it could not be established; path_error then says why
	 * (-EFAULT: bad pointer in the tracee, -ENAMETOOLONG, -EBADF: dirfd
	 * not a directory we can name, -ENOMEM: the tracer had no memory to
	 * keep it).  raw is the argument as the tracee
	 * gave it when that differs from path (relative, or not normal). */
	const char *path;
	const char *raw;
	/* The path the kernel was given instead (tracer_redirect_path()). */
	const char *redirected;
	int path_error;
	int dirfd;		/* AT_FDCWD when absent */
	TracerFlagKind flag_kind;
	uint64_t flags;
	TracerFlagKind flag2_kind;	/* faccessat2: AT_* beside the mode */
	uint64_t flags2;
	/* Signal senders.  target is the pid/tid argument (pidfd resolved to
	 * its pid, 0 when unknown); signo 0 is a probe. */
	pid_t target;
	pid_t target_tid;	/* tgkill/tkill only, else 0 */
	int signo;
	/* Result: value, or error (a positive errno) when is_error. */
	bool has_result;
	bool is_error;
	long result;
} TracerSyscallEvent;

typedef struct TracerExecEvent {
	const char *exe;	/* /proc/PID/exe after the exec */
	const char *cwd;	/* its working directory (relative lookups) */
	char *const *argv;	/* NULL-terminated */
	size_t argc;
	bool argv_truncated;
	char *const *env;	/* recorded "NAME=VALUE" entries, NULL-terminated */
	size_t envc;
	pid_t former_tid;	/* exec by a non-leader thread: its old tid */
	/* AT_SECURE: setuid/setgid or file capabilities; the dynamic
	 * linker ignores most LD_* variables in such a program. */
	bool secure;
} TracerExecEvent;

typedef struct TracerForkEvent {
	TracerForkKind kind;
	pid_t child_pid;	/* the new process, or the thread's process */
	pid_t child_tid;
} TracerForkEvent;

typedef struct TracerExitEvent {
	bool signaled;
	int code;		/* exit code, or signal number when signaled */
	bool core_dumped;
} TracerExitEvent;

typedef struct TracerSignalEvent {
	int signo;
	int code;		/* si_code */
	pid_t sender;		/* si_pid when the signal was sent by a process */
	bool has_sender;
} TracerSignalEvent;

typedef struct TracerOutputEvent {
	int fd;
	const char *data;
	size_t len;
	bool truncated;		/* the write was longer than the capture cap */
	int error;		/* -EFAULT when the buffer could not be read */
} TracerOutputEvent;

/* Observed by the tracer at the exit stop of a thread-group leader, while
 * its memory is still there: the files it has mapped (libraries kept
 * after dlopen(), not those rolled back).  Unique paths, in address
 * order. */
typedef struct TracerMapsEvent {
	char *const *files;
	size_t n;
	bool truncated;		/* more mappings than the bound */
} TracerMapsEvent;

typedef struct TracerEvent {
	TracerEventKind kind;
	uint64_t t_ns;		/* monotonic ns since tracer_new() */
	pid_t pid;		/* thread group id */
	pid_t tid;
	pid_t ppid;		/* parent process, when known (else 0) */
	union {
		TracerSyscallEvent sys;
		TracerExecEvent exec;
		TracerForkEvent fork;
		TracerExitEvent exit;
		TracerSignalEvent sig;
		TracerOutputEvent out;
		TracerMapsEvent maps;
	};
} TracerEvent;
