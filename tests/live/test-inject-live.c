/* Shim injection, live: the reference shim (examples/shim) put into the
 * Go Ollama fixture's runners by redirect and by preload on the real ggml
 * loader; its passthrough mode against NVIDIA's stub driver; AT_SECURE
 * programs refused; unusable shims refused before anything runs; and
 * injection into 1000 os/exec children of a Go program changing nothing
 * the program can see. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/hostarch.h"
#include "harness.h"
#include "../check-run.h"

static char root[512], shim[600];

static void setup_paths(void)
{
	snprintf(shim, sizeof(shim), "%s/examples/shim/libcuda.so.1", env_path("BUILD_ROOT"));
	if (*root)
		return;
	snprintf(root, sizeof(root), "%s/inject-install", env_path("TEST_WORKDIR"));
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && '%s' '%s' '%s'", root, env_path("MAKE_OLLAMA_INSTALL"),
		 env_path("OLLAMA_FIXTURE"), root);
	ck_assert_msg(system(cmd) == 0, "cannot assemble the install: %s", cmd);
}

/* Does this machine have the CUDA 13 runtime libggml-cuda.so needs? */
static bool have_cudart13(void)
{
	return system("ldconfig -p | grep -q 'libcudart.so.13 '") == 0;
}

typedef struct Served {
	RunResult r;
	json_object *report;
	char log[64];		/* the shim's VGPU_SHIM_LOG */
} Served;

/* Serve the install under vgpu-run with OPTS (NULL-terminated) and ENV
 * added, until discovery is over; the trace, report and shim log come back. */
static void serve_at(const char *at, const char *const *opts, const char *const *env, Served *ret);

static void serve(const char *const *opts, const char *const *env, Served *ret)
{
	setup_paths();
	serve_at(root, opts, env, ret);
}

/* The same for the install AT. */
static void serve_at(const char *at, const char *const *opts, const char *const *env, Served *ret)
{
	char trace[] = "/tmp/vgpu-inject-XXXXXX", report[] = "/tmp/vgpu-inject-r-XXXXXX";
	temp_file(trace);
	temp_file(report);
	snprintf(ret->log, sizeof(ret->log), "/tmp/vgpu-inject-log-XXXXXX");
	temp_file(ret->log);
	char exe[600], logenv[100];
	snprintf(exe, sizeof(exe), "%s/bin/ollama", at);
	snprintf(logenv, sizeof(logenv), "VGPU_SHIM_LOG=%s", ret->log);
	const char *argv[32] = { env_path("VGPU_RUN"), "-q", "-t", trace, "-o", report, "--format=json" };
	size_t n = 7;
	for (size_t i = 0; opts && opts[i]; i++)
		argv[n++] = opts[i];
	argv[n++] = "--";
	argv[n++] = exe;
	argv[n++] = "serve";
	argv[n] = NULL;
	const char *full_env[16] = { "OLLAMA_HOST=127.0.0.1:0", logenv };
	size_t ne = 2;
	for (size_t i = 0; env && env[i]; i++)
		full_env[ne++] = env[i];
	unsetenv("OLLAMA_LLM_LIBRARY");
	unsetenv("OLLAMA_VULKAN");
	unsetenv("VGPU_SHIM");
	run_served(argv, full_env, "msg=\"inference compute\"", &ret->r);
	ck_assert_int_eq(trace_load(trace, &ret->r.trace), 0);
	ret->report = json_object_from_file(report);
	ck_assert_ptr_nonnull(ret->report);
	/* inject events, header and report fields as schemas/ describes them */
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.jsonl' && cp '%s' '%s.json' && '%s/scripts/validate-schemas' '%s.jsonl' '%s.json' >/dev/null; r=$?; rm -f '%s.jsonl' '%s.json'; exit $r",
		 trace, trace, report, report, env_path("SOURCE_ROOT"), trace, report, trace, report);
	ck_assert_msg(system(cmd) == 0, "trace or report not valid against schemas/");
	/* offline from the trace, the same report to the byte */
	/* (identical but for when each was written) */
	snprintf(cmd, sizeof(cmd),
		 "s='s/\"written_at\":\"[^\"]*\",//'; a=$('%s' show --format=json '%s' | sed \"$s\") && "
		 "b=$(sed \"$s\" '%s') && [ -n \"$a\" ] && [ \"$a\" = \"$b\" ]",
		 env_path("VGPU_REPORT"), trace, report);
	ck_assert_msg(system(cmd) == 0, "vgpu-report show of the trace differs from the live report");
	unlink(trace);
	unlink(report);
}

static void served_free(Served *s)
{
	run_result_free(&s->r);
	json_object_put(s->report);
	unlink(s->log);
}

/* The pid of the runner pointed at lib/ollama/DIR (by its
 * OLLAMA_LIBRARY_PATH), or 0. */
static long long runner_pid(const Trace *t, const char *dir)
{
	char want[2048];
	snprintf(want, sizeof(want), "%s/lib/ollama:%s/lib/ollama/%s", root, root, dir);
	for (size_t i = 0; i < t->n; i++) {
		json_object *env, *v;
		if (ev_is(t->ev[i], "exec") && json_object_object_get_ex(t->ev[i], "env", &env) &&
		    json_object_object_get_ex(env, "OLLAMA_LIBRARY_PATH", &v) &&
		    !strcmp(json_object_get_string(v), want))
			return ev_int(t->ev[i], "pid", 0);
	}
	return 0;
}

static void assert_verdict(json_object *report, const char *dir, const char *verdict,
			   const char *reason, const char *detail)
{
	json_object *d = report_dir(report, dir);
	ck_assert_msg(d, "%s not in the report", dir);
	ck_assert_msg(!strcmp(ev_str(d, "verdict"), verdict) && !strcmp(ev_str(d, "reason"), reason),
		      "%s is %s:%s (%s), expected %s:%s", dir, ev_str(d, "verdict"), ev_str(d, "reason"),
		      ev_str(d, "detail"), verdict, reason);
	if (detail)
		ck_assert_msg(ev_str(d, "detail") && strstr(ev_str(d, "detail"), detail), "%s detail '%s' lacks '%s'",
			      dir, ev_str(d, "detail"), detail);
}

/* Every process whose mappings at its end include the shim. */
static size_t mapped_in(const Trace *t, long long *pids, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++) {
		long long pid = ev_int(t->ev[i], "pid", 0);
		if (ev_is(t->ev[i], "observe") && !strcmp(ev_str(t->ev[i], "what"), "mappings") &&
		    trace_mapped(t, pid, shim) && n < max)
			pids[n++] = pid;
	}
	return n;
}

static bool file_has(const char *path, const char *text)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

static const char *const methods[] = { "redirect", "preload" };

/* The reference shim (virtual mode) through both methods: scoped to the
 * runners, listed in the report, and the CUDA backend loads. */
START_TEST(test_inject_ollama_runners)
{
	const char *method = methods[_i];
	char shim_opt[700], method_opt[64];
	setup_paths();
	snprintf(shim_opt, sizeof(shim_opt), "--shim=%s", shim);
	snprintf(method_opt, sizeof(method_opt), "--inject-method=%s", method);
	const char *opts[] = { shim_opt, method_opt, NULL };
	Served s = { 0 };
	serve(opts, NULL, &s);
	const Trace *t = &s.r.trace;
	long long v13 = runner_pid(t, "cuda_v13"), v12 = runner_pid(t, "cuda_v12");
	long long server = ev_int(trace_find(t, "exec", NULL, NULL), "pid", 0);
	ck_assert(v13 > 0 && v12 > 0 && server > 0);

	/* inject events: redirect where the runner opened libcuda.so.1 (the
	 * CUDA 12 runner fails on libcudart.so.12 before that), preload in
	 * every runner */
	size_t want = !strcmp(method, "redirect") ? (have_cudart13() ? 1 : 0) : 2;
	ck_assert_uint_eq(trace_count(t, "inject", "status", "done"), want);
	ck_assert_uint_eq(trace_count(t, "inject", "status", "refused"), 0);
	for (size_t i = 0; i < t->n; i++) {
		json_object *ev = t->ev[i];
		if (!ev_is(ev, "inject"))
			continue;
		ck_assert_str_eq(ev_str(ev, "method"), method);
		ck_assert_str_eq(ev_str(ev, "library"), "libcuda.so.1");
		ck_assert_str_eq(ev_str(ev, "shim"), shim);
		ck_assert_str_eq(ev_str(ev, "real"), "");
		long long pid = ev_int(ev, "pid", 0);
		ck_assert(pid == v13 || pid == v12);
		if (!strcmp(method, "redirect")) {
			char first[700];
			snprintf(first, sizeof(first), "%s/lib/ollama/libcuda.so.1", root);
			ck_assert_int_eq(pid, v13);
			ck_assert_str_eq(ev_str(ev, "path"), first);
		}
	}

	/* mapped in the scanners that loaded it, nowhere else */
	long long pids[64];
	size_t n = mapped_in(t, pids, 64);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(pids[i] == v13 || (!strcmp(method, "preload") && pids[i] == v12),
			      "the shim is mapped in pid %lld", pids[i]);
	if (have_cudart13()) {
		ck_assert_msg(trace_mapped(t, v13, shim), "the shim is not mapped in the cuda_v13 runner");
		assert_verdict(s.report, "cuda_v13", "failed", "init-failed",
			       "ggml_cuda_init: failed to initialize CUDA: operation not supported");
		/* the verdict cites the injection into the runner */
		json_object *ev13, *d13 = report_dir(s.report, "cuda_v13");
		bool cited = false;
		ck_assert(json_object_object_get_ex(d13, "evidence", &ev13));
		for (size_t i = 0; i < json_object_array_length(ev13); i++) {
			json_object *e = json_object_array_get_idx(ev13, i);
			cited |= ev_str(e, "event") && !strcmp(ev_str(e, "event"), "inject") && ev_int(e, "pid", 0) == v13;
		}
		ck_assert_msg(cited, "cuda_v13's evidence does not cite the injection");
		/* the shim's own log: virtual mode, no real driver */
		ck_assert(file_has(s.log, "libcuda.so.1 ") && file_has(s.log, " virtual start real=(none)"));
	} else {
		printf("inject %s: no CUDA 13 runtime here: cuda_v13 cannot get as far as libcuda.so.1\n", method);
		assert_verdict(s.report, "cuda_v13", "failed", "missing-dependency", "libcudart.so.13");
	}
	ck_assert(!trace_mapped(t, server, shim));

	/* the report lists each injection as the trace has it */
	json_object *inj;
	ck_assert(json_object_object_get_ex(s.report, "injections", &inj));
	ck_assert_uint_eq(json_object_array_length(inj), want);
	for (size_t i = 0; i < want; i++) {
		json_object *e = json_object_array_get_idx(inj, i);
		ck_assert_str_eq(ev_str(e, "method"), method);
		ck_assert_str_eq(ev_str(e, "library"), "libcuda.so.1");
		ck_assert_str_eq(ev_str(e, "status"), "done");
		ck_assert_str_eq(ev_str(e, "shim"), shim);
		ck_assert(ev_int(e, "pid", 0) == v13 || ev_int(e, "pid", 0) == v12);
	}
	served_free(&s);
}
END_TEST

/* Both methods on any architecture: cuda_v12 holds a stand-in backend
 * (helpers/fake-backend.c, FAKE_CUDA) that looks libcuda.so.1 up by name
 * as a CUDA backend does and asks it for its devices.  The runner gets
 * the reference shim (virtual mode: one device), and says so; without
 * --shim the lookup fails. */
START_TEST(test_inject_any_arch)
{
	const char *method = methods[_i];
	char at[600], cmd[8192], shim_opt[700], method_opt[64];
	setup_paths();
	snprintf(at, sizeof(at), "%s/inject-fake-%s", env_path("TEST_WORKDIR"), method);
	snprintf(cmd, sizeof(cmd),
		 "rm -rf '%s' && '%s' '%s' '%s' && mkdir -p '%s/lib/ollama/cuda_v12' && "
		 "rm -f '%s/lib/ollama/cuda_v12/libggml-cuda.so' && "
		 "cp '%s/libfake-backend-cuda.so' '%s/lib/ollama/cuda_v12/libggml-cuda.so'",
		 at, env_path("MAKE_OLLAMA_INSTALL"), env_path("OLLAMA_FIXTURE"), at, at, at, env_path("TEST_WORKDIR"),
		 at);
	ck_assert_msg(system(cmd) == 0, "cannot assemble the install: %s", cmd);
	snprintf(shim_opt, sizeof(shim_opt), "--shim=%s", shim);
	snprintf(method_opt, sizeof(method_opt), "--inject-method=%s", method);
	const char *env[] = { "OLLAMA_LLM_LIBRARY=cuda_v12", NULL };
	Served s = { 0 };
	serve_at(at, (const char *const[]){ shim_opt, method_opt, NULL }, env, &s);
	const Trace *t = &s.r.trace;
	json_object *inj = trace_find(t, "inject", "status", "done");
	ck_assert_msg(inj, "no injection done");
	ck_assert_uint_eq(trace_count(t, "inject", "status", "done"), 1);
	ck_assert_str_eq(ev_str(inj, "method"), method);
	ck_assert_str_eq(ev_str(inj, "library"), "libcuda.so.1");
	long long pid = ev_int(inj, "pid", 0);
	bool said = false;
	for (size_t i = 0; i < t->n; i++)
		said |= ev_is(t->ev[i], "output") && ev_int(t->ev[i], "pid", 0) == pid && ev_str(t->ev[i], "text") &&
			strstr(ev_str(t->ev[i], "text"), "fake-cuda: cuInit and cuDeviceGetCount gave 0, 1 devices");
	ck_assert_msg(said, "the runner did not get the shim's one device");
	served_free(&s);

	/* without it, the lookup fails where it failed before */
	serve_at(at, NULL, env, &s);
	ck_assert_uint_eq(trace_count(&s.r.trace, "inject", NULL, NULL), 0);
	said = false;
	for (size_t i = 0; i < s.r.trace.n; i++)
		said |= ev_is(s.r.trace.ev[i], "output") && ev_str(s.r.trace.ev[i], "text") &&
			strstr(ev_str(s.r.trace.ev[i], "text"), "fake-cuda: libcuda.so.1: cannot open shared object file");
	ck_assert_msg(said, "the runner found a libcuda.so.1 without the shim");
	served_free(&s);
}
END_TEST

/* --no-inject: nothing changes, and the report says which shim was left out. */
START_TEST(test_inject_disabled)
{
	setup_paths();
	char shim_opt[700], note[800];
	snprintf(shim_opt, sizeof(shim_opt), "--shim=%s", shim);
	const char *opts[] = { shim_opt, "--no-inject", NULL };
	Served s = { 0 };
	serve(opts, NULL, &s);
	ck_assert_uint_eq(trace_count(&s.r.trace, "inject", NULL, NULL), 0);
	long long pids[8];
	size_t n = mapped_in(&s.r.trace, pids, 8);
	ck_assert_msg(n == 0, "the shim is mapped in pid %lld", pids[0]);
	assert_verdict(s.report, "cuda_v13", "failed", "missing-dependency",
		       have_cudart13() ? "libcuda.so.1" : "libcudart.so.13");
	snprintf(note, sizeof(note), "--no-inject: shim %s for libcuda.so.1 was not injected", shim);
	json_object *notes;
	bool found = false;
	ck_assert(json_object_object_get_ex(s.report, "notes", &notes));
	for (size_t i = 0; i < json_object_array_length(notes); i++)
		found |= !strcmp(json_object_get_string(json_object_array_get_idx(notes, i)), note);
	ck_assert_msg(found, "no note '%s'", note);
	served_free(&s);
}
END_TEST

/* Passthrough behind a redirect: the shim loads the real driver (NVIDIA's
 * stub, found through LD_LIBRARY_PATH) by the path vgpu-run gave it, and
 * that open is not redirected back to the shim. */
START_TEST(test_inject_passthrough_stub_driver)
{
	if (access("/usr/local/cuda/lib64/stubs/libcuda.so", R_OK) || !have_cudart13()) {
		printf("inject passthrough: skipped here (needs the CUDA 13 runtime and its stub driver)\n");
		return;
	}
	setup_paths();
	char stubdir[600], real[700], llp[700], shim_opt[700], cmd[1500];
	snprintf(stubdir, sizeof(stubdir), "%s/stub", root);
	snprintf(real, sizeof(real), "%s/libcuda.so.1", stubdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && ln -sf /usr/local/cuda/lib64/stubs/libcuda.so '%s'", stubdir, real);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(llp, sizeof(llp), "LD_LIBRARY_PATH=%s", stubdir);
	snprintf(shim_opt, sizeof(shim_opt), "--shim=%s", shim);
	const char *opts[] = { shim_opt, NULL };
	const char *env[] = { llp, "VGPU_SHIM_MODE=passthrough", NULL };
	Served s = { 0 };
	serve(opts, env, &s);
	const Trace *t = &s.r.trace;
	long long v13 = runner_pid(t, "cuda_v13");
	json_object *inj = trace_find(t, "inject", "status", "done");
	ck_assert_ptr_nonnull(inj);
	ck_assert_int_eq(ev_int(inj, "pid", 0), v13);
	ck_assert_str_eq(ev_str(inj, "real"), real);
	/* the shim's open of the real driver ran on the real driver */
	bool real_open = false;
	for (size_t i = 0; i < t->n; i++) {
		json_object *ev = t->ev[i];
		if (ev_is(ev, "syscall") && ev_int(ev, "pid", 0) == v13 && ev_str(ev, "path") &&
		    !strcmp(ev_str(ev, "path"), real)) {
			ck_assert_ptr_null(ev_str(ev, "redirected"));
			real_open |= ev_int(ev, "result", -1) >= 0;
		}
	}
	ck_assert_msg(real_open, "the runner never opened %s", real);
	char start[800];
	snprintf(start, sizeof(start), " passthrough start real=%s", real);
	ck_assert_msg(file_has(s.log, start), "no '%s' in the shim's log", start);
	/* libcudart calls the driver through pointers from cuGetProcAddress
	 * (not logged: the real ones); cuDriverGetVersion it calls by name */
	ck_assert(file_has(s.log, " passthrough cuDriverGetVersion() = 34 CUDA_ERROR_STUB_LIBRARY"));
	assert_verdict(s.report, "cuda_v13", "failed", "init-failed", "CUDA driver is a stub library");
	served_free(&s);
}
END_TEST

/* A setuid program under the "any" policy: refused, and an inherited
 * LD_PRELOAD of the shim taken out of its environment. */
START_TEST(test_inject_refuses_at_secure)
{
	if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK)) {
		printf("inject AT_SECURE: skipped (needs root and setpriv)\n");
		return;
	}
	setup_paths();
	char dir[] = "/tmp/vgpu-suid-XXXXXX", prog[300], cmd[800], trace[] = "/tmp/vgpu-suid-t-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(prog, sizeof(prog), "%s/suid-tracee", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 4755 '%s'", env_path("TRACEE"), prog, prog);
	ck_assert_int_eq(system(cmd), 0);
	temp_file(trace);
	char shim_opt[700];
	snprintf(shim_opt, sizeof(shim_opt), "--shim=%s", shim);
	const char *const argv[] = { env_path("VGPU_RUN"), "-q", "-p", "ggml", "--inject-method=preload", shim_opt,
				     "-t", trace, "--", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				     "--", prog, "exit", "3", NULL };
	RunResult r;
	run_plain(argv, &r);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), 3);
	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	json_object *ex = trace_find(&t, "exec", "exe", prog);
	ck_assert_ptr_nonnull(ex);
	json_object *secure;
	ck_assert(json_object_object_get_ex(ex, "secure", &secure) && json_object_get_boolean(secure));
	json_object *refused = trace_find(&t, "inject", "status", "refused");
	ck_assert_ptr_nonnull(refused);
	ck_assert_int_eq(ev_int(refused, "pid", 0), ev_int(ex, "pid", 0));
	ck_assert_str_eq(ev_str(refused, "why"),
			 "AT_SECURE program (setuid, setgid or file capabilities): not injected");
	/* setpriv itself (not secure) was injected */
	ck_assert_uint_eq(trace_count(&t, "inject", "status", "done"), 1);
	ck_assert(!trace_mapped(&t, ev_int(ex, "pid", 0), shim));
	trace_free(&t);
	run_result_free(&r);
	unlink(trace);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Unusable shims: exit 125, one line, and COMMAND never runs. */
START_TEST(test_inject_unsafe_shims)
{
	setup_paths();
	char dir[] = "/tmp/vgpu-badshim-XXXXXX", marker[300], text[300], c32[300], ww[300];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(marker, sizeof(marker), "%s/ran", dir);
	snprintf(text, sizeof(text), "%s/text/libcuda.so.1", dir);
	snprintf(c32, sizeof(c32), "%s/c32/libcuda.so.1", dir);
	snprintf(ww, sizeof(ww), "%s/ww/libcuda.so.1", dir);
	char cmd[4096];
	/* a 32-bit ELF: the shim with its class byte changed */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/text %s/c32 %s/ww && echo 'not a library' > '%s' && cp '%s' '%s' && "
		 "printf '\\001' | dd of='%s' bs=1 seek=4 conv=notrunc status=none && cp '%s' '%s' && "
		 "chmod 666 '%s'",
		 dir, dir, dir, text, shim, c32, c32, shim, ww, ww);
	ck_assert_int_eq(system(cmd), 0);
	char missing[300], msg[5][800], opt[5][400];
	snprintf(missing, sizeof(missing), "%s/none/libcuda.so.1", dir);
	snprintf(opt[0], sizeof(opt[0]), "--shim=%s", missing);
	snprintf(msg[0], sizeof(msg[0]), "vgpu-run: shim '%s': no such file\n", missing);
	snprintf(opt[1], sizeof(opt[1]), "--shim=%s", text);
	snprintf(msg[1], sizeof(msg[1]), "vgpu-run: shim '%s': not an ELF file\n", text);
	snprintf(opt[2], sizeof(opt[2]), "--shim=%s", c32);
	snprintf(msg[2], sizeof(msg[2]),
		 "vgpu-run: shim '%s': a 32-bit ELF object; this host runs 64-bit %s programs\n", c32,
		 hostarch_native()->elf_name);
	snprintf(opt[3], sizeof(opt[3]), "--shim=%s", ww);
	snprintf(msg[3], sizeof(msg[3]),
		 "vgpu-run: shim '%s': the file '%s' is world-writable (vgpu-run runs as root)\n", ww, ww);
	snprintf(msg[4], sizeof(msg[4]),
		 "vgpu-run: shim 'shim/libcuda.so.1' (from VGPU_SHIM): not an absolute path\n");
	size_t cases = geteuid() == 0 ? 5 : 4;
	for (size_t i = 0; i < cases; i++) {
		if (i == 3 && geteuid() != 0)
			continue;
		RunResult r;
		if (i == 4) {
			setenv("VGPU_SHIM", "shim/libcuda.so.1", 1);
			const char *const argv[] = { env_path("VGPU_RUN"), "-q", "--", "touch", marker, NULL };
			run_plain(argv, &r);
			unsetenv("VGPU_SHIM");
		} else {
			const char *const argv[] = { env_path("VGPU_RUN"), "-q", opt[i], "--", "touch", marker, NULL };
			run_plain(argv, &r);
		}
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 125, "case %zu: status %d", i, r.status);
		ck_assert_str_eq(r.err, msg[i]);
		ck_assert_int_eq(access(marker, F_OK), -1);
		run_result_free(&r);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* faults.md #10: a shim whose path holds a blank or ':' was reported
 * injected by preload, but the dynamic linker splits LD_PRELOAD there and
 * never loaded it.  Preload refuses it before the command starts, naming
 * the character and the other method; redirect, which passes the path
 * whole, takes it. */
START_TEST(test_inject_preload_path_it_cannot_carry)
{
	setup_paths();
	char dir[] = "/tmp/vgpu-shimpath-XXXXXX", blank[300], colon[300], cmd[4096], want[1024];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(blank, sizeof(blank), "%s/with space/libcuda.so.1", dir);
	snprintf(colon, sizeof(colon), "%s/a:b/libcuda.so.1", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/with space' '%s/a:b' && cp '%s' '%s' && cp '%s' '%s'", dir, dir, shim,
		 blank, shim, colon);
	ck_assert_int_eq(system(cmd), 0);
	const char *paths[] = { blank, colon }, *what[] = { "a blank", "':'" };
	for (size_t i = 0; i < 2; i++) {
		char opt[400];
		snprintf(opt, sizeof(opt), "--shim=%s", paths[i]);
		RunResult r;
		run_plain((const char *const[]){ env_path("VGPU_RUN"), "-q", "--inject-method=preload", opt, "--", "true",
						 NULL },
			  &r);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 125, "status %d", r.status);
		snprintf(want, sizeof(want),
			 "vgpu-run: shim '%s': its path holds %s, which LD_PRELOAD cannot carry (the loader splits it "
			 "there): use --inject-method=redirect, or a path without it\n",
			 paths[i], what[i]);
		ck_assert_str_eq(r.err, want);
		run_result_free(&r);
		run_plain((const char *const[]){ env_path("VGPU_RUN"), "-q", "--inject-method=redirect", opt, "--", "true",
						 NULL },
			  &r);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "redirect: status %d: %s", r.status, r.err);
		run_result_free(&r);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The corners a cold review found, each on a small real program under
 * the "any" policy. */
START_TEST(test_inject_corner_cases)
{
	setup_paths();
	char dir[] = "/tmp/vgpu-corner-XXXXXX", real[300], realdir_slash[300], other[300], shim_opt[700],
	     trace[] = "/tmp/vgpu-corner-t-XXXXXX", cmd[1500];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(real, sizeof(real), "%s/real/libcuda.so.1", dir);
	snprintf(realdir_slash, sizeof(realdir_slash), "LD_LIBRARY_PATH=%s/real/", dir);
	snprintf(other, sizeof(other), "%s/other/libcuda.so.1", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/real' '%s/other' && cp '%s' '%s'", dir, dir, env_path("LIBPROBE"), real);
	ck_assert_int_eq(system(cmd), 0);
	temp_file(trace);
	snprintf(shim_opt, sizeof(shim_opt), "--shim=%s", shim);
	struct stat before;
	ck_assert_int_eq(stat(shim, &before), 0);

	/* a write to a file named like the soname is no probe: it goes
	 * where it was meant to, and the shim is untouched */
	snprintf(cmd, sizeof(cmd), "echo hello > '%s'", other);
	const char *const w_argv[] = { env_path("VGPU_RUN"), "-q", "-p", "ggml", shim_opt, "-t", trace, "--", "sh", "-c", cmd, NULL };
	RunResult r;
	run_plain(w_argv, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(trace_load(trace, &r.trace), 0);
	ck_assert_uint_eq(trace_count(&r.trace, "inject", NULL, NULL), 0);
	struct stat after;
	ck_assert_int_eq(stat(shim, &after), 0);
	ck_assert_int_eq(after.st_size, before.st_size);
	ck_assert(file_has(other, "hello"));
	run_result_free(&r);

	/* the real library is the linker's first candidate (a trailing slash
	 * on its directory): that open runs on the shim, and the shim is
	 * told the real one's normal path */
	setenv("TRACEE_DLOPEN", "libcuda.so.1", 1);
	setenv("LD_LIBRARY_PATH", realdir_slash + strlen("LD_LIBRARY_PATH="), 1);
	const char *const d_argv[] = { env_path("VGPU_RUN"), "-q", "-v", "-p", "ggml", shim_opt, "-t", trace, "--",
				       env_path("TRACEE"), "fixture-child", NULL };
	run_plain(d_argv, &r);
	unsetenv("LD_LIBRARY_PATH");
	unsetenv("TRACEE_DLOPEN");
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(trace_load(trace, &r.trace), 0);
	json_object *inj = trace_find(&r.trace, "inject", "status", "done");
	ck_assert_ptr_nonnull(inj);
	ck_assert_str_eq(ev_str(inj, "path"), real);
	ck_assert_str_eq(ev_str(inj, "real"), real);
	ck_assert(trace_mapped(&r.trace, ev_int(inj, "pid", 0), shim));
	ck_assert(!trace_mapped(&r.trace, ev_int(inj, "pid", 0), real));
	/* -v says so too */
	char said[1024];
	snprintf(said, sizeof(said), "openat(\"%s\", O_RDONLY|O_CLOEXEC) (ran on \"%s\") = ", real, shim);
	ck_assert_msg(strstr(r.err, said), "-v lacks '%s'", said);
	ck_assert_ptr_nonnull(strstr(r.err, "inject redirect libcuda.so.1 done: openat of "));
	run_result_free(&r);

	/* preload into 300 programs started with an empty environment (a
	 * short stack block), then with LD_PRELOAD given twice */
	const char *const e_argv[] = { env_path("VGPU_RUN"), "-q", "-p", "ggml", shim_opt, "--inject-method=preload",
				       "-t", trace, "--", "sh", "-c",
				       "i=0; while [ $i -lt 300 ]; do env -i /bin/true || exit 1; i=$((i+1)); done", NULL };
	run_plain(e_argv, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(trace_load(trace, &r.trace), 0);
	ck_assert_uint_eq(trace_count(&r.trace, "inject", "status", "refused"), 0);
	ck_assert_uint_eq(trace_count(&r.trace, "inject", "status", "done"), 601);
	run_result_free(&r);
	const char *const dup_argv[] = { env_path("VGPU_RUN"), "-q", "-p", "ggml", shim_opt, "--inject-method=preload",
					 "-t", trace, "--", env_path("TRACEE"), "dup-env-exec", "/bin/true", NULL };
	run_plain(dup_argv, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(trace_load(trace, &r.trace), 0);
	json_object *t_exec = trace_find(&r.trace, "exec", "exe", "/usr/bin/true");
	ck_assert_ptr_nonnull(t_exec);
	ck_assert_msg(trace_mapped(&r.trace, ev_int(t_exec, "pid", 0), shim), "LD_PRELOAD given twice: no shim");
	run_result_free(&r);

	unlink(trace);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

#define CHILDREN_TOTAL 1000

/* 50 goroutines x 20 os/exec (vfork) children, every process a scanner
 * (policy ggml), each child loading libcuda.so.1: with the shim injected
 * the program's output and status are those of the untraced run, its
 * stack and heap canaries intact, and every child got the shim. */
START_TEST(test_inject_go_children)
{
	const char *method = methods[_i];
	setup_paths();
	char dir[] = "/tmp/vgpu-go-inject-XXXXXX", shim_opt[700], method_opt[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("GOMAXPROCS", "4", 1);
	setenv("TRACEE_DLOPEN", "libcuda.so.1", 1);
	snprintf(shim_opt, sizeof(shim_opt), "--shim=%s", shim);
	snprintf(method_opt, sizeof(method_opt), "--inject-method=%s", method);
	const char *const plain_argv[] = { env_path("GO_FIXTURE"), "-goroutines", "50", "-children", "20",
					   "-dir", dir, "-child", env_path("TRACEE"), NULL };
	char trace[] = "/tmp/vgpu-go-inject-t-XXXXXX";
	temp_file(trace);
	const char *const traced_argv[] = { env_path("VGPU_RUN"), "-q", "-p", "ggml", shim_opt, method_opt,
					    "-t", trace, "--", env_path("GO_FIXTURE"), "-goroutines", "50",
					    "-children", "20", "-dir", dir, "-child", env_path("TRACEE"), NULL };
	RunResult plain, traced;
	run_plain(plain_argv, &plain);
	run_plain(traced_argv, &traced);
	ck_assert(WIFEXITED(plain.status));
	ck_assert_int_eq(WEXITSTATUS(plain.status), 0);
	ck_assert_int_eq(traced.status, plain.status);
	ck_assert_str_eq(traced.out, plain.out);
	ck_assert_ptr_nonnull(strstr(plain.out, "stack_canaries_ok=1000 heap_canary_ok=true\n"));

	Trace t;
	ck_assert_int_eq(trace_load(trace, &t), 0);
	size_t children = 0, with_shim = 0;
	for (size_t i = 0; i < t.n; i++) {
		json_object *ev = t.ev[i], *argv, *a1;
		if (!ev_is(ev, "exec") || !json_object_object_get_ex(ev, "argv", &argv) ||
		    !(a1 = json_object_array_get_idx(argv, 1)) || strcmp(json_object_get_string(a1), "fixture-child"))
			continue;
		children++;
		with_shim += trace_mapped(&t, ev_int(ev, "pid", 0), shim);
	}
	ck_assert_uint_eq(children, CHILDREN_TOTAL);
	ck_assert_uint_eq(with_shim, CHILDREN_TOTAL);
	/* redirect: one per child's dlopen; preload: also the Go program */
	ck_assert_uint_eq(trace_count(&t, "inject", "status", "done"),
			  !strcmp(method, "redirect") ? CHILDREN_TOTAL : CHILDREN_TOTAL + 1);
	ck_assert_uint_eq(trace_count(&t, "inject", "status", "refused"), 0);
	trace_free(&t);
	run_result_free(&plain);
	run_result_free(&traced);
	unlink(trace);
	unsetenv("TRACEE_DLOPEN");
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	/* meson points LD_LIBRARY_PATH at the shim's build directory, which
	 * would let every process find it without any injection */
	unsetenv("LD_LIBRARY_PATH");
	Suite *s = suite_create("inject");
	TCase *any = tcase_create("any-arch");
	tcase_set_timeout(any, 300);
	tcase_add_loop_test(any, test_inject_any_arch, 0, 2);
	suite_add_tcase(s, any);
	TCase *tc = tcase_create("inject");
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_inject_ollama_runners, 0, 2);
	tcase_add_test(tc, test_inject_disabled);
	tcase_add_test(tc, test_inject_passthrough_stub_driver);
	tcase_add_test(tc, test_inject_refuses_at_secure);
	tcase_add_test(tc, test_inject_unsafe_shims);
	tcase_add_test(tc, test_inject_preload_path_it_cannot_carry);
	tcase_add_test(tc, test_inject_corner_cases);
	tcase_add_loop_test(tc, test_inject_go_children, 0, 2);
	suite_add_tcase(s, tc);
	return check_run(s);
}
