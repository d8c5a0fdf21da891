/* vgpu-report's command line parsed into ReportOptions: no printing, no
 * exit(), so it can be unit-tested and fuzzed.  main.c prints and decides
 * the exit status. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "report/report-compare.h"
#include "report/report-out.h"

typedef enum ReportCommand {
	REPORT_CMD_SHOW,
	REPORT_CMD_DIFF,
	REPORT_CMD_CHECK,
	REPORT_CMD_HELP,	/* -h met first: nothing after it was parsed */
	REPORT_CMD_VERSION,	/* -V, likewise */
} ReportCommand;

typedef struct ReportOptions {
	ReportCommand command;
	bool json;			/* --format=json */
	ReportColor color;		/* --color */
	const char *policy;		/* -p NAME|FILE, or NULL */
	char **expects;			/* the --expect values (into argv), in order */
	size_t n_expects;
	ReportOutcomeExpectation oe;	/* --expect-gpus, --expect-device */
	char **inputs;			/* into argv: INPUT [PIECE...] or BEFORE AFTER */
	size_t n_inputs;
} ReportOptions;

/* Parse ARGV (getopt_long's state is reset first; ARGV may be permuted as
 * getopt_long does).  Returns 0 with RET filled (release with
 * report_options_done), or -EINVAL with a one-line reason (no trailing
 * newline, no program name) in ERR, or -ENOMEM (ERR untouched). */
int report_options_parse(int argc, char **argv, ReportOptions *ret, char *err, size_t err_size);
void report_options_done(ReportOptions *o);
