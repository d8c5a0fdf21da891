/* vgpu-run as the wrapper of a long-running server: the report of a
 * server with thousands of runner probes stays bounded and current while
 * it runs; the server is found through wrappers (sh -c, scripts, env,
 * nohup, timeout) with the verdicts of a direct run; a trace cut by
 * kill -9 is read back as incomplete. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../check-run.h"

/* An install of bench/longrun-server as ROOT/bin/ollama, with a cuda_v13
 * backend (a real ELF shared object) and a CPU one at the root. */
static void longrun_install(const char *root)
{
	sh("rm -rf '%1$s' && mkdir -p '%1$s/bin' '%1$s/lib/ollama/cuda_v13'", root);
	sh("cp '%s' '%s/bin/ollama'", env_path("LONGRUN_SERVER"), root);
	sh("cp \"$(ldd '%s' | awk '/libjson-c/ {print $3}')\" '%s/lib/ollama/cuda_v13/libggml-cuda.so'",
	   env_path("VGPU_RUN"), root);
	sh("cp '%s/lib/ollama/cuda_v13/libggml-cuda.so' '%s/lib/ollama/libggml-cpu-x64.so'", root, root);
}

static json_object *load(const char *path)
{
	json_object *o = json_object_from_file(path);
	ck_assert_msg(o, "no JSON at %s", path);
	return o;
}

static long long count_of(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? (long long)json_object_array_length(v) : -1;
}

static bool get_bool(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

#define RUNS 2000

/* 2000 runner probes under -o: the report is rewritten at each end and on
 * SIGUSR1, stays bounded (runs, processes), and the final one counts
 * every run; vgpu-run's peak RSS stays under 32 MiB. */
START_TEST(test_longrun_report_bounded_and_current)
{
	char root[512], report[600], exe[600], runs[16];
	snprintf(root, sizeof(root), "%s/longrun-install", env_path("TEST_WORKDIR"));
	longrun_install(root);
	snprintf(report, sizeof(report), "%s/report.json", root);
	snprintf(exe, sizeof(exe), "%s/bin/ollama", root);
	snprintf(runs, sizeof(runs), "%d", RUNS);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(env_path("VGPU_RUN"), "vgpu-run", "-q", "-o", report, "--", exe, "serve", runs, "10",
		      (char *)NULL);
		_exit(127);
	}
	/* during the run: a rewrite on SIGUSR1 says it is not complete */
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	struct stat st;
	for (int i = 0; i < 300 && stat(report, &st) < 0; i++)
		nanosleep(&pause, NULL);
	ck_assert_msg(stat(report, &st) == 0, "no report while the server runs");
	ck_assert_int_eq(kill(pid, SIGUSR1), 0);
	nanosleep(&pause, NULL);
	json_object *mid = load(report);
	ck_assert(!get_bool(mid, "complete"));
	ck_assert_ptr_nonnull(report_dir(mid, "cuda_v13"));
	json_object_put(mid);

	int status;
	struct rusage ru;
	ck_assert_int_eq(wait4(pid, &status, 0, &ru), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	ck_assert_msg(SANITIZED || ru.ru_maxrss < 32 * 1024, "vgpu-run peaked at %ld KiB", ru.ru_maxrss);

	json_object *rep = load(report);
	ck_assert(get_bool(rep, "complete"));
	json_object *d = report_dir(rep, "cuda_v13"), *costs;
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(ev_str(d, "verdict"), "failed");
	ck_assert_str_eq(ev_str(d, "reason"), "load-error");
	/* every run counted, 32 listed */
	ck_assert_int_eq(count_of(d, "runs"), 32);
	ck_assert_int_eq(ev_int(d, "runs_omitted", -1), RUNS - 32);
	/* the server, and 64 of the runners */
	ck_assert_int_eq(count_of(rep, "processes"), 65);
	ck_assert_int_eq(ev_int(rep, "processes_omitted", -1), RUNS - 64);
	ck_assert(json_object_object_get_ex(rep, "costs", &costs));
	ck_assert_int_ge(ev_int(costs, "rewrites", 0), RUNS);
	json_object_put(rep);
}
END_TEST

typedef struct Shape {
	const char *name;
	const char *argv[8];	/* "EXE" stands for ROOT/bin/ollama */
} Shape;

/* The wrapper shapes of container entry points and ExecStart lines. */
static const Shape shapes[] = {
	{ "direct", { "EXE", "serve", NULL } },
	{ "sh -c exec", { "/bin/sh", "-c", "exec \"$0\" serve", "EXE", NULL } },
	{ "sh -c then echo", { "/bin/sh", "-c", "\"$0\" serve; echo done", "EXE", NULL } },
	{ "entry-point script", { "/bin/bash", "SCRIPT", "EXE", NULL } },
	{ "env", { "/usr/bin/env", "OLLAMA_FOO=x", "EXE", "serve", NULL } },
	{ "nohup", { "/usr/bin/nohup", "EXE", "serve", NULL } },
	{ "timeout", { "/usr/bin/timeout", "300", "EXE", "serve", NULL } },
};

/* vgpu-run --discover-only -o REPORT -- SHAPE, with the Go Ollama fixture. */
static json_object *run_shape(const Shape *s, const char *root, const char *script)
{
	char exe[600], report[600];
	snprintf(exe, sizeof(exe), "%s/bin/ollama", root);
	snprintf(report, sizeof(report), "%s/report-%d.json", root, (int)(s - shapes));
	const char *argv[16] = { env_path("VGPU_RUN"), "-q", "--discover-only", "-o", report, "--" };
	size_t n = 6;
	for (size_t i = 0; s->argv[i]; i++)
		argv[n++] = !strcmp(s->argv[i], "EXE") ? exe : !strcmp(s->argv[i], "SCRIPT") ? script : s->argv[i];
	argv[n] = NULL;
	setenv("OLLAMA_HOST", "127.0.0.1:0", 1);
	unsetenv("OLLAMA_LLM_LIBRARY");
	unsetenv("OLLAMA_VULKAN");
	unsetenv("LD_LIBRARY_PATH");
	RunResult r;
	run_plain(argv, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s: status %d, stderr:\n%s", s->name,
		      r.status, r.err);
	run_result_free(&r);
	return load(report);
}

START_TEST(test_wrappers_give_the_direct_verdicts)
{
	char root[512], script[600];
	snprintf(root, sizeof(root), "%s/wrapper-install", env_path("TEST_WORKDIR"));
	sh("rm -rf '%s'", root);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s' >/dev/null", env_path("MAKE_OLLAMA_INSTALL"),
		 env_path("OLLAMA_FIXTURE"), root);
	ck_assert_msg(system(cmd) == 0, "cannot assemble the install: %s", cmd);
	snprintf(script, sizeof(script), "%s/entrypoint.sh", root);
	sh("printf '#!/bin/bash\\nexport OLLAMA_KEEP_ALIVE=5m\\nmkdir -p /tmp/vgpu-entry\\n\"$1\" serve\\n"
	   "echo stopped\\n' > '%s'", script);
	json_object *direct = run_shape(&shapes[0], root, script);
	json_object *dirs;
	ck_assert(json_object_object_get_ex(direct, "directories", &dirs));
	ck_assert_int_ge(json_object_array_length(dirs), 4);
	for (size_t i = 1; i < sizeof(shapes) / sizeof(*shapes); i++) {
		json_object *rep = run_shape(&shapes[i], root, script);
		for (size_t k = 0; k < json_object_array_length(dirs); k++) {
			json_object *want = json_object_array_get_idx(dirs, k);
			json_object *got = report_dir(rep, ev_str(want, "name"));
			ck_assert_msg(got, "%s: no directory %s", shapes[i].name, ev_str(want, "name"));
			ck_assert_msg(!strcmp(ev_str(got, "verdict"), ev_str(want, "verdict")) &&
					      !strcmp(ev_str(got, "reason"), ev_str(want, "reason")),
				      "%s: %s is %s:%s, direct run %s:%s", shapes[i].name, ev_str(want, "name"),
				      ev_str(got, "verdict"), ev_str(got, "reason"), ev_str(want, "verdict"),
				      ev_str(want, "reason"));
		}
		/* what led to the server is marked */
		json_object *procs, *first;
		ck_assert(json_object_object_get_ex(rep, "processes", &procs));
		first = json_object_array_get_idx(procs, 0);
		/* sh -c exec, env and nohup exec the server in their own process */
		bool wrapped = strcmp(shapes[i].name, "sh -c exec") && strcmp(shapes[i].name, "env") &&
			       strcmp(shapes[i].name, "nohup");
		ck_assert_msg(get_bool(first, "wrapper") == wrapped, "%s: first process %s wrapper", shapes[i].name,
			      wrapped ? "not marked" : "marked");
		json_object_put(rep);
	}
	json_object_put(direct);
}
END_TEST

/* faults.md 2026-12-01 #13: a trace cut mid-run was read as complete
 * (definitive verdicts, no note); its offline form (a real trace cut at
 * line 400) is test-faults-live.c:test_cut_trace_is_incomplete. */
/* kill -9 of vgpu-run mid-run: the trace has no stats line; vgpu-report
 * reads it with complete false and a note saying where it ends. */
START_TEST(test_killed_run_trace_is_incomplete)
{
	char root[512], trace[600], exe[600];
	snprintf(root, sizeof(root), "%s/killed-install", env_path("TEST_WORKDIR"));
	longrun_install(root);
	sh("mkdir -p '%1$s/lib/ollama/cuda_v12' && cp '%1$s/lib/ollama/libggml-cpu-x64.so' "
	   "'%1$s/lib/ollama/cuda_v12/libggml-cuda.so'", root);
	snprintf(trace, sizeof(trace), "%s/trace.jsonl", root);
	snprintf(exe, sizeof(exe), "%s/bin/ollama", root);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(env_path("VGPU_RUN"), "vgpu-run", "-q", "-t", trace, "--", exe, "serve", "100000", "10",
		      (char *)NULL);
		_exit(127);
	}
	struct timespec pause = { 1, 0 };
	nanosleep(&pause, NULL);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	const char *argv[] = { env_path("VGPU_REPORT"), "show", "--format=json", trace, NULL };
	RunResult r;
	run_plain(argv, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %d: %s", r.status, r.err);
	json_object *rep = json_tokener_parse(r.out);
	ck_assert_ptr_nonnull(rep);
	ck_assert(!get_bool(rep, "complete"));
	json_object *notes;
	ck_assert(json_object_object_get_ex(rep, "notes", &notes));
	bool noted = false;
	for (size_t i = 0; i < json_object_array_length(notes); i++)
		noted |= strstr(json_object_get_string(json_object_array_get_idx(notes, i)),
				"without its stats line") != NULL;
	ck_assert_msg(noted, "no note on the missing end: %s", r.out);
	/* no scanner was pointed at cuda_v12 before the trace ends: not
	 * reached, not "never scanned" */
	json_object *v12 = report_dir(rep, "cuda_v12");
	ck_assert_ptr_nonnull(v12);
	ck_assert_str_eq(ev_str(v12, "verdict"), "skipped");
	ck_assert_str_eq(ev_str(v12, "reason"), "not-reached");
	json_object_put(rep);
	run_result_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("longrun");
	TCase *tc = tcase_create("longrun");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_longrun_report_bounded_and_current);
	tcase_add_test(tc, test_wrappers_give_the_direct_verdicts);
	tcase_add_test(tc, test_killed_run_trace_is_incomplete);
	suite_add_tcase(s, tc);
	return check_run(s);
}
