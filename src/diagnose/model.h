/* The diagnosis's model of a run, built from events (diagnose-model.c) and
 * judged directory by directory (diagnose-verdict.c). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "diagnose/diagnose.h"
#include "policy/policy.h"

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
	uint64_t first_seq;	/* the event it appeared in: report order */
	size_t slot;		/* its index in Diagnosis.procs */
	bool exec_seen;
	uint64_t start_ns;	/* its fork (or first sighting) */
	uint64_t exec_seq, exec_ns;
	char *exe;
	char *cwd;
	char **argv;
	json_object *env;	/* recorded environment (owned reference) */
	bool is_server, is_scanner;
	bool is_wrapper;	/* led to the server (a shell, env, nohup) */
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

/* What a directory's scanner runs add up to.  A run is folded in when its
 * process ends (the process is then forgotten), so the state grows with
 * directories, not with the length of the run. */
#define RUNS_KEEP 32		/* runs listed per directory */
#define RUNS_HEAD 4		/* of which the first ones; the rest the latest */
#define EVIDENCE_MAX 8

typedef struct DirAcc {
	char *path;
	bool probed;		/* a run on it was seen (live or ended) */
	bool shown;		/* listed in reports: pointed at, or (scanner any)
				 * a backend opened in it */
	uint64_t first_probe;	/* earliest exec seq of a run on it */
	ReportRun *runs;	/* in start order (run_seq) */
	uint64_t *run_seq;
	size_t n_runs, runs_omitted;
	ReportLibrary *libs;	/* one per path, the latest run's */
	uint64_t *lib_seq;
	size_t n_libs;
	/* The run that started last gives the directory its verdict. */
	bool have_last;
	uint64_t last_exec, last_after;	/* its exec, and its exit (or exec) */
	pid_t last_pid;
	const char *verdict, *reason;	/* static strings */
	char *detail;
	ReportEvidence *evidence;
	size_t n_evidence, evidence_omitted;
	pid_t loaded_by;	/* the latest run that loaded */
	uint64_t loaded_seq;
} DirAcc;

/* The latest scanner that loaded a backend file (by name) again in a
 * directory probed before it: what makes an earlier directory "dropped". */
typedef struct Reprobe {
	char *lib;		/* basename */
	uint64_t exec_seq;
	pid_t pid;
	char *exe;		/* for its evidence */
} Reprobe;
#define REPROBES_MAX 64

#define PROCS_KEEP 64		/* ended processes listed in the report */
#define PROCS_HEAD 16		/* of which the first ones; the rest the latest */
#define TRUNCATED_PIDS_MAX 16

typedef struct DiagRegexes DiagRegexes;

struct Diagnosis {
	json_object *header;
	Policy policy;
	bool have_policy;
	bool policy_overridden;	/* the header's policy is ignored */
	char *policy_error;
	char **command;
	Proc *server;		/* NULL until the server's exec; never reduced */
	PolicyServer who;	/* the traced command's process, and the server's */
	ReportExit command_exit;	/* how it ended (the report's "exit") */
	Proc **procs;		/* live processes, any order */
	size_t n_procs, cap_procs;
	json_object *by_pid;	/* "pid" -> index in procs */
	ReportProcess *done;	/* ended processes, reduced to their report entry */
	size_t n_done, done_omitted;
	DirAcc **dirs;		/* directories runs were folded into */
	size_t n_dirs;
	json_object *dir_index;	/* path -> index in dirs */
	json_object *accel_dirs;	/* directories with an accelerator backend opened */
	Reprobe reprobes[REPROBES_MAX];
	size_t n_reprobes;
	bool scanner_seen;
	pid_t truncated_pids[TRUNCATED_PIDS_MAX];	/* opens past OPENS_KEEP_MAX */
	size_t n_truncated;
	char *scanner_version;	/* from the server's output */
	char kept[4096];	/* the server's "kept" lists, comma-separated */
	ReportEvidence kept_ev;	/* its last such line; seq 0: none */
	DiagRegexes *rx;	/* the policy's regexes, compiled once */
	json_object *elf;	/* path -> observe/elf event */
	json_object *listing;	/* the observe/listing event, or NULL */
	bool complete;		/* the stats line, the trace's last, was read */
	uint64_t stops, backtraces, backtrace_ns;
	uint64_t rewrites, rewrite_p50_ns, rewrite_p99_ns;
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

/* The verdict of one run (or of a directory without runs). */
typedef struct Judged {
	const char *verdict, *reason;
	char detail[DETAIL_MAX];
	ReportLibrary lib;
	bool have_lib;
	uint64_t cite[EVIDENCE_MAX];	/* seqs of the events that justify it */
	size_t n_cite, n_uncited;	/* n_uncited: past EVIDENCE_MAX */
} Judged;

/* diagnose-verdict.c: judging one run, or a directory without runs. */
const char *diag_base_name(const char *path);
bool diag_is_backend(const Diagnosis *d, const char *name);
bool diag_in_dir(const char *file, const char *dir);
void diag_cite(Judged *j, uint64_t seq);
void diag_set(Judged *j, const char *verdict, const char *reason);
bool diag_library_root(const Diagnosis *d, char *out, size_t size);
json_object *diag_listing_entry(const Diagnosis *d, const char *name);
bool diag_entry_has(json_object *e, const char *glob);
/* Was LIB still mapped when P ended, or named by the policy's "loaded"
 * line in P's output?  Returns the evidence seq (or 1 for mappings). */
uint64_t diag_loaded_evidence(const Diagnosis *d, const Proc *p, const char *lib);
void diag_judge_run(const Diagnosis *d, const Proc *p, const char *dir, bool accel_dir, Judged *j);
void diag_judge_unscanned(const Diagnosis *d, const char *name, const char *path, Judged *j);

/* diagnose-fold.c: runs folded into directories as processes end, and
 * the directories of a report rendered from that state. */
int diag_dir_probed(Diagnosis *d, const char *dir, uint64_t exec_seq, bool shown);
/* P opened PATH: note an accelerator backend's directory, and a run on it
 * for "scanner any". */
int diag_note_backend_open(Diagnosis *d, const Proc *p, const char *path, bool ok);
/* The server wrote TEXT (event SEQ): its version, the directories it kept. */
void diag_server_says(Diagnosis *d, const Proc *server, uint64_t seq, const char *text);
/* P has ended (or is superseded): fold its runs and its report entry in,
 * then forget it. */
int diag_reduce(Diagnosis *d, Proc *p);
/* Forget P without folding (diagnose-model.c). */
void diag_forget(Diagnosis *d, Proc *p);
void diag_dir_free(DirAcc *a);
int diag_directories(const Diagnosis *d, Report *r);
/* How P ended, for the report (diagnose.c). */
int diag_fill_exit(const Proc *p, ReportExit *e);
/* The report entry of a process. */
int diag_fill_process(const Proc *p, ReportProcess *rp);
/* Does the policy's ERE RE (one of its strings) match TEXT?  Group 1,
 * when wanted, into GROUP1.  Compiled once per diagnosis. */
bool diag_regex_line(const Diagnosis *d, const char *re, const char *text, char *group1, size_t size);
DiagRegexes *diag_regexes_new(void);
void diag_regexes_reset(DiagRegexes *rx);
DiagRegexes *diag_regexes_free(DiagRegexes *rx);

/* diagnose-inject.c: inject events, and what the report says of them. */
int diag_on_inject(Diagnosis *d, json_object *ev);
int diag_injections(const Diagnosis *d, Report *r);
/* The note on what was (not) injected and why, from the header. */
int diag_inject_notes(const Diagnosis *d, Report *r);
/* add_note() of diagnose.c, for the other files. */
__attribute__((format(printf, 2, 3))) int diag_add_note(Report *r, const char *fmt, ...);

/* diagnose-evidence.c */
/* The evidence record of event SEQ, from the model; P (may be NULL) is
 * where to look first. */
void diag_evidence_for(const Diagnosis *d, const Proc *p, uint64_t seq, ReportEvidence *e);
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

static inline void json_object_putp(json_object **o)
{
	json_object_put(*o);
}

/* Push the string elements of ARR onto *V (others are skipped). */
int strv_push_all(char ***v, json_object *arr);

/* Small string-vector helpers shared by the diagnosis files. */
int strv_push(char ***v, const char *s);
size_t strv_len(char *const *v);
void strv_free_all(char **v);
