/* The diagnosis's top layer below diagnose.c: the fold.  When a process
 * ends, each of its scanner runs is judged once (verdict.h) and folded
 * into its directory's DirAcc, and the model forgets the process.  A
 * report's directories are rendered from the accumulated directories plus
 * the processes still running, at any moment, in time proportional to
 * that state and never to the length of the run. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "diagnose/evidence.h"
#include "diagnose/model.h"
#include "diagnose/verdict.h"
#include "report/report.h"

/* What a directory's scanner runs add up to.  A run is folded in when its
 * process ends (the process is then forgotten), so the state grows with
 * directories, not with the length of the run. */
#define RUNS_KEEP 32		/* runs listed per directory */
#define RUNS_HEAD 4		/* of which the first ones; the rest the latest */

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


typedef struct Fold {
	ReportProcess *done;	/* ended processes, reduced to their report entry */
	size_t n_done, done_omitted;
	DirAcc **dirs;		/* directories runs were folded into */
	size_t n_dirs;
	json_object *dir_index;	/* path -> index in dirs */
	json_object *accel_dirs;	/* directories with an accelerator backend opened */
	Reprobe reprobes[REPROBES_MAX];
	size_t n_reprobes;
} Fold;

int fold_init(Fold *f);
void fold_done(Fold *f);
/* A scanner started at EXEC_SEQ was pointed at DIR (SHOWN: list it). */
int fold_probed(Fold *f, const char *dir, uint64_t exec_seq, bool shown);
/* P opened PATH: note an accelerator backend's directory, and a run on it
 * for "scanner any". */
int fold_backend_open(Fold *f, const Model *d, const Proc *p, const char *path, bool ok);
/* P has ended (or is superseded): fold its runs and its report entry in.
 * The model forgets it afterwards. */
int fold_reduce(Fold *f, const Model *d, const Proc *p);
/* The accumulator of directory PATH, made when new (NULL: no memory). */
DirAcc *fold_dir(Fold *f, const char *path);
/* The report's directories, from the fold and the live processes. */
int fold_directories(const Fold *f, const Model *d, Report *r);
