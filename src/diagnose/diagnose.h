/* The diagnosis: a pure function of the trace.  It reads the JSON events
 * of a run one at a time (live: vgpu-run feeds it each line as it writes
 * it; offline: vgpu-report reads a trace file) and concludes, for every
 * backend library directory the policy cares about, whether it was loaded
 * or why not (verdicts and reasons of the contract, section 2).  It never
 * looks at processes or files itself: what it needs, vgpu-run recorded as
 * events (observe: listing, elf, mappings), so offline equals live.
 *
 * Inside, layers that import one way (scripts/check-layers): model.h (the
 * run as events tell it), loader.h (the dynamic linker's search
 * reconstructed), verdict.h (one run's verdict), evidence.h (what a report
 * cites), fold.h (runs folded into directories as processes end), and
 * diagnose.c wiring them together. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>

#include "report/report.h"

/* A trace line longer than this is no vgpu-run trace (its longest, a state
 * event, holds bounded lists: a few MiB at most). */
#define TRACE_LINE_MAX (64u << 20)

typedef struct Diagnosis Diagnosis;

int diagnosis_new(Diagnosis **ret);

/* Judge with the policy file PATH instead of the one the trace's header
 * carries (re-reading an old trace with a corrected policy).  Call before
 * feeding; -errno or -EINVAL with ERR set. */
int diagnosis_use_policy(Diagnosis *d, const char *path, char *err, size_t err_size);
Diagnosis *diagnosis_free(Diagnosis *d);

/* Feed one event (the header first: it carries the policy).  The
 * diagnosis keeps what it needs; EV stays the caller's.  Returns 0, or
 * -EINVAL with ERR set when the header's policy cannot be parsed, or
 * -EPROTO for a trace of an unknown schema. */
int diagnosis_feed(Diagnosis *d, json_object *ev, char *err, size_t err_size);

/* Add the diagnosis's state to EV, the body of a "state" event (the trace
 * format's rotation): a piece that starts with it reads alone.  0 or
 * -ENOMEM. */
int diagnosis_snapshot(const Diagnosis *d, json_object *ev);

/* The report of what was fed so far, at any moment (the diagnosis goes
 * on): costs what the state holds, never what the run has lasted.  Fills
 * RET (release with report_done). */
int diagnosis_render(const Diagnosis *d, Report *ret);

/* Read a JSON Lines trace file and diagnose it.  -errno / -EPROTO /
 * -EINVAL with a one-line reason in ERR ("FILE:LINE: not JSON"). */
int diagnose_trace_file(const char *path, const char *policy_path, Report *ret, char *err,
			size_t err_size);
/* Read the N pieces of a rotated trace, in order (each after the first
 * starts where the one before ends), as one trace. */
int diagnose_trace_files(char *const *paths, size_t n, const char *policy_path, Report *ret, char *err,
			 size_t err_size);
/* The same from N open streams (a piece each), NAMES for messages. */
int diagnose_trace_streams(FILE *const *files, char *const *names, size_t n, const char *policy_path, Report *ret,
			   char *err, size_t err_size);
/* The same, from an open stream; NAME for messages.  POLICY_PATH, when not
 * NULL, overrides the trace's policy (diagnosis_use_policy). */
int diagnose_trace_stream(FILE *f, const char *name, const char *policy_path, Report *ret,
			  char *err, size_t err_size);
