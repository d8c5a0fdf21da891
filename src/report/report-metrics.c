/* The report as Prometheus metrics (see report-metrics.h).
 *
 * Names follow Prometheus' conventions: the vgpu_run_ prefix, base units
 * (seconds), _total for counters, _info for a constant 1 that carries
 * labels.  Each family is one row of the table below, with its HELP text,
 * and a function that writes its samples. */
#include "report/report-metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

/* A label value as the format wants it: backslash, double quote and
 * line feed escaped (paths and device names can hold anything). */
static void label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *c = value ? value : ""; *c; c++) {
		if (*c == '\\')
			fputs("\\\\", f);
		else if (*c == '"')
			fputs("\\\"", f);
		else if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

/* "2026-12-02T05:18:13.124Z" (walltime.h) as Unix seconds; -1 if not. */
static double unix_seconds(const char *rfc3339)
{
	struct tm tm = { 0 };
	int ms = 0, n = 0;
	if (!rfc3339 || sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			       &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 || rfc3339[n])
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t == (time_t)-1 ? -1 : (double)t + ms / 1000.0;
}

static void build_info(FILE *f, const Report *r)
{
	(void)r;
	fputs("vgpu_run_build_info{", f);
	label(f, "version", VGPU_VERSION, true);
	fputs("} 1\n", f);
}

static void scanner_info(FILE *f, const Report *r)
{
	fputs("vgpu_run_scanner_info{", f);
	label(f, "policy", r->policy_name, true);
	label(f, "version", r->scanner_version, false);
	fputs("} 1\n", f);
}

static void directory_verdict(FILE *f, const Report *r)
{
	for (size_t i = 0; i < r->n_directories; i++) {
		const ReportDirectory *d = &r->directories[i];
		fputs("vgpu_run_directory_verdict{", f);
		label(f, "directory", d->name, true);
		label(f, "path", d->path, false);
		label(f, "verdict", d->verdict, false);
		label(f, "reason", d->reason, false);
		fputs("} 1\n", f);
	}
}

static void directory_loaded(FILE *f, const Report *r)
{
	for (size_t i = 0; i < r->n_directories; i++) {
		const ReportDirectory *d = &r->directories[i];
		fputs("vgpu_run_directory_loaded{", f);
		label(f, "directory", d->name, true);
		label(f, "path", d->path, false);
		fprintf(f, "} %d\n", d->verdict && !strcmp(d->verdict, "loaded"));
	}
}

static void outcome_stated(FILE *f, const Report *r)
{
	fprintf(f, "vgpu_run_outcome_stated %d\n", r->outcome_stated);
}

static void gpus(FILE *f, const Report *r)
{
	fprintf(f, "vgpu_run_gpus %llu\n", (unsigned long long)(r->outcome_stated ? report_gpus(r) : 0));
}

static void gpu_info(FILE *f, const Report *r)
{
	for (size_t i = 0; r->outcome_stated && i < r->n_devices; i++) {
		const ReportDevice *d = &r->devices[i];
		fputs("vgpu_run_gpu_info{", f);
		label(f, "ggml_name", d->name, true);
		label(f, "device", d->description, false);
		label(f, "library", d->library, false);
		label(f, "directory", d->directory, false);
		/* the one label two GPUs of the same model never share */
		label(f, "id", d->id, false);
		fputs("} 1\n", f);
	}
}

static void scanner_runs(FILE *f, const Report *r)
{
	fprintf(f, "vgpu_run_scanner_runs_total %llu\n", (unsigned long long)r->scanner_runs);
}

static void scanner_ends(FILE *f, const Report *r)
{
	fprintf(f, "vgpu_run_scanner_ends_total %llu\n", (unsigned long long)r->scanner_ends);
}

/* One series per (library, method, status) among the report's
 * injections. */
static void injections(FILE *f, const Report *r)
{
	for (size_t i = 0; i < r->n_injections; i++) {
		const ReportInjection *a = &r->injections[i];
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++) {
			const ReportInjection *b = &r->injections[k];
			seen = !strcmp(a->library ? a->library : "", b->library ? b->library : "") &&
			       !strcmp(a->method ? a->method : "", b->method ? b->method : "") &&
			       !strcmp(a->status ? a->status : "", b->status ? b->status : "");
		}
		if (seen)
			continue;
		unsigned long n = 0;
		for (size_t k = i; k < r->n_injections; k++) {
			const ReportInjection *b = &r->injections[k];
			n += !strcmp(a->library ? a->library : "", b->library ? b->library : "") &&
			     !strcmp(a->method ? a->method : "", b->method ? b->method : "") &&
			     !strcmp(a->status ? a->status : "", b->status ? b->status : "");
		}
		fputs("vgpu_run_injections_total{", f);
		label(f, "library", a->library, true);
		label(f, "method", a->method, false);
		label(f, "status", a->status, false);
		fprintf(f, "} %lu\n", n);
	}
}

static void stops(FILE *f, const Report *r)
{
	fprintf(f, "vgpu_run_ptrace_stops_total %llu\n", (unsigned long long)r->stops);
}

static void start_time(FILE *f, const Report *r)
{
	double t = unix_seconds(r->started_at);
	if (t >= 0)
		fprintf(f, "vgpu_run_start_time_seconds %.3f\n", t);
}

static void report_time(FILE *f, const Report *r)
{
	double t = unix_seconds(r->written_at);
	if (t >= 0)
		fprintf(f, "vgpu_run_report_time_seconds %.3f\n", t);
}

static void complete(FILE *f, const Report *r)
{
	fprintf(f, "vgpu_run_report_complete %d\n", r->complete);
}

static const struct {
	const char *name, *type, *help;
	void (*samples)(FILE *f, const Report *r);
} families[] = {
	{ "vgpu_run_build_info", "gauge", "vgpu-run's own version (label version); always 1.", build_info },
	{ "vgpu_run_scanner_info", "gauge",
	  "The policy (label policy) and the version of the server it diagnoses (label version, empty when "
	  "not established); always 1.", scanner_info },
	{ "vgpu_run_directory_verdict", "gauge",
	  "One series per library directory: why it was loaded or not (labels directory, path, verdict, "
	  "reason); always 1.", directory_verdict },
	{ "vgpu_run_directory_loaded", "gauge", "1 when the directory's verdict is loaded, else 0.",
	  directory_loaded },
	{ "vgpu_run_outcome_stated", "gauge", "1 when the server stated which devices it will use, else 0.",
	  outcome_stated },
	{ "vgpu_run_gpus", "gauge", "The GPUs the server said it will use (0: CPU only, or nothing stated).",
	  gpus },
	{ "vgpu_run_gpu_info", "gauge",
	  "One series per GPU the server said it will use (labels ggml_name, device, library, directory, id); "
	  "always 1.", gpu_info },
	{ "vgpu_run_scanner_runs_total", "counter", "Scanner processes started (execs the policy calls a scanner's).",
	  scanner_runs },
	{ "vgpu_run_scanner_ends_total", "counter", "Scanner processes that ended.", scanner_ends },
	{ "vgpu_run_injections_total", "counter",
	  "Shim injections listed in the report, by library, method and status (done, refused).", injections },
	{ "vgpu_run_ptrace_stops_total", "counter", "ptrace stops taken by vgpu-run.", stops },
	{ "vgpu_run_start_time_seconds", "gauge", "When the run started, in seconds since the epoch.", start_time },
	{ "vgpu_run_report_time_seconds", "gauge", "When this report was written, in seconds since the epoch.",
	  report_time },
	{ "vgpu_run_report_complete", "gauge",
	  "1 when the report covers the whole run (the command ended), 0 while it runs.", complete },
};

int report_metrics_render(const Report *r, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(families) / sizeof(*families); i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[i].name, families[i].help, families[i].name,
			families[i].type);
		families[i].samples(f, r);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
