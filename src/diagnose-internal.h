/* The diagnosis's model of a run, built from events (diagnose-model.c) and
 * judged directory by directory (diagnose-verdict.c). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "diagnose.h"
#include "policy.h"

#define OUTPUT_KEEP_MAX (256 * 1024)	/* scanner output kept per process */
/* Library lookups kept per process: a scanner makes about a thousand; a
 * process past this bound is no scanner worth the memory (a long-running
 * server's millions of opens must not grow the diagnosis). */
#define OPENS_KEEP_MAX 16384

/* An open-family call on a path the diagnosis may need (a library name,
 * or anything under the library root). */
typedef struct Open {
	uint64_t seq;
	char *syscall;
	char *path;
	char *result;		/* "3" or "ENOENT", as in the trace */
	bool ok;
} Open;

typedef struct Chunk {
	uint64_t seq;
	char *text;
} Chunk;

typedef struct Proc {
	pid_t pid, ppid;
	bool exec_seen;
	uint64_t start_ns;	/* its fork (or first sighting) */
	uint64_t exec_seq, exec_ns;
	char *exe;
	char *cwd;
	char **argv;
	json_object *env;	/* recorded environment (owned reference) */
	bool is_server, is_scanner;
	char **scans;		/* directories it was pointed at */
	Open *opens;
	size_t n_opens, cap_opens;
	bool opens_truncated;	/* more than OPENS_KEEP_MAX: the rest dropped */
	Chunk *output;
	size_t n_output, cap_output, output_bytes;
	char *fatal_signal;	/* first crash signal delivered */
	uint64_t fatal_seq;
	uint64_t crash_stack_seq;	/* its backtrace (-k), or 0 */
	char *crash_stack;	/* "f3 < f2 < f1", innermost first */
	pid_t killer;		/* last process that sent it a signal */
	char *kill_signal;
	uint64_t kill_seq, kill_ns;
	bool ended, exit_signaled;
	int exit_code;
	char *exit_signal;
	uint64_t exit_seq, exit_ns;
	char **maps;		/* files mapped at its end */
	uint64_t inject_seq;	/* its first injection done, or 0 */
	char *inject_why;
} Proc;

struct Diagnosis {
	json_object *header;
	Policy policy;
	bool have_policy;
	bool policy_overridden;	/* the header's policy is ignored */
	char *policy_error;
	char **command;
	pid_t root_pid;
	Proc *procs;		/* in the order they appeared */
	size_t n_procs, cap_procs;
	json_object *by_pid;	/* "pid" -> index of its current Proc */
	json_object *elf;	/* path -> observe/elf event */
	json_object *listing;	/* the observe/listing event, or NULL */
	uint64_t stops, backtraces, backtrace_ns;
	uint64_t last_seq;
	uint64_t cut_seq, cut_limit;	/* a "truncated" line: the trace ends there */
	json_object *injects;	/* inject events, at most INJECTS_KEEP_MAX */
	size_t injects_dropped;
};

/* Inject events kept for the report: one or two per scanner; a run that
 * injects into thousands of processes (scanner = any) keeps the first. */
#define INJECTS_KEEP_MAX 1024

/* diagnose-model.c */
Proc *diag_proc(const Diagnosis *d, pid_t pid);
const char *diag_env(const Proc *p, const char *name);

#define DETAIL_MAX 4096

/* diagnose-verdict.c: the directories of the report. */
int diag_directories(Diagnosis *d, Report *r);
const char *diag_base_name(const char *path);
/* Does ERE RE match TEXT?  Its group 1, when wanted, into GROUP1. */
bool diag_regex_line(const char *re, const char *text, char *group1, size_t size);

/* diagnose-inject.c: inject events, and what the report says of them. */
int diag_on_inject(Diagnosis *d, json_object *ev);
int diag_injections(const Diagnosis *d, Report *r);
/* The note on what was (not) injected and why, from the header. */
int diag_inject_notes(const Diagnosis *d, Report *r);
/* add_note() of diagnose.c, for the other files. */
__attribute__((format(printf, 2, 3))) int diag_add_note(Report *r, const char *fmt, ...);

/* diagnose-evidence.c */
/* The evidence record of event SEQ, from the model. */
void diag_evidence_for(const Diagnosis *d, uint64_t seq, ReportEvidence *e);
/* A directory that loaded but that the server did not keep (policy
 * "kept") was dropped. */
void diag_apply_kept(const Diagnosis *d, Report *r);

/* Type-checked access to trace JSON: a trace is untrusted input (it may
 * come from anywhere to vgpu-report), so a field of the wrong type reads
 * as absent, never as a crash. */
static inline const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* The integer KEY of O, or DFLT. */
static inline int64_t jnum(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v)
		       : dflt;
}

/* The array KEY of O, or NULL. */
static inline json_object *jarray(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_array)
		       ? v
		       : NULL;
}

static inline size_t jlen(json_object *arr)
{
	return arr ? json_object_array_length(arr) : 0;
}

/* Element I of ARR when it is a string, else NULL. */
static inline const char *jstr_at(json_object *arr, size_t i)
{
	json_object *v = arr ? json_object_array_get_idx(arr, i) : NULL;
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Push the string elements of ARR onto *V (others are skipped). */
int strv_push_all(char ***v, json_object *arr);

/* Small string-vector helpers shared by the diagnosis files. */
int strv_push(char ***v, const char *s);
size_t strv_len(char *const *v);
void strv_free_all(char **v);
