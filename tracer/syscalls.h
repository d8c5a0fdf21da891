/* The watched syscalls: one data table says which syscalls stop, under which
 * condition, and where their arguments are.  filter.c compiles it into the
 * seccomp program; stop.c decodes stops with it. */
#pragma once

#include <stdbool.h>

#include "event.h"

/* When the seccomp filter stops the syscall. */
typedef enum SyscallStopRule {
	STOP_ALWAYS,		/* on the number alone: keeps the kernel's
				 * constant-action bitmap for everything */
	STOP_UNLESS_EMPTY_PATH,	/* only without AT_EMPTY_PATH in the flags
				 * (glibc's fstat() is newfstatat(fd, "",
				 * AT_EMPTY_PATH): far too hot to stop) */
	STOP_OUTPUT_FD,		/* only for a captured output fd (args[0]) */
	STOP_PTRACE_ATTACH,	/* only PTRACE_ATTACH and PTRACE_SEIZE */
} SyscallStopRule;

typedef enum SyscallDecode {
	DECODE_PATH,		/* path argument, result wanted */
	DECODE_EXEC,		/* program path; success is seen at exec */
	DECODE_SIGNAL,		/* kill-family: target + signal */
	DECODE_WRITE,		/* write(fd, buf, count) */
	DECODE_WRITEV,		/* writev(fd, iov, iovcnt) */
	DECODE_PTRACE,		/* ptrace(request, pid): guard the tracer */
} SyscallDecode;

typedef struct SyscallSpec {
	const char *name;
	SyscallStopRule rule;
	SyscallDecode decode;
	signed char dirfd_arg;	/* -1: relative to the cwd */
	signed char path_arg;	/* -1: none */
	signed char flags_arg;	/* -1: none */
	TracerFlagKind flag_kind;
	signed char flags2_arg;
	TracerFlagKind flag2_kind;
	/* Argument holding the AT_* flags for STOP_UNLESS_EMPTY_PATH and
	 * for an empty path meaning "the dirfd itself". */
	signed char at_flags_arg;
	bool open_how;		/* openat2: flags live in struct open_how */
	/* Signal senders: argument indexes of the target and the signal. */
	signed char target_arg, tid_arg, signo_arg;
	bool target_is_pidfd;
} SyscallSpec;

/* The table, sorted by name. */
extern const SyscallSpec syscall_specs[];
extern const size_t syscall_specs_count;

/* Largest native syscall number the lookup array covers. */
#define SYSCALL_NR_MAX 1024

/* Build the nr -> spec array for the native architecture.  Syscalls this
 * kernel ABI lacks (resolved as negative) are left out.  Returns 0 or
 * -ENOENT when a name is unknown to libseccomp. */
int syscall_table_build(const SyscallSpec *by_nr[SYSCALL_NR_MAX]);

/* The native syscall number of NAME (libseccomp), or a negative errno. */
int syscall_resolve(const char *name);
