/* A call with a time limit: FN(ARG) runs in a helper thread, and the
 * caller waits for it at most a given time.
 *
 * The files a traced program names are looked at from the event loop (ELF
 * facts, the listing of a library directory, symbol checks).  A file can
 * stall every system call on it: a hung NFS server, a FUSE daemon that is
 * itself a traced process held at a ptrace stop.  The loop must not stall
 * with it, and with the loop every traced process: after the limit the
 * caller goes on without the answer, and the thread, stuck in the kernel,
 * is left to finish (and free ARG) whenever it can.  A few stuck threads
 * at most in the process: beyond them, calls fail at once, until one of
 * them is let go. */
#pragma once

#include <stdint.h>

#define WORKER_STUCK_MAX 8

typedef struct Worker Worker;

int worker_new(Worker **ret);
/* Ends the idle thread; stuck ones end on their own. */
void worker_free(Worker *w);

/* Run FN(ARG) on W's thread, waiting at most TIMEOUT_NS.  0 when FN
 * ended in time: its return is in *RET_RESULT, whatever it is (a job's own
 * -EAGAIN or -ETIMEDOUT is no refusal of the worker's).  -ETIMEDOUT when
 * it did not: ARG then belongs to the stuck thread, which calls
 * FREE_ARG(ARG) once FN returns, and the caller must not touch ARG again.
 * Otherwise ARG stays the caller's (FREE_ARG is not called), also on
 * -EBUSY (FN was not run: WORKER_STUCK_MAX threads are stuck already) and
 * on -errno (no thread could be started: pthread_create's EAGAIN). */
int worker_call(Worker *w, int (*fn)(void *arg), void *arg, void (*free_arg)(void *arg), uint64_t timeout_ns,
		int *ret_result);

/* Calls of W that passed their limit so far. */
unsigned worker_stuck(const Worker *w);
