/* One traced run: tracer + event sink (numbering, trace file, -v lines). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "inject/shim.h"
#include "policy/policy.h"
#include "report/report.h"
#include "tracer/tracer.h"

typedef struct RunConfig {
	char **command;		/* argv of COMMAND, NULL-terminated */
	const char *trace_path;	/* NULL: no trace file */
	/* an existing trace file kept before the first write: moved up this
	 * many generations (FILE -> FILE.1, ...; 0: none) */
	unsigned trace_keep;
	uint64_t trace_max;	/* bytes of trace file; 0: no cap */
	unsigned trace_pieces;	/* >1: rotate through this many files of trace_max/N */
	bool verbose;
	const Policy *policy;	/* NULL: none (no listing, default capture) */
	const ShimSet *shims;	/* NULL or empty: nothing to inject */
	bool diagnose;		/* build the report (needs a policy) */
	bool stacks;		/* backtraces at decision events (-k) */
	bool discover_only;	/* SIGTERM the command at the policy's "discovered" */
	uint64_t discover_timeout_ns;	/* SIGTERM it then at the latest; 0: no limit */
	uint64_t kill_after_ns;	/* SIGKILL what is left this long after; 0: never */
	/* With a report file, it is rewritten while the command runs: each
	 * time a scanner ends, and on SIGUSR1. */
	const char *report_path;
	int report_format;	/* ReportFormat */
	/* The same rewrites as Prometheus metrics, to this file (or NULL). */
	const char *metrics_path;
	/* Called for every event after numbering (self-test uses it). */
	void (*observer)(uint64_t seq, const TracerEvent *ev, void *userdata);
	void *userdata;
	unsigned close_std_fds;	/* see TracerConfig */
} RunConfig;

typedef struct RunOutcome {
	TracerResult result;
	TracerStats stats;
	uint64_t events;
	int trace_error;	/* -errno when writing the trace failed */
	bool trace_cut;		/* --trace-max was reached */
	/* -errno of the last rewrite of the report file while the command
	 * ran, already said on stderr (0: it went in, or there was none) */
	int report_said;
	bool discovered;	/* the policy's "discovered" line was seen */
	bool timed_out;		/* discover_timeout_ns passed before it was */
	Report report;		/* when have_report: release with report_done */
	bool have_report;
} RunOutcome;

/* Launch and trace.  A negative return means COMMAND never started:
 * -ENOENT / -EACCES from the command lookup (exit 127 / 126), anything
 * else is vgpu-run's own failure (exit 125); ERR holds a one-line reason.
 * Launch failures inside the child come back in ret->result. */
int run_command(const RunConfig *cfg, RunOutcome *ret, char *err, size_t err_size);
