/* The diagnosis's third layer: the verdict of one scanner run on one
 * directory, or of a directory no run reached (verdict.c), from the model
 * and the loader reconstruction below it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diagnose/model.h"

#define EVIDENCE_MAX 8		/* events cited per verdict */
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

void diag_cite(Judged *j, uint64_t seq);
void diag_set(Judged *j, const char *verdict, const char *reason);
/* Was LIB still mapped when P ended, or named by the policy's "loaded"
 * line in P's output?  Returns the evidence seq (or 1 for mappings). */
uint64_t diag_loaded_evidence(const Model *d, const Proc *p, const char *lib);
/* Run P on DIR (ACCEL_DIR: judged by its accelerator backend). */
void diag_judge_run(const Model *d, const Proc *p, const char *dir, bool accel_dir, Judged *j);
/* A directory no run reached: absent, filtered, unreadable, never scanned. */
void diag_judge_unscanned(const Model *d, const char *name, const char *path, Judged *j);
