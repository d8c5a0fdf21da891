/* Per-task state and the table of live tasks, keyed by tid.
 *
 * One Tracee per kernel task (process leader or thread).  The table owns
 * them; a Tracee is freed when its task is reaped or superseded by exec. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "syscalls.h"

/* What the next syscall-exit stop of this task completes. */
typedef struct PendingSyscall {
	const SyscallSpec *spec;
	long nr;
	uint64_t args[6];
	char *path;		/* normalised absolute path, or NULL */
	char *raw;		/* the argument as given, when it differs */
	char *redirected;	/* what the kernel got instead (redirect) */
	int path_error;
	uint64_t flags;		/* openat2: read from struct open_how */
	pid_t target;		/* signal senders: resolved pid */
	bool emitted;		/* recorded before it returned (its target died */
				/* first): its exit stop records nothing */
} PendingSyscall;

typedef struct Tracee {
	pid_t tid;
	pid_t tgid;
	pid_t ppid;
	/* The auto-attach stop of a new task is its first PTRACE_EVENT_STOP;
	 * later ones are group-stops.  The root is seized running: true. */
	bool attached;
	/* Its creator's fork/clone event has been emitted.  A new task whose
	 * attach stop comes first is held stopped until then, so that no
	 * event of a child ever precedes the event that announces it. */
	bool announced;
	bool held;
	uint64_t held_since_ns;
	/* An exit stop is owed to pending (restarted with PTRACE_SYSCALL). */
	bool in_syscall;
	PendingSyscall pending;
	struct Tracee *next;	/* hash chain */
} Tracee;

typedef struct TraceeTable {
	Tracee **buckets;
	size_t n_buckets;	/* a power of two */
	size_t count;
} TraceeTable;

int tracee_table_init(TraceeTable *t);
void tracee_table_done(TraceeTable *t);

Tracee *tracee_find(const TraceeTable *t, pid_t tid);

/* Add a task; *ret points into the table.  -EEXIST if TID is present. */
int tracee_add(TraceeTable *t, pid_t tid, pid_t tgid, pid_t ppid, Tracee **ret);

/* Remove and free TID's entry (no-op when absent). */
void tracee_remove(TraceeTable *t, pid_t tid);

/* Re-key an entry after exec by a non-leader thread: FROM becomes TO.  An
 * existing TO (the old leader) is freed first. */
int tracee_rekey(TraceeTable *t, pid_t from, pid_t to);

/* Forget the owed exit stop and free its strings. */
void tracee_clear_pending(Tracee *tr);
