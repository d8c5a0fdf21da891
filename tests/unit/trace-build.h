/* Traces built by hand, event by event with json-c, for the diagnosis's
 * unit tests (test-diagnose.c, test-platform.c): what a live run on this
 * machine cannot produce.  ROOT is the Ollama install they describe. */
#pragma once

#include <json-c/json.h>
#include <stdio.h>

#include "report/report.h"

#define ROOT "/opt/o/lib/ollama"

typedef struct Trace {
	char *text;
	size_t len;
	FILE *f;
	unsigned seq;
} Trace;

/* The text of policies/NAME.policy (free it). */
char *read_policy(const char *name);
/* Append EV (taken) with the next seq and a time. */
void put(Trace *t, json_object *ev);
json_object *event(const char *kind, int pid);
/* A trace with the header of POLICY, made on a host of ARCH (uname -m;
 * NULL: none recorded). */
void begin(Trace *t, const char *policy);
void begin_on(Trace *t, const char *policy, const char *arch);
/* exec of PID: ARGV (NULL-terminated), then NAME, VALUE env pairs. */
void exec_(Trace *t, int pid, int ppid, const char *exe, const char *const *argv, const char *const *env);
/* openat of PATH: RESULT, an fd, or ENOENT when negative. */
void open_(Trace *t, int pid, const char *path, int result);
void output(Trace *t, int pid, const char *text);
/* PID killed with SIGKILL by BY, and its exit. */
void killed(Trace *t, int pid, int by);
/* A listing of ROOT: NAME, then its files ("" ends one entry). */
void listing(Trace *t, const char *const *spec);
/* An Ollama runner PID for DIR that loads its libggml-cuda.so. */
void runner_loads(Trace *t, int pid, const char *dir);
/* The Ollama server (pid 100) of VERSION. */
void server(Trace *t, const char *version);
/* The report of a whole run: the trace ends with the stats line. */
Report diagnose(Trace *t);

const ReportDirectory *dir(const Report *r, const char *name);
/* NAME's "verdict:reason" is VERDICT_REASON. */
void expect_dir(const Report *r, const char *name, const char *verdict_reason);
/* NAME's next step is NEXT (NULL: none). */
void expect_next(const Report *r, const char *name, const char *next);
