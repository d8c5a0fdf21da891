/* The diagnosis's fourth layer: what a report cites and states beside the
 * verdicts, from the model: evidence records (evidence.c), the server's
 * own "kept" word, and the injections (injections.c), and the next steps
 * (next.c). */
#pragma once

#include "diagnose/model.h"
#include "diagnose/verdict.h"
#include "report/report.h"

/* The evidence record of event SEQ, from the model; P (may be NULL) is
 * where to look first. */
void diag_evidence_for(const Model *d, const Proc *p, uint64_t seq, ReportEvidence *e);
/* A directory that loaded but that the server did not keep (policy
 * "kept") was dropped. */
void diag_apply_kept(const Model *d, Report *r);
/* RD's one-line cause, beside its verdict in the table (NULL for
 * loaded): the missing libraries and how many places were searched, or
 * the detail's first line with the directory's path said "it". */
void diag_cause(ReportDirectory *rd);
/* RD's next step, one sentence with this run's values, when the evidence
 * establishes its premise (a library a complete install ships missing, a
 * shim's soname found nowhere, a filter variable, the stub or shim a
 * failed initialisation ran on, a crash, a timeout): R gives the other
 * directories, the processes' drivers and the injections. */
void diag_next(const Model *d, const Report *r, ReportDirectory *rd);
/* The inject events, as the report lists them. */
int diag_injections(const Model *d, Report *r);
/* The note on what was (not) injected and why, from the header. */
int diag_inject_notes(const Model *d, Report *r);
