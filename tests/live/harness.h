/* Live-test harness: run the real vgpu-run binary on a real program, load
 * the JSON Lines trace it wrote, and query its events. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct Trace {
	json_object **ev;	/* every line, in order */
	size_t n;
} Trace;

typedef struct RunResult {
	int status;		/* waitpid status of vgpu-run */
	char *out;		/* its stdout, NUL-terminated */
	char *err;		/* its stderr */
	Trace trace;
} RunResult;

/* Paths from the environment meson sets (VGPU_RUN, TRACEE, ...). */
const char *env_path(const char *name);
/* mkstemp(TMPL) and close it: an empty file, mode 0600, for the test to
 * name on a command line.  Fails the test if it cannot. */
void temp_file(char *tmpl);

/* Run the shell command FMT... (printf-style); fail the test, naming it,
 * unless it exits 0. */
__attribute__((format(printf, 1, 2))) void sh(const char *fmt, ...);

/* Run "vgpu-run -q -t <tmp> -- ARGV..." with stdin /dev/null and collect
 * everything.  Fails the test on harness errors. */
void run_traced(const char *const *argv, RunResult *ret);
/* Run ARGV as is (vgpu-run with options, or the program untraced). */
void run_plain(const char *const *argv, RunResult *ret);
/* The same, with the child's resource usage (ru_maxrss: its peak RSS). */
struct rusage;
void run_plain_usage(const char *const *argv, RunResult *ret, struct rusage *usage);
void run_result_free(RunResult *r);

/* Fill the file system of DIR with DIR/fill (created with MODE) until not
 * one block is left; fails the test if it cannot. */
void fs_fill(const char *dir, mode_t mode);

/* Run ARGV (a server under vgpu-run) with ENV added ("NAME=VALUE",
 * NULL-terminated, may be NULL) and stdin/stdout on /dev/null, wait until
 * its stderr shows READY (at most 120 s), then SIGTERM it and collect its
 * status and stderr.  Fails the test when READY never comes. */
void run_served(const char *const *argv, const char *const *env, const char *ready,
		RunResult *ret);

int trace_load(const char *path, Trace *ret);
void trace_free(Trace *t);

/* Field accessors that tolerate absence. */
const char *ev_str(json_object *ev, const char *key);
long long ev_int(json_object *ev, const char *key, long long dflt);
bool ev_is(json_object *ev, const char *event);

/* The first event of kind EVENT whose string field KEY equals VALUE. */
json_object *trace_find(const Trace *t, const char *event, const char *key, const char *value);
size_t trace_count(const Trace *t, const char *event, const char *key, const char *value);
/* The trace is whole: a header, then seq 1, 2, 3, ... without a gap or a
 * repeat, and the stats line last. */
void trace_assert_whole(const Trace *t);
/* Does PID's observe/mappings event list FILE (mapped when it ended)? */
bool trace_mapped(const Trace *t, long long pid, const char *file);
/* The directory NAME of a JSON report, or NULL. */
json_object *report_dir(json_object *report, const char *name);
/* The final stats record's field. */
long long trace_stat(const Trace *t, const char *field);

/* Remove the "written_at":"..." member of a JSON report in S (in place):
 * the one field in which a live report and its offline twin differ. */
void strip_written_at(char *s);

/* A sanitizer build (scripts/test's second stage) runs vgpu-run and
 * vgpu-report with shadow memory, redzones and a quarantine of freed
 * blocks: their RSS says nothing of their state there, so memory bounds
 * are checked only in the plain build; every exact result is checked in
 * both.  (The traced helpers are never instrumented: tests/meson.build.) */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif
