/* The JSON report: the shape tables and the writer (see report-json.h,
 * report-json-shape.h and the contract, section 2); the reader is in
 * report-json-read.c. */
#include "report/report-json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "report/report-json-shape.h"

#define FIELD(k, kind_, T, m, fl) \
	{ .key = k, .kind = FIELD_##kind_, .flags = fl, .offset = offsetof(T, m) }
#define OBJECTS(k, T, m, n, s) \
	{ .key = k, .kind = FIELD_OBJECTS, .offset = offsetof(T, m), .count = offsetof(T, n), .shape = &s }
/* an array left out when empty (added after reports existed without it) */
#define OBJECTS_OPTIONAL(k, T, m, n, s)                                                          \
	{ .key = k, .kind = FIELD_OBJECTS, .flags = FIELD_OMIT_NULL, .offset = offsetof(T, m),   \
	  .count = offsetof(T, n), .shape = &s }
#define ENVIRONMENT(k, T, m, n, fl) \
	{ .key = k, .kind = FIELD_ENVIRONMENT, .flags = fl, .offset = offsetof(T, m), .count = offsetof(T, n) }
#define GROUP(k, s) { .key = k, .kind = FIELD_GROUP, .shape = &s }
/* a group left out when none of its (string) fields is set */
#define GROUP_OPTIONAL(k, s) { .key = k, .kind = FIELD_GROUP, .flags = FIELD_OMIT_NULL, .shape = &s }
#define CONSTANT(k, v) { .key = k, .kind = FIELD_CONSTANT, .value = v }
#define SHAPE(T, f) { .fields = f, .n_fields = ELEMENTSOF(f), .size = sizeof(T) }

static const Field library_fields[] = {
	FIELD("path", STRING, ReportLibrary, path, FIELD_REQUIRED),
	FIELD("backend", STRING, ReportLibrary, backend, 0),
	FIELD("outcome", STRING, ReportLibrary, outcome, 0),
	FIELD("missing", STRV, ReportLibrary, missing, 0),
	FIELD("searched", STRV, ReportLibrary, searched, 0),
	FIELD("unresolved", STRV, ReportLibrary, unresolved, FIELD_OMIT_NULL),
	FIELD("versions", STRV, ReportLibrary, versions, FIELD_OMIT_NULL),
};
static const Shape library_shape = SHAPE(ReportLibrary, library_fields);

static const Field run_fields[] = {
	FIELD("pid", PID, ReportRun, pid, FIELD_REQUIRED),
	FIELD("verdict", STRING, ReportRun, verdict, FIELD_REQUIRED),
	FIELD("reason", STRING, ReportRun, reason, FIELD_REQUIRED),
};
static const Shape run_shape = SHAPE(ReportRun, run_fields);

/* syscall events cite syscall/path/result, others event/text */
static const Field evidence_fields[] = {
	FIELD("seq", UINT, ReportEvidence, seq, FIELD_REQUIRED),
	FIELD("pid", PID, ReportEvidence, pid, 0),
	FIELD("syscall", STRING, ReportEvidence, syscall, FIELD_OMIT_NULL),
	FIELD("event", STRING, ReportEvidence, event, FIELD_OMIT_NULL),
	FIELD("path", STRING, ReportEvidence, path, FIELD_OMIT_NULL),
	FIELD("result", RESULT, ReportEvidence, result, 0),
	FIELD("text", STRING, ReportEvidence, text, FIELD_OMIT_NULL),
};
static const Shape evidence_shape = SHAPE(ReportEvidence, evidence_fields);

/* diff and check rely on name, path, verdict and reason */
static const Field directory_fields[] = {
	FIELD("name", STRING, ReportDirectory, name, FIELD_REQUIRED),
	FIELD("path", STRING, ReportDirectory, path, FIELD_REQUIRED),
	FIELD("realpath", STRING, ReportDirectory, realpath, FIELD_OMIT_NULL),
	FIELD("verdict", STRING, ReportDirectory, verdict, FIELD_REQUIRED),
	FIELD("reason", STRING, ReportDirectory, reason, FIELD_REQUIRED),
	FIELD("detail", STRING, ReportDirectory, detail, 0),
	FIELD("cause", STRING, ReportDirectory, cause, FIELD_OMIT_NULL),
	FIELD("next", STRING, ReportDirectory, next, FIELD_OMIT_NULL),
	OBJECTS("libraries", ReportDirectory, libraries, n_libraries, library_shape),
	OBJECTS("runs", ReportDirectory, runs, n_runs, run_shape),
	OBJECTS("evidence", ReportDirectory, evidence, n_evidence, evidence_shape),
	FIELD("runs_omitted", UINT, ReportDirectory, runs_omitted, FIELD_OMIT_NULL),
	FIELD("evidence_omitted", UINT, ReportDirectory, evidence_omitted, FIELD_OMIT_NULL),
};
static const Shape directory_shape = SHAPE(ReportDirectory, directory_fields);

static const Field driver_fields[] = {
	FIELD("library", STRING, ReportDriver, library, FIELD_REQUIRED),
	FIELD("path", STRING, ReportDriver, path, FIELD_REQUIRED),
	FIELD("kind", STRING, ReportDriver, kind, FIELD_OMIT_NULL),
};
static const Shape driver_shape = SHAPE(ReportDriver, driver_fields);

static const Field process_fields[] = {
	FIELD("pid", PID, ReportProcess, pid, FIELD_REQUIRED),
	FIELD("ppid", PID, ReportProcess, ppid, 0),
	FIELD("argv", STRV, ReportProcess, argv, 0),
	FIELD("role", STRING, ReportProcess, role, 0),
	FIELD("scans", STRV, ReportProcess, scans, 0),
	FIELD("wrapper", BOOL, ReportProcess, wrapper, FIELD_OMIT_NULL),
	FIELD("exit", EXIT, ReportProcess, exit, 0),
	ENVIRONMENT("environment", ReportProcess, environment, n_environment, FIELD_OMIT_NULL),
	OBJECTS_OPTIONAL("drivers", ReportProcess, drivers, n_drivers, driver_shape),
};
static const Shape process_shape = SHAPE(ReportProcess, process_fields);

static const Field injection_fields[] = {
	FIELD("pid", PID, ReportInjection, pid, 0),
	FIELD("method", STRING, ReportInjection, method, 0),
	FIELD("library", STRING, ReportInjection, library, 0),
	FIELD("shim", STRING, ReportInjection, shim, 0),
	FIELD("seq", UINT, ReportInjection, seq, 0),
	FIELD("status", STRING, ReportInjection, status, 0),
	FIELD("why", STRING, ReportInjection, why, 0),
	FIELD("path", STRING, ReportInjection, path, FIELD_OMIT_NULL),
	FIELD("real", STRING, ReportInjection, real, FIELD_OMIT_NULL),
};
static const Shape injection_shape = SHAPE(ReportInjection, injection_fields);

static const Field tool_fields[] = {
	CONSTANT("name", "vgpu-run"),
	FIELD("version", STRING, Report, tool_version, 0),
};
static const Shape tool_shape = SHAPE(Report, tool_fields);

static const Field policy_fields[] = {
	FIELD("name", STRING, Report, policy_name, 0),
	FIELD("path", STRING, Report, policy_path, 0),
};
static const Shape policy_shape = SHAPE(Report, policy_fields);

static const Field device_fields[] = {
	FIELD("name", STRING, ReportDevice, name, FIELD_OMIT_NULL),
	FIELD("description", STRING, ReportDevice, description, FIELD_OMIT_NULL),
	FIELD("library", STRING, ReportDevice, library, FIELD_OMIT_NULL),
	FIELD("directory", STRING, ReportDevice, directory, FIELD_OMIT_NULL),
	FIELD("total", STRING, ReportDevice, total, FIELD_OMIT_NULL),
	FIELD("available", STRING, ReportDevice, available, FIELD_OMIT_NULL),
	FIELD("compute", STRING, ReportDevice, compute, FIELD_OMIT_NULL),
	FIELD("driver", STRING, ReportDevice, driver, FIELD_OMIT_NULL),
	FIELD("id", STRING, ReportDevice, id, FIELD_OMIT_NULL),
	FIELD("type", STRING, ReportDevice, type, FIELD_OMIT_NULL),
	FIELD("seq", UINT, ReportDevice, seq, 0),
};
static const Shape device_shape = SHAPE(ReportDevice, device_fields);

static const Field outcome_fields[] = {
	FIELD("stated", BOOL, Report, outcome_stated, 0),
	FIELD("summary", STRING, Report, outcome_summary, FIELD_OMIT_NULL),
	OBJECTS("devices", Report, devices, n_devices, device_shape),
	FIELD("devices_omitted", UINT, Report, devices_omitted, FIELD_OMIT_NULL),
};
static const Shape outcome_shape = SHAPE(Report, outcome_fields);

static const Field host_fields[] = {
	FIELD("hostname", STRING, Report, hostname, FIELD_OMIT_NULL),
	FIELD("arch", STRING, Report, arch, FIELD_OMIT_NULL),
	FIELD("kernel", STRING, Report, kernel, FIELD_OMIT_NULL),
};
static const Shape host_shape = SHAPE(Report, host_fields);

static const Field root_fields[] = {
	FIELD("path", STRING, Report, root_path, FIELD_OMIT_NULL),
	FIELD("rule", STRING, Report, root_rule, FIELD_OMIT_NULL),
	FIELD("exe", STRING, Report, root_exe, FIELD_OMIT_NULL),
};
static const Shape root_shape = SHAPE(Report, root_fields);

static const Field install_fields[] = {
	FIELD("path", STRING, ReportInstall, path, FIELD_REQUIRED),
	FIELD("directories", STRV, ReportInstall, directories, 0),
};
static const Shape install_shape = SHAPE(ReportInstall, install_fields);

static const Field scanners_fields[] = {
	FIELD("runs", UINT, Report, scanner_runs, 0),
	FIELD("ended", UINT, Report, scanner_ends, 0),
};
static const Shape scanners_shape = SHAPE(Report, scanners_fields);

static const Field costs_fields[] = {
	FIELD("stops", UINT, Report, stops, 0),
	FIELD("backtraces", UINT, Report, backtraces, 0),
	FIELD("backtrace_ms", UINT, Report, backtrace_ms, 0),
	FIELD("rewrites", UINT, Report, rewrites, FIELD_OMIT_NULL),
	FIELD("rewrite_p50_us", UINT, Report, rewrite_p50_us, FIELD_OMIT_NULL),
	FIELD("rewrite_p99_us", UINT, Report, rewrite_p99_us, FIELD_OMIT_NULL),
};
static const Shape costs_shape = SHAPE(Report, costs_fields);

/* in the contract's order */
static const Field report_fields[] = {
	CONSTANT("schema", REPORT_SCHEMA),
	GROUP("tool", tool_shape),
	FIELD("command", STRV, Report, command, 0),
	GROUP("policy", policy_shape),
	FIELD("scanner_version", STRING, Report, scanner_version, 0),
	FIELD("exit", EXIT, Report, exit, 0),
	GROUP_OPTIONAL("outcome", outcome_shape),
	FIELD("complete", BOOL, Report, complete, 0),
	GROUP_OPTIONAL("host", host_shape),
	FIELD("started_at", STRING, Report, started_at, FIELD_OMIT_NULL),
	FIELD("written_at", STRING, Report, written_at, FIELD_OMIT_NULL),
	ENVIRONMENT("environment", Report, environment, n_environment, 0),
	GROUP_OPTIONAL("library_root", root_shape),
	OBJECTS_OPTIONAL("other_installs", Report, installs, n_installs, install_shape),
	OBJECTS("processes", Report, processes, n_processes, process_shape),
	FIELD("processes_omitted", UINT, Report, processes_omitted, FIELD_OMIT_NULL),
	GROUP("scanners", scanners_shape),
	OBJECTS("directories", Report, directories, n_directories, directory_shape),
	OBJECTS("injections", Report, injections, n_injections, injection_shape),
	FIELD("notes", STRV, Report, notes, 0),
	GROUP("costs", costs_shape),
};
const Shape report_json_shape = SHAPE(Report, report_fields);


/* ---- writing ---- */

static void write_strv(JsonWriter *w, char *const *v)
{
	json_array_begin(w);
	for (; v && *v; v++)
		json_string(w, *v);
	json_array_end(w);
}

/* Unknown (still running when the report was made) is null. */
static void write_exit(JsonWriter *w, const ReportExit *e)
{
	if (!e->known) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	if (e->signaled)
		json_kv_string(w, "signal", e->signal);
	else
		json_kv_int(w, "code", e->code);
	if (e->by)
		json_kv_string(w, "by", e->by);
	if (e->fatal_signal)
		json_kv_string(w, "fatal_signal", e->fatal_signal);
	json_object_end(w);
}

/* As in the trace: a string holding a canonical decimal integer (a
 * returned fd) goes back out as a number. */
static void write_result(JsonWriter *w, const char *s)
{
	char *end, canon[32];
	errno = 0;
	long long v = strtoll(s, &end, 10);
	snprintf(canon, sizeof(canon), "%lld", v);
	if (*s && !*end && errno == 0 && strcmp(canon, s) == 0)
		json_int(w, v);
	else
		json_string(w, s);
}

static void write_object(JsonWriter *w, const void *base, const Shape *shape);

/* An optional group is left out when none of its strings is set (a
 * report made before the group existed reads back, and goes out, without
 * it). */
static bool group_empty(const void *base, const Shape *shape)
{
	for (size_t i = 0; i < shape->n_fields; i++)
		if (shape->fields[i].kind == FIELD_STRING &&
		    *(char *const *)((const char *)base + shape->fields[i].offset))
			return false;
	return true;
}

static void write_field(JsonWriter *w, const void *base, const Field *f)
{
	const void *p = (const char *)base + f->offset;
	const char *s = f->kind == FIELD_STRING || f->kind == FIELD_RESULT ? *(char *const *)p : NULL;

	if (f->kind == FIELD_GROUP && (f->flags & FIELD_OMIT_NULL) && group_empty(base, f->shape))
		return;
	if (!s && ((f->kind == FIELD_STRING && (f->flags & FIELD_OMIT_NULL)) || f->kind == FIELD_RESULT))
		return;
	if ((f->flags & FIELD_OMIT_NULL) && f->kind == FIELD_STRV && !(*(char **const *)p && **(char **const *)p))
		return;
	if ((f->flags & FIELD_OMIT_NULL) && (f->kind == FIELD_OBJECTS || f->kind == FIELD_ENVIRONMENT) && !*(const size_t *)((const char *)base + f->count))
		return;
	if ((f->flags & FIELD_OMIT_NULL) && ((f->kind == FIELD_UINT && !*(const uint64_t *)p) ||
					     (f->kind == FIELD_BOOL && !*(const bool *)p)))
		return;
	json_key(w, f->key);
	switch (f->kind) {
	case FIELD_CONSTANT:
		json_string(w, f->value);
		break;
	case FIELD_STRING:
		json_string(w, s);
		break;
	case FIELD_RESULT:
		write_result(w, s);
		break;
	case FIELD_STRV:
		write_strv(w, *(char **const *)p);
		break;
	case FIELD_PID:
		json_int(w, *(const pid_t *)p);
		break;
	case FIELD_UINT:
		json_uint(w, *(const uint64_t *)p);
		break;
	case FIELD_BOOL:
		json_write_bool(w, *(const bool *)p);
		break;
	case FIELD_EXIT:
		write_exit(w, p);
		break;
	case FIELD_OBJECTS: {
		const char *a = *(const char *const *)p;
		size_t n = *(const size_t *)((const char *)base + f->count);
		json_array_begin(w);
		for (size_t i = 0; i < n; i++)
			write_object(w, a + i * f->shape->size, f->shape);
		json_array_end(w);
		break;
	}
	case FIELD_GROUP:
		write_object(w, base, f->shape);
		break;
	case FIELD_ENVIRONMENT: {
		const ReportEnvVar *env = *(const ReportEnvVar *const *)p;
		size_t n = *(const size_t *)((const char *)base + f->count);
		json_object_begin(w);
		for (size_t i = 0; i < n; i++)
			json_kv_string(w, env[i].name, env[i].value);
		json_object_end(w);
		break;
	}
	default:
		json_null(w);
		break;
	}
}

static void write_object(JsonWriter *w, const void *base, const Shape *shape)
{
	json_object_begin(w);
	for (size_t i = 0; i < shape->n_fields; i++)
		write_field(w, base, &shape->fields[i]);
	json_object_end(w);
}

int report_json_write(const Report *r, JsonWriter *w)
{
	write_object(w, r, &report_json_shape);
	return w->failed ? -ENOMEM : 0;
}

