/* Facts vgpu-run establishes itself while a run goes on, recorded as
 * "observe" events so that everything the diagnosis uses is in the trace.
 * Here: the ELF facts of each shared library the first time any traced
 * process opens it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/json.h"
#include "base/worker.h"
#include "observe/elf-facts.h"
#include "observe/ldcache.h"
#include "policy/policy.h"
#include "tracer/tracer.h"

typedef struct Observer Observer;

/* POLICY (may be NULL) says where the library root is. */
int observer_new(const Policy *policy, Observer **ret);
Observer *observer_free(Observer *o);
/* The worker through which every look at a tracee's file goes
 * (observe/files.h), for the other observers to share. */
Worker *observer_worker(const Observer *o);

/* Is EV a successful open of a shared library not observed before?  Then
 * parse it: returns 1 with *ret_facts filled (release with
 * elf_facts_done) or *ret_error set (-ENOEXEC: not ELF, -EINVAL:
 * malformed, -errno: unreadable); 0 when there is nothing to observe. */
int observer_on_event(Observer *o, const TracerEvent *ev, ElfFacts *ret_facts, int *ret_error);

/* Is EV the server's exec (IS_SERVER: the caller knows the policy's server
 * rule) and does the policy have
 * a library root?  Then list the root and its subdirectories (lstat,
 * symlink targets, file names) into W as an observe/listing event
 * numbered SEQ and return 1; else 0.  Done while the command is stopped
 * at its exec, before any scanner runs. */
int observer_listing(Observer *o, const TracerEvent *ev, bool is_server, uint64_t seq, JsonWriter *w);

/* Is EV an open of the policy's platform file (platform-file) by a
 * traced process?  Then read it as that process sees it and write an
 * observe/platform event numbered SEQ into W: the line holding the first
 * match of the policy's regex and its group 1 ("value"), or the first
 * line when nothing matches, or the error (the open's own when it
 * failed); returns 1.  A content
 * recorded before is not recorded again (0). */
int observer_platform(Observer *o, const TracerEvent *ev, uint64_t seq, JsonWriter *w);
/* The policy the observer was made with, or NULL. */
const Policy *observer_policy(const Observer *o);

/* Start W afresh with an observe event's common members (numbered SEQ,
 * about EV's process, WHAT it observes); the caller adds the rest and
 * closes the object. */
void observe_event_begin(JsonWriter *w, uint64_t seq, const TracerEvent *ev, const char *what);

/* This machine's ld.so.cache, read when the observer was made (empty
 * when it could not be read). */
const LdCache *observer_ldcache(const Observer *o);

/* 1 the first time KEY is seen in this run, 0 after; -ENOMEM. */
int observer_first(Observer *o, const char *key);
/* Has KEY been seen (without recording it)? */
bool observer_seen(const Observer *o, const char *key);

/* Should -k take a backtrace at EV?  Decision events: a crash signal (the
 * first per process), the first open of a backend library per process and
 * directory, the first failed lookup of each library name per process.
 * Writes a one-word reason to WHY ("signal", "backend", "lookup"). */
bool observe_wants_stack(Observer *o, const TracerEvent *ev, const char **why);
