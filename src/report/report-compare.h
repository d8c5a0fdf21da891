/* vgpu-report diff and check (contract section 1): comparing two reports
 * directory by directory, and testing one against expectations.  Both
 * write the contract's exact lines and return the contract's exit code,
 * so the command is a thin wrapper and the logic is unit-tested. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "report/report.h"

#define REPORT_DIFF_SCHEMA "vgpu-run/diff/1"

/* Compare directories of BEFORE and AFTER, matched by name, in name order.
 * Text: first "outcome: SUMMARY -> SUMMARY" when what the server said it
 * uses changed, then one "NAME: VERDICT:REASON -> VERDICT:REASON" line per
 * change, "(none)" for a directory only one side has.  JSON (AS_JSON): one
 * line, {"schema":"vgpu-run/diff/1","changes":[{"name","before","after"}]}
 * with before/after {"verdict","reason"} or null, and "outcome":
 * {"before","after"} when it changed.  Returns 0 when nothing
 * changed, 1 when something did, -ENOMEM or -EIO. */
int report_diff(const Report *before, const Report *after, bool as_json, FILE *out);

/* One --expect=DIR=VERDICT[:REASON], split at the last '='. */
typedef struct ReportExpectation {
	char *text;		/* owns the strings below */
	const char *dir;	/* a directory's name or path, as written */
	const char *verdict;
	const char *reason;	/* NULL: any reason holds */
} ReportExpectation;

/* Parse S into RET (release with report_expectation_done).  Returns 0, or
 * -EINVAL with "bad expectation 'S': ..." in ERR (VERDICT must be one of
 * the contract's four; REASON lower-case letters, digits and '-'), or
 * -ENOMEM. */
int report_expectation_parse(const char *s, ReportExpectation *ret, char *err, size_t err_size);
void report_expectation_done(ReportExpectation *e);

/* Test R against the N_EXPECTS strings of EXPECTS.  Writes one line per
 * expectation that does not hold ("DIR: expected VERDICT[:REASON], got
 * VERDICT:REASON", or "got not-reported") to OUT.  Returns 0 when all
 * hold, 1 when some do not, 2 with a one-line reason in ERR when there is
 * no expectation or one is malformed (nothing is written to OUT then),
 * -ENOMEM or -EIO. */
int report_check(const Report *r, char *const *expects, size_t n_expects, FILE *out, char *err,
		 size_t err_size);

/* What --expect-gpus=N and --expect-device=REGEX ask of the outcome. */
typedef struct ReportOutcomeExpectation {
	long gpus;		/* -1: not asked */
	const char *device;	/* an ERE, or NULL */
} ReportOutcomeExpectation;

/* report_check() with OE too: "outcome: expected 1 GPU, got CPU only",
 * "outcome: expected a device matching 'H200', got ..." (against each
 * device's name and description).  Expectations of either kind may be
 * absent, not both. */
int report_check_all(const Report *r, char *const *expects, size_t n_expects,
		     const ReportOutcomeExpectation *oe, FILE *out, char *err, size_t err_size);
