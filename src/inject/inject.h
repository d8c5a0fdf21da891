/* Live shim injection: which scanner gets which shim, and how.
 *
 * The tracer offers two changes (tracer_exec_edit, tracer_redirect_path);
 * this file decides when to ask for them, from the shim set and the
 * policy's scanner rule, and says what it did as InjectAction records
 * that become the trace's "inject" events.  The diagnosis reads those
 * events, never this state. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "base/worker.h"
#include "inject/shim.h"
#include "observe/ldcache.h"
#include "policy/policy.h"
#include "tracer/tracer.h"

typedef struct Injector Injector;

typedef struct InjectAction {
	pid_t pid, tid;
	const char *method;	/* "redirect" | "preload" */
	const char *library;	/* soname */
	const char *shim;
	const char *status;	/* "done" | "refused" */
	const char *why;
	const char *path;	/* redirect: the path the scanner asked for */
	const char *real;	/* what VGPU_REAL_* told the shim ("" none) */
} InjectAction;

typedef void (*InjectRecordFn)(const InjectAction *a, void *userdata);

/* NULL *ret (and 0) when nothing is to be injected.  CACHE (the
 * observer's ld.so.cache, NULL when there is none) and WORKER (through
 * which the tracee's files are looked at, observe/files.h) must outlive
 * it. */
int injector_new(const ShimSet *set, const Policy *policy, const LdCache *cache, Worker *worker,
		 InjectRecordFn record, void *userdata, Injector **ret);
Injector *injector_free(Injector *in);

/* Does the injector need the tracer's on_path offers? */
bool injector_wants_paths(const Injector *in);

/* An exec event (during its callback: the new program has not run).
 * SERVER_EXE is the traced command's executable, IS_SERVER whether this
 * is the command itself. */
void injector_on_exec(Injector *in, Tracer *t, const TracerEvent *ev, const char *server_exe,
		      bool is_server);
/* A path syscall about to run (tracer on_path). */
void injector_on_path(Injector *in, Tracer *t, const TracerEvent *ev);
/* A process ended: forget it. */
void injector_on_exit(Injector *in, pid_t pid);
