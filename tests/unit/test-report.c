/* Unit tests: the report model, its JSON form (written, read back,
 * refused) and its text form (against a golden file); vgpu-report diff
 * and check are test-compare.c's.  SOURCE_ROOT names the source tree
 * (default "."), for tests/data/reports. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pty.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "report/report-compare.h"
#include "report/report-json.h"
#include "report/report-out.h"
#include "report/report-text.h"

#include "report-build.h"
#include "../check-run.h"

/* ---- building reports by hand ---- */

static ReportExit code_exit(int code)
{
	return (ReportExit){ .known = true, .code = code };
}

static ReportExit signal_exit(const char *sig, const char *by)
{
	return (ReportExit){ .known = true, .signaled = true, .signal = S(sig), .by = S(by) };
}

static ReportEvidence syscall_evidence(uint64_t seq, pid_t pid, const char *sc, const char *path,
				       const char *result)
{
	return (ReportEvidence){ .seq = seq, .pid = pid, .syscall = S(sc), .path = S(path),
				 .result = S(result) };
}

static ReportEvidence event_evidence(uint64_t seq, pid_t pid, const char *event, const char *text)
{
	return (ReportEvidence){ .seq = seq, .pid = pid, .event = S(event), .text = S(text) };
}

#define ROOT "/usr/local/lib/ollama"

/* An Ollama install with CUDA 12 libraries but no driver: what a person
 * runs vgpu-run to find out.  With INJECTION, a refused shim too. */
static void sample_report(Report *r, bool injection)
{
	memset(r, 0, sizeof(*r));
	r->tool_version = S("0.1.0");
	r->command = V("ollama", "serve", NULL);
	r->policy_name = S("ollama");
	r->policy_path = S("/usr/local/share/vgpu-run/policies/ollama.policy");
	r->scanner_version = S("0.16.3");
	r->exit = code_exit(0);
	r->environment = calloc(1, sizeof(ReportEnvVar));
	r->environment[0] = (ReportEnvVar){ S("OLLAMA_LLM_LIBRARY"), S("cuda_v12") };
	r->n_environment = 1;

	r->processes = calloc(4, sizeof(ReportProcess));
	r->n_processes = 4;
	r->processes[0] = (ReportProcess){ .pid = 4200, .ppid = 4100, .argv = V("ollama", "serve", NULL),
					   .role = S("server"), .scans = V(NULL), .exit = code_exit(0) };
	r->processes[1] = (ReportProcess){
		.pid = 4242, .ppid = 4200,
		.argv = V("/usr/local/bin/ollama", "runner", "--ollama-engine", "--port", "41234", NULL),
		.role = S("scanner"), .scans = V(ROOT, ROOT "/cuda_v12", NULL),
		.exit = signal_exit("SIGKILL", "parent") };
	r->processes[2] = (ReportProcess){
		.pid = 4250, .ppid = 4200,
		.argv = V("/usr/local/bin/ollama", "runner", "--ollama-engine", "--port", "41235", NULL),
		.role = S("scanner"), .scans = V(ROOT, ROOT "/cuda_v12", NULL),
		.exit = signal_exit("SIGKILL", "parent") };
	r->processes[3] = (ReportProcess){ .pid = 4300, .ppid = 4200, .argv = V("sh", "-c", "echo 'hi there'", "$HOME", NULL),
					   .role = S("other"), .scans = V(NULL), .exit = code_exit(2) };
	r->processes[3].exit.fatal_signal = S("SIGSEGV");
	r->processes[3].exit.by = S("self");

	r->directories = calloc(4, sizeof(ReportDirectory));
	r->n_directories = 4;
	ReportDirectory *d = &r->directories[0];
	*d = dir(".", ROOT, "loaded", "loaded", NULL);
	d->libraries = calloc(1, sizeof(ReportLibrary));
	d->libraries[0] = (ReportLibrary){ S(ROOT "/libggml-cpu-haswell.so"), S("cpu"), S("loaded"),
					   V(NULL), V(NULL) };
	d->n_libraries = 1;
	d->runs = calloc(1, sizeof(ReportRun));
	d->runs[0] = (ReportRun){ 4242, S("loaded"), S("loaded") };
	d->n_runs = 1;
	d->evidence = calloc(1, sizeof(ReportEvidence));
	d->evidence[0] = syscall_evidence(1790, 4242, "openat", ROOT "/libggml-cpu-haswell.so", "3");
	d->n_evidence = 1;

	d = &r->directories[1];
	*d = dir("cuda_v12", ROOT "/cuda_v12", "failed", "missing-dependency",
		 "libggml-cuda.so needs libcuda.so.1, found nowhere: 1. LD_LIBRARY_PATH "
		 "/usr/local/lib/ollama, /usr/local/lib/ollama/cuda_v12; 2. ld.so.cache: no entry; "
		 "3. default directories /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu");
	d->libraries = calloc(2, sizeof(ReportLibrary));
	d->libraries[0] = (ReportLibrary){
		S(ROOT "/cuda_v12/libggml-cuda.so"), S("cuda"), S("failed"), V("libcuda.so.1", NULL),
		V(ROOT "/libcuda.so.1", ROOT "/cuda_v12/libcuda.so.1", "/lib/x86_64-linux-gnu/libcuda.so.1",
		  "/usr/lib/x86_64-linux-gnu/libcuda.so.1", NULL) };
	d->libraries[1] = (ReportLibrary){ S(ROOT "/cuda_v12/libggml-cpu-haswell.so"), S("cpu"),
					   S("not-tried"), V(NULL), V(NULL) };
	d->n_libraries = 2;
	d->runs = calloc(2, sizeof(ReportRun));
	d->runs[0] = (ReportRun){ 4242, S("failed"), S("missing-dependency") };
	d->runs[1] = (ReportRun){ 4250, S("failed"), S("missing-dependency") };
	d->n_runs = 2;
	d->evidence = calloc(2, sizeof(ReportEvidence));
	d->evidence[0] = syscall_evidence(1812, 4242, "openat", ROOT "/cuda_v12/libcuda.so.1", "ENOENT");
	d->evidence[1] = event_evidence(1830, 4242, "output",
					"ggml_backend_load_best: failed to load libggml-cuda.so\n");
	d->n_evidence = 2;

	r->directories[2] = dir("rocm", ROOT "/rocm", "absent", "no-such-directory", NULL);

	d = &r->directories[3];
	*d = dir("vulkan", ROOT "/vulkan", "skipped", "filtered-by-env", "OLLAMA_VULKAN unset");
	d->realpath = S("/opt/vulkan/lib");
	d->evidence = calloc(1, sizeof(ReportEvidence));
	d->evidence[0] = event_evidence(1, 4200, "exec", NULL);
	d->evidence[0].path = S("/usr/local/bin/ollama");
	d->n_evidence = 1;

	if (injection) {
		r->injections = calloc(1, sizeof(ReportInjection));
		r->injections[0] = (ReportInjection){ 4242, S("redirect"), S("libcuda.so.1"),
						      S("/opt/vgpu/libcuda.so.1"), 1805, S("refused"),
						      S("shim is 32-bit") };
		r->n_injections = 1;
		r->notes = V(NULL);
	} else
		r->notes = V("no shim configured: nothing injected", NULL);
	r->stops = 5321;
	r->backtraces = 2;
	r->backtrace_ms = 17;
}

/* ---- comparing reports field by field ---- */

static void eq_str(const char *a, const char *b)
{
	if (!a || !b)
		ck_assert_ptr_eq(a, b);
	else
		ck_assert_str_eq(a, b);
}

/* A vector read back is never NULL; one built by hand may be. */
static void eq_strv(char **a, char **b)
{
	size_t i = 0;
	for (; a && a[i] && b && b[i]; i++)
		ck_assert_str_eq(a[i], b[i]);
	ck_assert(!a || !a[i]);
	ck_assert(!b || !b[i]);
}

static void eq_exit(const ReportExit *a, const ReportExit *b)
{
	ck_assert_int_eq(a->known, b->known);
	ck_assert_int_eq(a->signaled, b->signaled);
	ck_assert_int_eq(a->code, b->code);
	eq_str(a->signal, b->signal);
	eq_str(a->by, b->by);
	eq_str(a->fatal_signal, b->fatal_signal);
}

static void eq_directory(const ReportDirectory *a, const ReportDirectory *b)
{
	eq_str(a->name, b->name);
	eq_str(a->path, b->path);
	eq_str(a->realpath, b->realpath);
	eq_str(a->verdict, b->verdict);
	eq_str(a->reason, b->reason);
	eq_str(a->detail, b->detail);
	ck_assert_uint_eq(a->n_libraries, b->n_libraries);
	for (size_t i = 0; i < a->n_libraries; i++) {
		eq_str(a->libraries[i].path, b->libraries[i].path);
		eq_str(a->libraries[i].backend, b->libraries[i].backend);
		eq_str(a->libraries[i].outcome, b->libraries[i].outcome);
		eq_strv(a->libraries[i].missing, b->libraries[i].missing);
		eq_strv(a->libraries[i].searched, b->libraries[i].searched);
	}
	ck_assert_uint_eq(a->n_runs, b->n_runs);
	for (size_t i = 0; i < a->n_runs; i++) {
		ck_assert_int_eq(a->runs[i].pid, b->runs[i].pid);
		eq_str(a->runs[i].verdict, b->runs[i].verdict);
		eq_str(a->runs[i].reason, b->runs[i].reason);
	}
	ck_assert_uint_eq(a->n_evidence, b->n_evidence);
	for (size_t i = 0; i < a->n_evidence; i++) {
		const ReportEvidence *x = &a->evidence[i], *y = &b->evidence[i];
		ck_assert_uint_eq(x->seq, y->seq);
		ck_assert_int_eq(x->pid, y->pid);
		eq_str(x->syscall, y->syscall);
		eq_str(x->event, y->event);
		eq_str(x->path, y->path);
		eq_str(x->result, y->result);
		eq_str(x->text, y->text);
	}
}

static void eq_report(const Report *a, const Report *b)
{
	eq_str(a->tool_version, b->tool_version);
	eq_strv(a->command, b->command);
	eq_str(a->policy_name, b->policy_name);
	eq_str(a->policy_path, b->policy_path);
	eq_str(a->scanner_version, b->scanner_version);
	eq_exit(&a->exit, &b->exit);
	ck_assert_uint_eq(a->n_environment, b->n_environment);
	for (size_t i = 0; i < a->n_environment; i++) {
		eq_str(a->environment[i].name, b->environment[i].name);
		eq_str(a->environment[i].value, b->environment[i].value);
	}
	ck_assert_uint_eq(a->n_processes, b->n_processes);
	for (size_t i = 0; i < a->n_processes; i++) {
		const ReportProcess *x = &a->processes[i], *y = &b->processes[i];
		ck_assert_int_eq(x->pid, y->pid);
		ck_assert_int_eq(x->ppid, y->ppid);
		eq_strv(x->argv, y->argv);
		eq_str(x->role, y->role);
		eq_strv(x->scans, y->scans);
		eq_exit(&x->exit, &y->exit);
	}
	ck_assert_uint_eq(a->n_directories, b->n_directories);
	for (size_t i = 0; i < a->n_directories; i++)
		eq_directory(&a->directories[i], &b->directories[i]);
	ck_assert_uint_eq(a->n_injections, b->n_injections);
	for (size_t i = 0; i < a->n_injections; i++) {
		const ReportInjection *x = &a->injections[i], *y = &b->injections[i];
		ck_assert_int_eq(x->pid, y->pid);
		eq_str(x->method, y->method);
		eq_str(x->library, y->library);
		eq_str(x->shim, y->shim);
		ck_assert_uint_eq(x->seq, y->seq);
		eq_str(x->status, y->status);
		eq_str(x->why, y->why);
	}
	eq_strv(a->notes, b->notes);
	ck_assert_uint_eq(a->stops, b->stops);
	ck_assert_uint_eq(a->backtraces, b->backtraces);
	ck_assert_uint_eq(a->backtrace_ms, b->backtrace_ms);
}

/* ---- helpers ---- */

static char *data_path(const char *name)
{
	const char *root = getenv("SOURCE_ROOT");
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/tests/data/reports/%s", root ? root : ".", name), 0);
	return p;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* ---- report_done ---- */

START_TEST(test_report_done_zeroed_and_twice)
{
	Report r = {};
	report_done(&r);
	sample_report(&r, true);
	report_done(&r);
	ck_assert_ptr_null(r.directories);
	ck_assert_uint_eq(r.n_directories, 0);
	report_done(&r);
	report_done(NULL);
	ck_assert_ptr_null(r.command);
}
END_TEST

/* ---- JSON ---- */

START_TEST(test_report_json_round_trip)
{
	Report a, b;
	char err[256] = "";
	sample_report(&a, _i == 1);
	char *json = to_json(&a);
	ck_assert_int_eq(read_str(json, &b, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	eq_report(&a, &b);
	char *again = to_json(&b);
	ck_assert_str_eq(again, json);
	free(again);
	free(json);
	report_done(&a);
	report_done(&b);
}
END_TEST

/* One directory, one process: every member of the schema, in order. */
static const char small_json[] =
	"{\"schema\":\"vgpu-run/report/1\","
	"\"tool\":{\"name\":\"vgpu-run\",\"version\":\"0.1.0\"},"
	"\"command\":[\"ollama\",\"serve\"],"
	"\"policy\":{\"name\":\"ollama\",\"path\":null},"
	"\"scanner_version\":null,"
	"\"exit\":{\"signal\":\"SIGTERM\"},"
	"\"complete\":false,"
	"\"environment\":{\"OLLAMA_VULKAN\":\"1\"},"
	"\"processes\":[{\"pid\":7,\"ppid\":1,\"argv\":[\"ollama\",\"serve\"],\"role\":\"server\","
	"\"scans\":[],\"exit\":{\"code\":2,\"by\":\"self\",\"fatal_signal\":\"SIGSEGV\"}}],"
	"\"scanners\":{\"runs\":0,\"ended\":0},"
	"\"directories\":[{\"name\":\"rocm\",\"path\":\"/opt/o/rocm\",\"realpath\":\"/opt/rocm\","
	"\"verdict\":\"failed\",\"reason\":\"bad-library\",\"detail\":\"wrong \\\"machine\\\"\","
	"\"libraries\":[{\"path\":\"/opt/o/rocm/libggml-hip.so\",\"backend\":\"rocm\","
	"\"outcome\":\"failed\",\"missing\":[],\"searched\":[]}],"
	"\"runs\":[{\"pid\":7,\"verdict\":\"failed\",\"reason\":\"bad-library\"}],"
	"\"evidence\":[{\"seq\":12,\"pid\":7,\"syscall\":\"openat\",\"path\":\"/opt/o/rocm/libggml-hip.so\","
	"\"result\":3},{\"seq\":13,\"pid\":7,\"event\":\"output\",\"text\":\"bad ELF\\n\"}]}],"
	"\"injections\":[{\"pid\":7,\"method\":\"preload\",\"library\":\"libcuda.so.1\","
	"\"shim\":\"/s.so\",\"seq\":11,\"status\":\"done\",\"why\":null}],"
	"\"notes\":[],"
	"\"costs\":{\"stops\":40,\"backtraces\":0,\"backtrace_ms\":0}}";

START_TEST(test_report_json_golden_small)
{
	Report r = {
		.tool_version = S("0.1.0"), .command = V("ollama", "serve", NULL),
		.policy_name = S("ollama"),
		.exit = { .known = true, .signaled = true, .signal = S("SIGTERM") },
	};
	ReportEnvVar env = { S("OLLAMA_VULKAN"), S("1") };
	ReportProcess p = { .pid = 7, .ppid = 1, .argv = V("ollama", "serve", NULL), .role = S("server"),
			    .exit = code_exit(2) };
	p.exit.by = S("self");
	p.exit.fatal_signal = S("SIGSEGV");
	ReportDirectory d = dir("rocm", "/opt/o/rocm", "failed", "bad-library", "wrong \"machine\"");
	d.realpath = S("/opt/rocm");
	ReportLibrary l = { S("/opt/o/rocm/libggml-hip.so"), S("rocm"), S("failed"), NULL, NULL };
	ReportRun run = { 7, S("failed"), S("bad-library") };
	ReportEvidence ev[] = { syscall_evidence(12, 7, "openat", "/opt/o/rocm/libggml-hip.so", "3"),
				event_evidence(13, 7, "output", "bad ELF\n") };
	ReportInjection in = { 7, S("preload"), S("libcuda.so.1"), S("/s.so"), 11, S("done"), NULL };
	d.libraries = &l, d.n_libraries = 1;
	d.runs = &run, d.n_runs = 1;
	d.evidence = ev, d.n_evidence = 2;
	r.environment = &env, r.n_environment = 1;
	r.processes = &p, r.n_processes = 1;
	r.directories = &d, r.n_directories = 1;
	r.injections = &in, r.n_injections = 1;
	r.stops = 40;

	char *json = to_json(&r);
	ck_assert_str_eq(json, small_json);
	free(json);

	Report back;
	char err[128];
	ck_assert_int_eq(read_str(small_json, &back, err, sizeof(err)), 0);
	eq_report(&r, &back);
	report_done(&back);
	/* the arrays above live on the stack: give them back before freeing */
	r.environment = NULL, r.n_environment = 0;
	r.processes = NULL, r.n_processes = 0;
	r.directories = NULL, r.n_directories = 0;
	r.injections = NULL, r.n_injections = 0;
	free(env.name), free(env.value);
	free(p.argv[0]), free(p.argv[1]), free(p.argv), free(p.role);
	free(p.exit.by), free(p.exit.fatal_signal);
	free(d.name), free(d.path), free(d.realpath), free(d.verdict), free(d.reason), free(d.detail);
	free(l.path), free(l.backend), free(l.outcome);
	free(run.verdict), free(run.reason);
	for (size_t i = 0; i < 2; i++)
		free(ev[i].syscall), free(ev[i].event), free(ev[i].path), free(ev[i].result), free(ev[i].text);
	free(in.method), free(in.library), free(in.shim), free(in.status);
	report_done(&r);
}
END_TEST

static const struct {
	const char *text;
	int ret;
	const char *err;
} read_cases[] = {
	/* schema versions */
	{ "{\"schema\":\"vgpu-run/report/1\"}", 0, "" },
	{ "{\"schema\":\"vgpu-run/report/1.4\"}", 0, "" },
	{ "{\"schema\":\"vgpu-run/report/2\"}", -EPROTO, "unknown schema 'vgpu-run/report/2'" },
	{ "{\"schema\":\"vgpu-run/report/10\"}", -EPROTO, "unknown schema 'vgpu-run/report/10'" },
	{ "{\"schema\":\"vgpu-run/report/1.\"}", -EPROTO, "unknown schema 'vgpu-run/report/1.'" },
	{ "{\"schema\":\"vgpu-run/report/2.0\",\"directories\":7}", -EPROTO,
	  "unknown schema 'vgpu-run/report/2.0'" },
	{ "{\"schema\":\"other/1\\n\"}", -EPROTO, "unknown schema 'other/1?'" },
	{ "{\"schema\":\"vgpu-run/trace/1\",\"seq\":1,\"event\":\"header\"}\n{\"seq\":2}\n", -EMEDIUMTYPE,
	  "a trace (schema 'vgpu-run/trace/1'), not a report" },
	{ "{\"directories\":[]}", -EBADMSG, "malformed report: schema is missing" },
	{ "{\"schema\":1}", -EBADMSG, "malformed report: schema is not a string" },
	/* not JSON */
	{ "", -EBADMSG, "malformed JSON at line 1, column 1: unexpected end of data" },
	{ "{\"schema\":\"vgpu-run/report/1\",", -EBADMSG,
	  "malformed JSON at line 1, column 31: unexpected end of data" },
	{ "{\"schema\":\n  \"vgpu-run/report/1\",]}", -EBADMSG,
	  "malformed JSON at line 2, column 23: quoted object property name expected" },
	{ "{\"schema\":\"vgpu-run/report/1\",}", -EBADMSG,
	  "malformed JSON at line 1, column 31: unexpected character" },
	{ "{\"schema\":\"vgpu-run/report/1\"}\n{}", -EBADMSG,
	  "malformed JSON at line 2, column 1: data after the report" },
	{ "{\"a\":\"\xff\"}", -EBADMSG, "malformed JSON at line 1, column 7: invalid utf-8 string" },
	{ "[1,2]", -EBADMSG, "malformed report: not a JSON object" },
	/* JSON that json-c takes and the contract does not */
	{ "{\"schema\":\"vgpu-run/report/1\",\n\"schema\":\"vgpu-run/report/1\"}", -EBADMSG,
	  "malformed JSON at line 2, column 1: duplicate key" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"costs\":{\"a\":1,\"b\":{\"c\":[1,{\"d\":2,\"d\":3}]}}}", -EBADMSG,
	  "malformed JSON at line 1, column 65: duplicate key" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":1,\"\\u0078\":2}", -EBADMSG,
	  "malformed JSON at line 1, column 1: duplicate key" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"costs\":{\"stops\":NaN}}", -EBADMSG,
	  "malformed JSON at line 1, column 48: non-finite number" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"costs\":{\"stops\":-Infinity}}", -EBADMSG,
	  "malformed JSON at line 1, column 48: non-finite number" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":[1e999]}", -EBADMSG,
	  "malformed JSON at line 1, column 36: non-finite number" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":18446744073709551616}", -EBADMSG,
	  "malformed JSON at line 1, column 35: integer out of range" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":-9223372036854775809}", -EBADMSG,
	  "malformed JSON at line 1, column 35: integer out of range" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":[18446744073709551615,-9223372036854775808]}", 0, "" },
	{ "{\"schema\":\"vgpu-run/report/1\",'x':1}", -EBADMSG,
	  "malformed JSON at line 1, column 31: a string in single quotes" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":[1e300,-0.5,true,null,\"NaN\"]}", 0, "" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":1.}", -EBADMSG,
	  "malformed JSON at line 1, column 35: number not in JSON form" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":-012}", -EBADMSG,
	  "malformed JSON at line 1, column 35: number not in JSON form" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":[0,00]}", -EBADMSG,
	  "malformed JSON at line 1, column 38: number not in JSON form" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":1e}", -EBADMSG,
	  "malformed JSON at line 1, column 37: number expected" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":\"a\tb\"}", -EBADMSG,
	  "malformed JSON at line 1, column 37: control character in a string" },
	/* overlong '/', a CESU-8 surrogate, above U+10FFFF, a cut sequence */
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":\"\xc0\xaf\"}", -EBADMSG,
	  "malformed JSON at line 1, column 36: malformed UTF-8" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":\"\xed\xa0\x80\"}", -EBADMSG,
	  "malformed JSON at line 1, column 36: malformed UTF-8" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":\"\xf4\x90\x80\x80\"}", -EBADMSG,
	  "malformed JSON at line 1, column 36: malformed UTF-8" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":\"\xe2\x82\"}", -EBADMSG,
	  "malformed JSON at line 1, column 38: invalid utf-8 string" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"x\":[0,-0,0.5e+3,1E-2,\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbe\x80\\t\"]}",
	  0, "" },
	/* JSON, but not a report */
	{ "{\"schema\":\"vgpu-run/report/1\",\"directories\":{}}", -EBADMSG,
	  "malformed report: directories is not an array" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"directories\":[7]}", -EBADMSG,
	  "malformed report: directories[0] is not an object" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"directories\":[{\"name\":\"a\",\"path\":\"/a\",\"reason\":\"x\"}]}",
	  -EBADMSG, "malformed report: directories[0].verdict is missing" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"directories\":[{\"name\":\"a\",\"path\":\"/a\",\"verdict\":\"failed\","
	  "\"reason\":\"x\",\"libraries\":[{\"path\":\"/a/l.so\",\"searched\":[\"/x\",false]}]}]}",
	  -EBADMSG, "malformed report: directories[0].libraries[0].searched[1] is not a string" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"processes\":[{\"pid\":-4}]}", -EBADMSG,
	  "malformed report: processes[0].pid is out of range" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"processes\":[{\"pid\":4,\"exit\":{\"code\":1.5}}]}", -EBADMSG,
	  "malformed report: processes[0].exit.code is not an integer" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"exit\":{}}", -EBADMSG,
	  "malformed report: exit has neither code nor signal" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"costs\":{\"stops\":\"many\"}}", -EBADMSG,
	  "malformed report: costs.stops is not an integer" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"environment\":{\"A\":1}}", -EBADMSG,
	  "malformed report: environment.A is not a string" },
	{ "{\"schema\":\"vgpu-run/report/1\",\"tool\":\"vgpu-run\"}", -EBADMSG,
	  "malformed report: tool is not an object" },
};

START_TEST(test_report_json_read_table)
{
	Report r;
	char err[256] = "";
	int k = read_str(read_cases[_i].text, &r, err, sizeof(err));
	ck_assert_int_eq(k, read_cases[_i].ret);
	ck_assert_str_eq(err, read_cases[_i].err);
	if (k == 0)
		report_done(&r);
}
END_TEST

START_TEST(test_report_json_read_ignores_unknown_fields)
{
	static const char text[] =
		"{\"schema\":\"vgpu-run/report/1.3\",\"future\":{\"x\":[1,2]},"
		"\"tool\":{\"name\":\"vgpu-run\",\"version\":\"0.2.0\",\"build\":\"abc\"},"
		"\"exit\":{\"code\":3,\"core_dumped\":false},"
		"\"directories\":[{\"name\":\"cuda_v13\",\"path\":\"/o/cuda_v13\",\"verdict\":\"loaded\","
		"\"reason\":\"loaded\",\"score\":9,\"libraries\":[{\"path\":\"/o/cuda_v13/libggml-cuda.so\","
		"\"arch\":\"sm_90\"}],\"evidence\":[{\"seq\":5,\"pid\":2,\"syscall\":\"openat\","
		"\"path\":\"/o/cuda_v13/libggml-cuda.so\",\"result\":4,\"flags\":\"O_RDONLY|O_CLOEXEC\"}]}],"
		"\"costs\":{\"stops\":9,\"wall_ms\":100}}";
	Report r;
	char err[128] = "";
	ck_assert_int_eq(read_str(text, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(r.tool_version, "0.2.0");
	ck_assert_int_eq(r.exit.known, true);
	ck_assert_int_eq(r.exit.code, 3);
	ck_assert_uint_eq(r.n_directories, 1);
	ck_assert_str_eq(r.directories[0].name, "cuda_v13");
	ck_assert_str_eq(r.directories[0].libraries[0].path, "/o/cuda_v13/libggml-cuda.so");
	ck_assert_ptr_null(r.directories[0].libraries[0].backend);
	ck_assert_ptr_null(r.directories[0].libraries[0].missing[0]);
	ck_assert_str_eq(r.directories[0].evidence[0].result, "4");
	ck_assert_ptr_null(r.scanner_version);
	ck_assert_ptr_null(r.command[0]);
	ck_assert_uint_eq(r.stops, 9);
	report_done(&r);
}
END_TEST

/* The contract's own example, verbatim, and a file that is missing. */
START_TEST(test_report_json_read_file)
{
	_cleanup_free_ char *path = data_path("contract-example.json");
	Report r;
	char err[512] = "";
	ck_assert_int_eq(report_json_read(path, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.policy_name, "ollama");
	ck_assert_str_eq(r.scanner_version, "0.16.3");
	ck_assert_str_eq(r.processes[0].exit.signal, "SIGKILL");
	ck_assert_str_eq(r.processes[0].exit.by, "parent");
	ck_assert_str_eq(r.directories[0].reason, "missing-dependency");
	ck_assert_str_eq(r.directories[0].libraries[0].missing[0], "libcuda.so.1");
	ck_assert_str_eq(r.directories[0].evidence[0].result, "ENOENT");
	ck_assert_str_eq(r.notes[0], "no shim configured: nothing injected");
	ck_assert_uint_eq(r.stops, 5321);
	report_done(&r);

	ck_assert_int_eq(report_json_read("/nonexistent/r.json", &r, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "/nonexistent/r.json: No such file or directory");
	_cleanup_free_ char *bad = data_path("unknown-schema.json");
	_cleanup_free_ char *want = NULL;
	ck_assert_int_eq(report_json_read(bad, &r, err, sizeof(err)), -EPROTO);
	ck_assert_int_ge(asprintf(&want, "%s: unknown schema 'vgpu-run/report/2'", bad), 0);
	ck_assert_str_eq(err, want);
}
END_TEST

/* ---- text ---- */

static char *render(const Report *r, bool color)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(report_text_write(r, f, color), 0);
	fclose(f);
	return buf;
}

START_TEST(test_report_text_golden)
{
	Report r;
	sample_report(&r, false);
	_cleanup_free_ char *path = data_path("sample.txt");
	_cleanup_free_ char *want = slurp(path);
	_cleanup_free_ char *got = render(&r, false);
	ck_assert_str_eq(got, want);
	report_done(&r);

	/* vgpu-report show of the JSON form says the same */
	_cleanup_free_ char *json = data_path("sample.json");
	char err[256] = "";
	ck_assert_int_eq(report_json_read(json, &r, err, sizeof(err)), 0);
	_cleanup_free_ char *again = render(&r, false);
	ck_assert_str_eq(again, want);
	report_done(&r);
}
END_TEST

START_TEST(test_report_text_injection_and_color)
{
	Report r;
	sample_report(&r, true);
	_cleanup_free_ char *got = render(&r, true);
	ck_assert_ptr_nonnull(strstr(got, "\n  .         \033[32mloaded\033[0m\n"
					  "  cuda_v12  \033[31mfailed\033[0m:missing-dependency\n"
					  "  rocm      absent:no-such-directory\n"
					  "  vulkan    \033[33mskipped\033[0m:filtered-by-env\n"));
	ck_assert_ptr_nonnull(strstr(got, "\nInjections:\n"
					  "  #1805 [pid 4242] redirect libcuda.so.1 -> /opt/vgpu/libcuda.so.1: "
					  "refused, shim is 32-bit\n"));
	ck_assert_ptr_null(strstr(got, "Notes:"));
	report_done(&r);

	/* whatever a program printed cannot reach the terminal raw */
	Report e = { .exit = code_exit(0) };
	ReportDirectory d = dir("x\033[2J", "/x", "failed", "init-failed", "bell\a");
	e.directories = &d, e.n_directories = 1;
	_cleanup_free_ char *esc = render(&e, false);
	ck_assert_str_eq(esc,
			 "(no command line) (policy unknown, scanner version unknown): exited with code 0\n"
			 "  x\\x1b[2J  failed:init-failed\n"
			 "\nx\\x1b[2J (/x): failed:init-failed\n  bell\\x07\n"
			 "\nInjections: none\n"
			 "\nCosts: 0 ptrace stops, 0 backtraces (0 ms)\n");
	free(d.name), free(d.path), free(d.verdict), free(d.reason), free(d.detail);
}
END_TEST


/* ---- colour ---- */

START_TEST(test_report_color_when)
{
	ReportColor c;
	ck_assert_int_eq(report_color_parse("auto", &c), 0);
	ck_assert_int_eq(c, REPORT_COLOR_AUTO);
	ck_assert_int_eq(report_color_parse(NULL, &c), 0);
	ck_assert_int_eq(c, REPORT_COLOR_ALWAYS);
	ck_assert_int_eq(report_color_parse("never", &c), 0);
	ck_assert_int_eq(c, REPORT_COLOR_NEVER);
	ck_assert_int_eq(report_color_parse("Always", &c), -EINVAL);

	/* a pipe is no terminal; a pseudo-terminal is, unless NO_COLOR or
	 * TERM=dumb says otherwise */
	int p[2], master, slave;
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	unsetenv("NO_COLOR");
	setenv("TERM", "xterm", 1);
	ck_assert(!report_color_use(REPORT_COLOR_AUTO, p[1]));
	ck_assert(report_color_use(REPORT_COLOR_ALWAYS, p[1]));
	ck_assert(report_color_use(REPORT_COLOR_AUTO, slave));
	ck_assert(!report_color_use(REPORT_COLOR_NEVER, slave));
	setenv("NO_COLOR", "1", 1);
	ck_assert(!report_color_use(REPORT_COLOR_AUTO, slave));
	ck_assert(report_color_use(REPORT_COLOR_ALWAYS, slave));
	setenv("NO_COLOR", "", 1);	/* set but empty: no effect */
	ck_assert(report_color_use(REPORT_COLOR_AUTO, slave));
	unsetenv("NO_COLOR");
	setenv("TERM", "dumb", 1);
	ck_assert(!report_color_use(REPORT_COLOR_AUTO, slave));
	close(p[0]), close(p[1]), close(master), close(slave);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	tcase_add_test(tc, test_report_done_zeroed_and_twice);
	tcase_add_loop_test(tc, test_report_json_round_trip, 0, 2);
	tcase_add_test(tc, test_report_json_golden_small);
	tcase_add_loop_test(tc, test_report_json_read_table, 0, ELEMENTSOF(read_cases));
	tcase_add_test(tc, test_report_json_read_ignores_unknown_fields);
	tcase_add_test(tc, test_report_json_read_file);
	tcase_add_test(tc, test_report_text_golden);
	tcase_add_test(tc, test_report_text_injection_and_color);
	tcase_add_test(tc, test_report_color_when);
	suite_add_tcase(s, tc);
	return check_run(s);
}
