/* The report of a run (schema vgpu-run/report/1, ../shared/docs/contract.md
 * section 2): what the diagnosis concludes, what renderers print, what
 * vgpu-report reads back, diffs and checks.  Plain data: strings are owned
 * by the report and freed by report_done(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REPORT_SCHEMA "vgpu-run/report/1"

/* How a process ended: exit code, or signal name ("SIGKILL"). */
typedef struct ReportExit {
	bool known;
	bool signaled;
	int code;		/* when !signaled */
	char *signal;		/* when signaled */
	char *by;		/* "parent" | "self" | "other" | "unknown" | NULL */
	char *fatal_signal;	/* delivered before an exit by code, or NULL */
} ReportExit;

typedef struct ReportEnvVar {
	char *name, *value;
} ReportEnvVar;

/* A driver library a process really mapped (one the policy's shims stand
 * for: libcuda.so.1), and what it was. */
typedef struct ReportDriver {
	char *library;		/* soname */
	char *path;		/* the file opened */
	char *kind;		/* "shim" (injected) | "stub" (NVIDIA's) | NULL */
} ReportDriver;

/* Another install of the server, not the one scanned. */
typedef struct ReportInstall {
	char *path;
	char **directories;	/* its subdirectories, NULL-terminated */
} ReportInstall;

typedef struct ReportProcess {
	pid_t pid, ppid;
	char **argv;		/* NULL-terminated */
	char *role;		/* "server" | "scanner" | "other" */
	char **scans;		/* directories it was pointed at, NULL-terminated */
	bool wrapper;		/* led to the server: a shell, env, nohup */
	ReportExit exit;
	/* scanners: the recorded variables whose value differs from the
	 * server's (the server sets LD_LIBRARY_PATH and the like per probe) */
	ReportEnvVar *environment;
	size_t n_environment;
	ReportDriver *drivers;
	size_t n_drivers;
	uint64_t order;		/* not rendered: when it appeared in the trace */
} ReportProcess;

typedef struct ReportLibrary {
	char *path;
	char *backend;		/* "cuda", "cpu", ... */
	char *outcome;		/* "loaded" | "unloaded" | "failed" | "not-tried" */
	char **missing;		/* sonames, NULL-terminated */
	char **searched;	/* paths tried, in order, NULL-terminated */
	/* load-error: symbols no library in scope defines, and versions
	 * ("GLIBCXX_3.4.32 of libstdc++.so.6") the providing library lacks */
	char **unresolved;
	char **versions;
} ReportLibrary;

typedef struct ReportRun {
	pid_t pid;
	char *verdict, *reason;
} ReportRun;

/* A trace event cited as evidence (by seq). */
typedef struct ReportEvidence {
	uint64_t seq;
	pid_t pid;
	char *syscall;		/* for syscall events, else NULL */
	char *event;		/* the event kind when not a syscall */
	char *path;
	char *result;		/* number or errno name, as in the trace */
	char *text;		/* output events: the line */
} ReportEvidence;

typedef struct ReportDirectory {
	char *name;		/* relative to the library root, "." for it */
	char *path;
	char *realpath;		/* when a symlink was involved, else NULL */
	char *verdict;		/* loaded | absent | skipped | failed */
	char *reason;
	char *detail;		/* may be NULL */
	char *cause;		/* the one-line cause beside the verdict; NULL for loaded */
	char *next;		/* what to do, with this run's values; NULL: nothing established */
	ReportLibrary *libraries;
	size_t n_libraries;
	ReportRun *runs;
	size_t n_runs;
	ReportEvidence *evidence;
	size_t n_evidence;
	uint64_t runs_omitted, evidence_omitted;	/* left out of a long run's lists */
} ReportDirectory;

typedef struct ReportInjection {
	pid_t pid;
	char *method;		/* "redirect" | "preload" */
	char *library;		/* soname */
	char *shim;
	uint64_t seq;
	char *status;		/* "done" | "refused" */
	char *why;
	char *path;		/* redirect: what the scanner asked for */
	char *real;		/* the real library the shim was told of */
} ReportInjection;

/* A device the server said it will use (its own outcome line). */
typedef struct ReportDevice {
	char *name;		/* ggml's ("CUDA0") */
	char *description;	/* the marketing name ("NVIDIA H200") */
	char *library;		/* "CUDA", "ROCm", "Vulkan" */
	char *directory;	/* the backend directory's name ("cuda_v13") */
	char *total, *available;	/* as the server wrote them ("139.8 GiB") */
	char *compute, *driver, *id, *type;
	uint64_t seq;		/* the line that said so */
} ReportDevice;

/* A device's strings, to walk them: char **v[] = REPORT_DEVICE_STRINGS(d),
 * in the order of report_device_keys. */
#define REPORT_DEVICE_STRINGS(d) \
	{ &(d)->name, &(d)->description, &(d)->library, &(d)->directory, &(d)->total, \
	  &(d)->available, &(d)->compute, &(d)->driver, &(d)->id, &(d)->type }
#define REPORT_DEVICE_N_STRINGS 10
extern const char *const report_device_keys[REPORT_DEVICE_N_STRINGS];


typedef struct Report {
	char *tool_version;
	char **command;			/* NULL-terminated */
	char *policy_name, *policy_path;
	char *scanner_version;		/* NULL when not established */
	ReportExit exit;
	/* what the server said it will use: stated, "1 GPU: ..." or "CPU
	 * only" (devices empty); not stated: summary says why */
	bool outcome_stated;
	char *outcome_summary;
	ReportDevice *devices;
	size_t n_devices;
	/* devices stated past the 16 listed; the GPU count is report_gpus() */
	uint64_t devices_omitted;
	bool complete;			/* the whole run: the trace's stats line was read */
	char *hostname, *arch, *kernel;	/* the host it ran on (NULL: not recorded) */
	char *started_at, *written_at;	/* RFC 3339 UTC (walltime.h) */
	ReportEnvVar *environment;
	size_t n_environment;
	/* the library root scanned and how it was derived: the policy's
	 * rule applied to the server's executable, symlinks resolved */
	char *root_path, *root_rule, *root_exe;
	ReportInstall *installs;	/* other installs found (policy "installs") */
	size_t n_installs;
	ReportProcess *processes;
	size_t n_processes;
	uint64_t processes_omitted;
	/* scanner processes started (each exec the policy calls a scanner's)
	 * and of them ended, over the whole run */
	uint64_t scanner_runs, scanner_ends;	/* ended processes left out of a long run's list */
	ReportDirectory *directories;	/* sorted by name */
	size_t n_directories;
	ReportInjection *injections;
	size_t n_injections;
	char **notes;			/* NULL-terminated */
	uint64_t stops, backtraces, backtrace_ms;
	/* reports rewritten while the command ran, and the event loop's time
	 * per rewrite (median, 99th percentile) */
	uint64_t rewrites, rewrite_p50_us, rewrite_p99_us;
} Report;

void report_done(Report *r);
/* Append a note (printf-style) to R's notes; 0 or -ENOMEM. */
__attribute__((format(printf, 2, 3))) int report_add_note(Report *r, const char *fmt, ...);
/* Parts, for whoever builds or keeps them piecewise (the diagnosis). */
void report_exit_done(ReportExit *e);
void report_exit_copy(const ReportExit *from, ReportExit *to);
void report_evidence_done(ReportEvidence *ev);
void report_evidence_copy(const ReportEvidence *from, ReportEvidence *to);
void report_library_done(ReportLibrary *l);
void report_library_copy(const ReportLibrary *from, ReportLibrary *to);
void report_process_done(ReportProcess *p);
void report_process_copy(const ReportProcess *from, ReportProcess *to);
/* Append a driver (KIND may be NULL); 0 or -ENOMEM. */
int report_process_add_driver(ReportProcess *p, const char *library, const char *path, const char *kind);
void report_device_done(ReportDevice *d);
void report_device_copy(const ReportDevice *from, ReportDevice *to);

/* The GPUs the server said it will use: those listed and those past the
 * list's cap. */
static inline uint64_t report_gpus(const Report *r)
{
	/* a report from elsewhere may say anything: no wrap to a small count */
	uint64_t n = r->n_devices;
	return r->devices_omitted > UINT64_MAX - n ? UINT64_MAX : n + r->devices_omitted;
}
