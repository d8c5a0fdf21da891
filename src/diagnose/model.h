/* The diagnosis's lowest layer: its model of a run, built from events
 * (model.c) and queried (facts.c).  It knows nothing of the layers above
 * (loader reconstruction, verdicts, evidence, the fold): what they need to
 * hear as events arrive, it tells them through ModelHooks. */
#pragma once

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/hostarch.h"
#include "base/strv.h"
#include "policy/policy.h"
#include "report/report.h"

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

#define TRUNCATED_PIDS_MAX 16
#define ELF_KEEP_MAX 4096	/* libraries whose ELF facts are kept */
#define OUTCOME_DEVICES_MAX 16	/* devices listed in the outcome */
#define DRIVERS_KEEP_MAX 8	/* driver libraries listed per process */
#define SYMBOLS_KEEP_MAX 256	/* backends whose symbol check is kept */

typedef struct DiagRegexes DiagRegexes;

/* What the model tells the part above it (the fold), which it does not
 * know: a scanner was pointed at a directory, a process opened a backend
 * library, a process ended (folded in, then forgotten by the model). */
typedef struct Model Model;
typedef struct ModelHooks {
	int (*probed)(void *data, const char *dir, uint64_t exec_seq, bool shown);
	int (*backend_open)(void *data, const Model *m, const Proc *p, const char *path, bool ok);
	int (*ended)(void *data, const Model *m, const Proc *p);
} ModelHooks;

/* The run as the events tell it: the header and its policy, the processes
 * still running, the server, what it said, ELF facts and the listing. */
struct Model {
	json_object *header;
	/* the traced host's architecture (the header's host.arch; this
	 * program's own when it names none vgpu-run knows) */
	const HostArch *arch;
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
	bool scanner_seen;
	uint64_t scanner_runs;	/* execs the policy calls a scanner's */
	uint64_t scanner_ends;	/* of which ended */
	pid_t truncated_pids[TRUNCATED_PIDS_MAX];	/* opens past OPENS_KEEP_MAX */
	size_t n_truncated;
	char *scanner_version;	/* from the server's output */
	char kept[4096];	/* the server's "kept" lists, comma-separated */
	ReportEvidence kept_ev;	/* its last such line; seq 0: none */
	DiagRegexes *rx;	/* the policy's regexes, compiled once */
	json_object *elf;	/* path -> the facts kept of its observe/elf event */
	size_t elf_dropped;	/* libraries past ELF_KEEP_MAX */
	json_object *symbols;	/* backend path -> its observe/symbols event */
	json_object *listing;	/* the observe/listing event, or NULL */
	json_object *platform;	/* the last observe/platform event, or NULL */
	bool complete;		/* the stats line, the trace's last, was read */
	uint64_t stops, backtraces, backtrace_ns;
	uint64_t lost;		/* what vgpu-run could not record (stats) */
	uint64_t rewrites, rewrite_p50_ns, rewrite_p99_ns;
	uint64_t last_seq;
	uint64_t cut_seq, cut_limit;	/* a "truncated" line: the trace ends there */
	json_object *injects;	/* inject events, at most INJECTS_KEEP_MAX */
	size_t injects_dropped;
	/* what the server said it will use (outcome.c) */
	ReportDevice outcome[OUTCOME_DEVICES_MAX];
	size_t n_outcome, outcome_more;	/* outcome_more: past OUTCOME_DEVICES_MAX */
	bool outcome_stated;	/* an outcome line was read */
	bool outcome_open;	/* the server's last line was one: the next adds to it */
	uint64_t outcome_seq;
	unsigned piece;		/* of a rotated trace: the header's "piece" (0: not rotated) */
	enum {
		PIECE_STATE_NONE,	/* no state event due */
		PIECE_STATE_RESTORE,	/* a piece read alone: its state comes next */
		PIECE_STATE_SKIP,	/* the next piece of what was read: known */
	} piece_state;
	const ModelHooks *hooks;
	void *hooks_data;
};

/* Inject events kept for the report: one or two per scanner; a run that
 * injects into thousands of processes (scanner = any) keeps the first. */
#define INJECTS_KEEP_MAX 1024

/* model.c: the model fed one event at a time.  Returns 0, -ENOMEM, or
 * (header) -EPROTO / -EINVAL with ERR set. */
int model_init(Model *m, const ModelHooks *hooks, void *hooks_data);
void model_done(Model *m);
int model_use_policy(Model *m, const char *path, char *err, size_t err_size);
int model_feed(Model *m, json_object *ev, char *err, size_t err_size);
/* A process record built elsewhere (a state snapshot) joins the live
 * ones; model_proc_free() releases one that never joined. */
int model_adopt(Model *m, Proc *p);
void model_proc_free(Proc *p);

/* outcome.c: the server's TEXT (event SEQ), for its outcome lines; the
 * report's outcome from them. */
int diag_outcome_text(Model *m, uint64_t seq, const char *text);
int diag_outcome_report(const Model *m, Report *r);
void diag_outcome_done(Model *m);

/* platform.c: the platform the scanner detected (filter-platform). */
typedef enum PlatformHow { PLATFORM_NONE, PLATFORM_BY_ENV, PLATFORM_BY_FILE } PlatformHow;
typedef struct PlatformPick {
	bool applies;		/* the policy has a platform filter */
	PlatformHow how;
	char dir[256];		/* the directory it selects (how != NONE) */
	/* "JETSON_JETPACK=6.0", "/etc/nv_tegra_release: # R36 ...", or
	 * why none was detected */
	char why[512];
	uint64_t seq;		/* the event that says so, 0: none */
} PlatformPick;
void diag_platform(const Model *d, PlatformPick *ret);

/* facts.c: what the model answers. */
Proc *diag_proc(const Model *d, pid_t pid);
const char *diag_env(const Proc *p, const char *name);
/* A variable's value as Ollama's envconfig reads it: blanks and quotes
 * trimmed; true as Go's strconv.ParseBool would not say false (a value it
 * rejects is true). */
void diag_env_trimmed(const char *v, char *out, size_t size);
bool diag_env_true(const char *raw);
const char *diag_base_name(const char *path);
/* The "done" inject event of SONAME into process PID (0: any), or NULL. */
json_object *diag_injection_done(const Model *d, pid_t pid, const char *soname);
/* Does the policy call the file named NAME a backend library? */
bool diag_is_backend(const Model *d, const char *name);
/* Is FILE directly inside DIR? */
bool diag_in_dir(const char *file, const char *dir);
/* The library root: the policy's exe-relative or absolute directory. */
bool diag_library_root(const Model *d, char *out, size_t size);
/* The listing entry named NAME (a subdirectory of the root), or NULL. */
json_object *diag_listing_entry(const Model *d, const char *name);
/* Does the listing entry hold a file matching GLOB? */
bool diag_entry_has(json_object *e, const char *glob);
/* Does the policy's ERE RE (one of its strings) match TEXT?  Group 1,
 * when wanted, into GROUP1.  Compiled once per model. */
bool diag_regex_line(const Model *d, const char *re, const char *text, char *group1, size_t size);
/* The same, all groups (up to MAX, at most 9) into GROUPS; their number,
 * 0 when RE does not match. */
size_t diag_regex_groups(const Model *d, const char *re, const char *text, char (*groups)[512], size_t max);
DiagRegexes *diag_regexes_new(void);
void diag_regexes_reset(DiagRegexes *rx);
DiagRegexes *diag_regexes_free(DiagRegexes *rx);
/* How P ended, and its entry, for the report. */
int diag_fill_exit(const Proc *p, ReportExit *e);
int diag_fill_process(const Model *d, const Proc *p, ReportProcess *rp);

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

/* The process id KEY of O: from 0 (none) to INT_MAX, as a report holds
 * them; a negative or larger number reads as absent (0), as a field of
 * the wrong type does. */
static inline pid_t jpid(json_object *o, const char *key)
{
	int64_t v = jnum(o, key, 0);
	return v >= 0 && v <= INT_MAX ? (pid_t)v : 0;
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
