/* vgpu-run: parse the command line, run COMMAND traced, and end exactly as
 * COMMAND ended.  The only place that decides the exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/output.h"
#include "base/path.h"
#include "config.h"
#include "inject/shim.h"
#include "policy/policy.h"
#include "report/report-file.h"
#include "report/report-metrics.h"
#include "report/report-out.h"
#include "vgpu-run/cli.h"
#include "vgpu-run/command.h"
#include "vgpu-run/run.h"
#include "vgpu-run/selftest.h"
#include "vgpu-run/signals.h"

#define EXIT_TIMED_OUT 124	/* as timeout(1) */
#define EXIT_OWN_FAILURE 125
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127

/* The report: to -o's file, else to stderr for the person who ran us.
 * Returns -errno when there was none to write or -o's file failed. */
static int write_report(const Options *o, const char *target, RunOutcome *out)
{
	if (!out->have_report)
		return -ENODATA;	/* run.c said why */
	ReportFormat fmt = o->format == CLI_FORMAT_JSON   ? REPORT_FORMAT_JSON
			   : o->format == CLI_FORMAT_TEXT ? REPORT_FORMAT_TEXT
							  : report_format_for(o->report_path);
	if (o->report_path) {
		int r = report_write_file(&out->report, fmt, target);
		/* the writer said this one already (a rewrite while the
		 * command ran): one line for one problem */
		if (r < 0 && r != out->report_said)
			eprintf("vgpu-run: cannot write the report '%s': %s\n", o->report_path,
				strerror(-r));
		return r;
	}
	if (!o->quiet)
		report_render(&out->report, fmt, stderr,
			      fmt == REPORT_FORMAT_TEXT && report_color_use(o->color, STDERR_FILENO));
	return 0;
}

#define NS_PER_S 1000000000ULL

/* --discover-only's default time limit: the policy's probe timeout for
 * each expected directory one after another, plus one for a directory
 * beyond them, all of it twice (a server may probe again, as Ollama's
 * second pass does), plus 30 s to start and stop.  A policy without a
 * probe timeout gets the 30 s alone. */
static uint64_t discover_timeout_default(const Policy *p)
{
	return (p->n_expected + 1) * p->probe_timeout_ns * 2 + 30 * NS_PER_S;
}

/* The running executable, for finding built-in policies beside it. */
static void self_exe(char *out, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", out, size - 1);
	out[n > 0 ? n : 0] = '\0';
}

static int load_policy(const char *name, Policy *ret, char *err, size_t err_size)
{
	char exe[PATH_MAX], path[PATH_MAX];
	self_exe(exe, sizeof(exe));
	int r = policy_find(name, exe, VGPU_DATADIR, path, sizeof(path), err, err_size);
	if (r >= 0)
		r = policy_load_file(path, ret, err, err_size);
	return r;
}

static void print_version(void)
{
	char exe[PATH_MAX], path[PATH_MAX], err[512];
	printf("vgpu-run %s\n", VGPU_VERSION);
	self_exe(exe, sizeof(exe));
	if (policy_find("ollama", exe, VGPU_DATADIR, path, sizeof(path), err, sizeof(err)) >= 0) {
		*strrchr(path, '/') = '\0';
		printf("policies: %s\n", path);
	} else {
		printf("policies: %s\n", err);
	}
}

/* Map how COMMAND ended to vgpu-run's own end (vgpu-run(1), EXIT STATUS). */
/* Problems after COMMAND started: said, but they change no exit status. */
static void report_problems(const Options *o, const RunOutcome *out)
{
	if (out->trace_error)
		eprintf("vgpu-run: writing the trace '%s' failed: %s\n", o->trace_path,
			strerror(-out->trace_error));
	else if (out->trace_cut)
		eprintf("vgpu-run: the trace '%s' was cut at --trace-max=%llu bytes\n",
			o->trace_path, (unsigned long long)o->trace_max);
	if (out->stats.lost)
		eprintf("vgpu-run: out of memory or file descriptors %llu times while tracing: the trace and the "
			"report lack what was lost then (the command ran on unharmed)\n",
			(unsigned long long)out->stats.lost);
}

static int finish(const Options *o, const RunOutcome *out)
{
	const TracerResult *res = &out->result;
	report_problems(o, out);
	switch (res->launch_stage) {
	case TRACER_LAUNCH_FILTER:
		eprintf("vgpu-run: cannot install the seccomp filter: %s\n",
			strerror(res->launch_errno));
		return EXIT_OWN_FAILURE;
	case TRACER_LAUNCH_EXEC: {
		/* ENOENT for a file that exists: its #! interpreter is missing */
		char path[PATH_MAX], interp[256];
		if (res->launch_errno == ENOENT &&
		    command_resolve(o->command[0], getenv("PATH"), path, sizeof(path)) >= 0 &&
		    command_interpreter(path, interp, sizeof(interp)) > 0) {
			eprintf("vgpu-run: cannot execute '%s': its interpreter '%s' (the #! line) "
					"does not exist\n", o->command[0], interp);
			return EXIT_CANNOT_EXECUTE;
		}
		eprintf("vgpu-run: cannot execute '%s': %s\n", o->command[0],
			strerror(res->launch_errno));
		return res->launch_errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
	}
	case TRACER_LAUNCH_OK:
	default:
		break;
	}
	if (res->signaled) {
		fflush(NULL);
		signals_reraise(res->code);
		return 128 + res->code;
	}
	return res->code;
}

/* The shims to inject: --shim, else $VGPU_SHIM (blank-separated), else
 * the policy's; each checked against the safety rule now, before COMMAND
 * starts. */
static int configure_shims(const Options *o, const Policy *p, ShimSet *ret, char *err, size_t err_size)
{
	const char *soname = p->n_inject_sonames ? p->inject_sonames[0] : "libcuda.so.1";
	const char *env = getenv("VGPU_SHIM");
	ret->method = o->inject_method ? o->inject_method : p->inject_method ? p->inject_method : "redirect";
	ret->disabled = o->no_inject;
	int r = 0;
	if (o->n_shims) {
		ret->source = "--shim";
		for (size_t i = 0; i < o->n_shims && r >= 0; i++)
			r = shim_set_add(ret, o->shims[i], soname, true, err, err_size);
	} else if (env && *env) {
		ret->source = "VGPU_SHIM";
		_cleanup_free_ char *copy = strdup(env);
		char *save = NULL;
		for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w && r >= 0;
		     w = strtok_r(NULL, " \t", &save))
			r = shim_set_add(ret, w, soname, false, err, err_size);
		/* --no-inject: nothing is injected, so an unusable VGPU_SHIM
		 * (the environment of a unit, say) stops nothing */
		if (r < 0 && o->no_inject) {
			r = 0;
			*err = '\0';
		}
	} else if (p->shim) {
		ret->source = "policy";
		r = shim_set_add(ret, p->shim, soname, false, err, err_size);
	}
	for (size_t i = 0; i < ret->n && r >= 0 && !ret->disabled; i++)
		r = shim_check(ret->shims[i].path, err, err_size);
	/* the dynamic linker splits LD_PRELOAD at blanks and ':': such a
	 * path would be "injected" and never loaded */
	for (size_t i = 0; i < ret->n && r >= 0 && !ret->disabled && !strcmp(ret->method, "preload"); i++) {
		const char *c = strpbrk(ret->shims[i].path, ": \t");
		if (c) {
			snprintf(err, err_size,
				 "shim '%s': its path holds %s, which LD_PRELOAD cannot carry (the loader splits "
				 "it there): use --inject-method=redirect, or a path without it",
				 ret->shims[i].path, *c == ':' ? "':'" : "a blank");
			r = -EINVAL;
		}
	}
	return r;
}

/* --metrics' file at the end: the final report as metrics, mode 0644. */
static int write_metrics(const Options *o, const char *target, const RunOutcome *out)
{
	if (!o->metrics_path || !out->have_report)
		return 0;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = report_metrics_render(&out->report, &text, &len);
	if (r >= 0)
		r = report_write_buffer(text, len, target, true, 0644);
	if (r < 0)
		eprintf("vgpu-run: cannot write the metrics '%s': %s\n", o->metrics_path, strerror(-r));
	return r;
}

/* --metrics' file, checked as the report's (never kept as FILE.1: the
 * textfile collector wants one current file), and no other output. */
static int prepare_metrics(const Options *o, const ReportTarget *trace, const ReportTarget *report,
			   ReportTarget *metrics, char *err, size_t err_size)
{
	int r = report_target_resolve(o->metrics_path, metrics);
	if (r < 0) {
		snprintf(err, err_size, "cannot write the metrics '%s': %s", o->metrics_path, strerror(-r));
		return r;
	}
	const char *other = trace->path[0] && report_same_file(metrics->path, trace->path)
				    ? "trace"
			    : report->path[0] && report_same_file(metrics->path, report->path) ? "report"
											      : NULL;
	if (other) {
		snprintf(err, err_size, "the metrics and the %s are the same file '%s'", other, o->metrics_path);
		return -EINVAL;
	}
	return report_target_prepare(metrics, "metrics", 0, err, err_size);
}

/* -t's file, followed through symlinks.  An existing one is kept as -o's
 * report is (run.c does it, once nothing else can stop the start): as
 * FILE.1, or with --trace-pieces=N the pieces moved up one (FILE.1 ...
 * FILE.N-1, the oldest going), so that a supervisor's restart does not
 * overwrite the trace of the run that failed.  *KEEP: how many to move,
 * 0 for a new file, a FIFO or a device (written in place). */
static int prepare_trace(const Options *o, ReportTarget *trace, unsigned *keep, char *err, size_t err_size)
{
	int r = report_target_resolve(o->trace_path, trace);
	if (r < 0) {
		snprintf(err, err_size, "cannot open trace file '%s': %s", o->trace_path, strerror(-r));
		return r;
	}
	*keep = trace->special || !trace->exists ? 0 : o->trace_pieces > 1 ? o->trace_pieces - 1 : 1;
	return 0;
}

static int prepare_report(const Options *o, const ReportTarget *trace, ReportTarget *report, char *err,
			  size_t err_size)
{
	int r = report_target_resolve(o->report_path, report);
	if (r < 0) {
		snprintf(err, err_size, "cannot write the report '%s': %s", o->report_path, strerror(-r));
		return r;
	}
	if (trace->path[0] && report_same_file(report->path, trace->path)) {
		snprintf(err, err_size, "the report and the trace are the same file '%s'", o->trace_path);
		return -EINVAL;
	}
	return report_target_prepare(report, "report", o->report_keep, err, err_size);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], SELFTEST_PROBE_ARG) == 0)
		return selftest_probe();

	/* before anything is opened: nothing of ours may land on 0, 1, 2 */
	unsigned closed_std = std_fds_reserve();
	Options o;
	char err[512];
	if (cli_parse(argc, argv, &o, err, sizeof(err)) < 0) {
		eprintf("vgpu-run: %s\n", err);
		return EXIT_OWN_FAILURE;
	}
	switch (o.action) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		return stdout_flushed("vgpu-run") ? 0 : EXIT_OWN_FAILURE;
	case CLI_VERSION:
		print_version();
		return stdout_flushed("vgpu-run") ? 0 : EXIT_OWN_FAILURE;
	case CLI_SELF_TEST:
		return selftest_run("/proc/self/exe") < 0 ? EXIT_OWN_FAILURE : 0;
	case CLI_RUN:
	default:
		break;
	}

	bool trace_out = o.trace_path && !strcmp(o.trace_path, "-");
	bool report_out = o.report_path && !strcmp(o.report_path, "-");
	bool metrics_out = o.metrics_path && !strcmp(o.metrics_path, "-");
	if (trace_out + report_out + metrics_out > 1) {
		eprintf("vgpu-run: the %s cannot share standard output: give one of them a file\n",
			!metrics_out ? "trace and the report" : !report_out ? "trace and the metrics"
				   : "report and the metrics");
		return EXIT_OWN_FAILURE;
	}
	if ((closed_std & (1u << STDOUT_FILENO)) && (trace_out || report_out || metrics_out)) {
		eprintf("vgpu-run: cannot write the %s to standard output: it is closed\n",
			trace_out ? "trace" : report_out ? "report" : "metrics");
		return EXIT_OWN_FAILURE;
	}
	Policy policy = { 0 };
	if (load_policy(o.policy, &policy, err, sizeof(err)) < 0) {
		eprintf("vgpu-run: %s\n", err);
		policy_done(&policy);
		return EXIT_OWN_FAILURE;
	}
	_cleanup_(shim_set_done) ShimSet shims = { 0 };
	if (configure_shims(&o, &policy, &shims, err, sizeof(err)) < 0) {
		eprintf("vgpu-run: %s\n", err);
		policy_done(&policy);
		return EXIT_OWN_FAILURE;
	}
	/* The output files, checked now rather than after a long run; the
	 * previous run's report and trace are kept (a supervisor's restart
	 * must not overwrite those of the run that failed). */
	ReportTarget trace = { 0 };
	unsigned trace_keep = 0;
	bool trace_file = o.trace_path && strcmp(o.trace_path, "-");
	if (trace_file && prepare_trace(&o, &trace, &trace_keep, err, sizeof(err)) < 0) {
		eprintf("vgpu-run: %s\n", err);
		policy_done(&policy);
		return EXIT_OWN_FAILURE;
	}
	ReportTarget report = { 0 };
	bool to_file = o.report_path && strcmp(o.report_path, "-");
	if (to_file && prepare_report(&o, &trace, &report, err, sizeof(err)) < 0) {
		eprintf("vgpu-run: %s\n", err);
		policy_done(&policy);
		return EXIT_OWN_FAILURE;
	}
	ReportTarget metrics = { 0 };
	bool metrics_file = o.metrics_path && strcmp(o.metrics_path, "-");
	if (metrics_file && prepare_metrics(&o, &trace, &report, &metrics, err, sizeof(err)) < 0) {
		eprintf("vgpu-run: %s\n", err);
		policy_done(&policy);
		return EXIT_OWN_FAILURE;
	}
	RunConfig cfg = {
		.command = o.command,
		.trace_path = trace_file ? trace.path : o.trace_path,
		.trace_keep = trace_keep,
		.trace_max = o.trace_max,
		.trace_pieces = o.trace_pieces,
		.verbose = o.verbose,
		.stacks = o.stacks,
		.discover_only = o.discover_only,
		.discover_timeout_ns = o.discover_timeout_set ? o.discover_timeout_ns
							      : discover_timeout_default(&policy),
		.kill_after_ns = o.kill_after_ns,
		.report_path = to_file ? report.path : o.report_path,
		.metrics_path = metrics_file ? metrics.path : o.metrics_path,
		.report_format = o.format == CLI_FORMAT_JSON	 ? REPORT_FORMAT_JSON
				 : o.format == CLI_FORMAT_TEXT ? REPORT_FORMAT_TEXT
								: report_format_for(o.report_path),
		.policy = &policy,
		.shims = &shims,
		.diagnose = true,
		.close_std_fds = closed_std,
	};
	RunOutcome out = { 0 };
	int r = run_command(&cfg, &out, err, sizeof(err));
	if (r < 0) {
		eprintf("vgpu-run: %s\n", err);
		policy_done(&policy);
		return r == -ENOENT ? EXIT_NOT_FOUND : r == -EACCES ? EXIT_CANNOT_EXECUTE : EXIT_OWN_FAILURE;
	}
	int written = -ENODATA;
	if (out.result.launch_stage == TRACER_LAUNCH_OK) {
		written = write_report(&o, to_file ? report.path : o.report_path, &out);
		int m = write_metrics(&o, metrics_file ? metrics.path : o.metrics_path, &out);
		if (written >= 0 && m < 0)
			written = m;
	}
	if (out.have_report)
		report_done(&out.report);
	policy_done(&policy);
	/* A probe that vgpu-run ended: it succeeded when discovery ended and
	 * its report was written, whatever the stopped server's own status. */
	if (o.discover_only && (out.discovered || out.timed_out)) {
		report_problems(&o, &out);
		if (out.timed_out)
			eprintf("vgpu-run: discovery did not end within %.3g s (--discover-timeout)\n",
				(double)cfg.discover_timeout_ns / NS_PER_S);
		return written < 0 ? EXIT_OWN_FAILURE : out.discovered ? 0 : EXIT_TIMED_OUT;
	}
	return finish(&o, &out);
}
