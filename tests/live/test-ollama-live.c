/* End to end on the real ggml loader: an Ollama-shaped install (real npm
 * ggml libraries, the Go discovery fixture as bin/ollama) served under
 * vgpu-run.  Asserts the raw facts the diagnosis will build on: which
 * runner opened which backend, where the loader looked for libcuda.so.1,
 * who killed each runner, and the loader's own output recovered from a
 * runner whose stderr is /dev/null. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../check-run.h"

static char root[512];

/* One install for the whole suite, next to the build (hard links). */
static void make_install(void)
{
	if (*root)
		return;
	snprintf(root, sizeof(root), "%s/ollama-install", env_path("TEST_WORKDIR"));
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && '%s' '%s' '%s'", root,
		 env_path("MAKE_OLLAMA_INSTALL"), env_path("OLLAMA_FIXTURE"), root);
	ck_assert_msg(system(cmd) == 0, "cannot assemble the install (run scripts/fetch-ggml): %s",
		      cmd);
}

typedef struct Served {
	RunResult r;		/* status, stderr, trace */
} Served;

/* Serve the install under "vgpu-run -q -t T" with ENV added until the
 * server's "inference compute" line, then stop it with SIGTERM. */
static void serve(const char *const *env, Served *ret)
{
	make_install();
	char trace[] = "/tmp/vgpu-ollama-XXXXXX", exe[600];
	temp_file(trace);
	snprintf(exe, sizeof(exe), "%s/bin/ollama", root);
	const char *base_env[16] = { "OLLAMA_HOST=127.0.0.1:0" };
	size_t n = 1;
	for (size_t i = 0; env && env[i] && n < 15; i++)
		base_env[n++] = env[i];
	unsetenv("OLLAMA_LLM_LIBRARY");
	unsetenv("OLLAMA_VULKAN");
	unsetenv("OLLAMA_DEBUG");
	const char *argv[] = { env_path("VGPU_RUN"), "-q", "-t", trace, "--", exe, "serve", NULL };
	run_served(argv, base_env, "msg=\"inference compute\"", &ret->r);
	int r = trace_load(trace, &ret->r.trace);
	ck_assert_msg(r == 0, "cannot load the trace: %s", strerror(-r));
	unlink(trace);
}

static bool is_runner(json_object *ev)
{
	json_object *argv, *a1;
	return ev_is(ev, "exec") && json_object_object_get_ex(ev, "argv", &argv) &&
	       (a1 = json_object_array_get_idx(argv, 1)) &&
	       !strcmp(json_object_get_string(a1), "runner");
}

/* The runner exec whose LD_LIBRARY_PATH names lib/ollama/DIR, or NULL. */
static json_object *runner_for(const Trace *t, const char *dir)
{
	char want[600];
	snprintf(want, sizeof(want), "%s/lib/ollama/%s", root, dir);
	for (size_t i = 0; i < t->n; i++) {
		json_object *env, *llp;
		if (!is_runner(t->ev[i]) || !json_object_object_get_ex(t->ev[i], "env", &env) ||
		    !json_object_object_get_ex(env, "LD_LIBRARY_PATH", &llp))
			continue;
		/* an element of the colon-separated list */
		char *list = strdup(json_object_get_string(llp)), *save = NULL;
		bool found = false;
		for (char *el = strtok_r(list, ":", &save); el && !found; el = strtok_r(NULL, ":", &save))
			found = !strcmp(el, want);
		free(list);
		if (found)
			return t->ev[i];
	}
	return NULL;
}

/* The first openat of PATH by PID, or NULL. */
static json_object *open_of(const Trace *t, long long pid, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (ev_is(t->ev[i], "syscall") && ev_int(t->ev[i], "pid", 0) == pid &&
		    !strcmp(ev_str(t->ev[i], "syscall"), "openat") && ev_str(t->ev[i], "path") &&
		    !strcmp(ev_str(t->ev[i], "path"), path))
			return t->ev[i];
	return NULL;
}

/* Did PID open a file named NAME anywhere (successfully)? */
static bool opened_somewhere(const Trace *t, long long pid, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < t->n; i++) {
		const char *p;
		if (!ev_is(t->ev[i], "syscall") || ev_int(t->ev[i], "pid", 0) != pid ||
		    strcmp(ev_str(t->ev[i], "syscall"), "openat") || !(p = ev_str(t->ev[i], "path")))
			continue;
		size_t pl = strlen(p);
		if (pl > nl && p[pl - nl - 1] == '/' && !strcmp(p + pl - nl, name) &&
		    ev_int(t->ev[i], "result", -1) >= 0)
			return true;
	}
	return false;
}

static bool output_of_contains(const Trace *t, long long pid, const char *text)
{
	for (size_t i = 0; i < t->n; i++)
		if (ev_is(t->ev[i], "output") && ev_int(t->ev[i], "pid", 0) == pid &&
		    ev_str(t->ev[i], "text") && strstr(ev_str(t->ev[i], "text"), text))
			return true;
	return false;
}

/* The file of "load_backend: loaded CPU backend from FILE" by PID. */
static const char *cpu_backend_loaded(const Trace *t, long long pid)
{
	static char file[1024];
	for (size_t i = 0; i < t->n; i++) {
		const char *text = ev_str(t->ev[i], "text"), *at;
		if (!ev_is(t->ev[i], "output") || ev_int(t->ev[i], "pid", 0) != pid || !text ||
		    !(at = strstr(text, "loaded CPU backend from ")))
			continue;
		snprintf(file, sizeof(file), "%s", at + strlen("loaded CPU backend from "));
		file[strcspn(file, "\n")] = '\0';
		return file;
	}
	return NULL;
}

START_TEST(test_ollama_default_discovery_facts)
{
	Served s;
	serve(NULL, &s);
	const Trace *t = &s.r.trace;
	ck_assert(WIFEXITED(s.r.status));
	ck_assert_int_eq(WEXITSTATUS(s.r.status), 0);	/* SIGTERM forwarded, clean exit */

	long long server = ev_int(trace_find(t, "exec", NULL, NULL), "pid", -1);
	json_object *v13 = runner_for(t, "cuda_v13");
	ck_assert_msg(v13, "no runner for cuda_v13");
	long long pid13 = ev_int(v13, "pid", -1);
	ck_assert_int_eq(ev_int(v13, "ppid", 0), server);

	/* the runner itself opened the CUDA backend of its directory */
	char path[800];
	snprintf(path, sizeof(path), "%s/lib/ollama/cuda_v13/libggml-cuda.so", root);
	json_object *lib = open_of(t, pid13, path);
	ck_assert_msg(lib, "cuda_v13 runner never opened %s", path);
	ck_assert_int_ge(ev_int(lib, "result", -1), 3);

	/* its ELF facts were observed right after that first open */
	json_object *elf = NULL;
	for (size_t i = 0; i < t->n && !elf; i++)
		if (ev_is(t->ev[i], "observe") && ev_str(t->ev[i], "what") &&
		    !strcmp(ev_str(t->ev[i], "what"), "elf") && !strcmp(ev_str(t->ev[i], "path"), path))
			elf = t->ev[i];
	ck_assert_msg(elf, "no observe/elf event for %s", path);
	ck_assert_int_eq(ev_int(elf, "seq", 0), ev_int(lib, "seq", 0) + 1);
	ck_assert_str_eq(ev_str(elf, "runpath"), "$ORIGIN:");
	json_object *needed;
	ck_assert(json_object_object_get_ex(elf, "needed", &needed));
	bool needs_libcuda = false;
	for (size_t i = 0; i < json_object_array_length(needed); i++)
		needs_libcuda |= !strcmp(json_object_get_string(json_object_array_get_idx(needed, i)),
					 "libcuda.so.1");
	ck_assert(needs_libcuda);

	/* ... and the loader searched its LD_LIBRARY_PATH for the first
	 * dependency it cannot find: libcuda.so.1 where the CUDA 13 runtime
	 * is installed, else libcudart.so.13 (the loader stops there). */
	bool cuda13_runtime = opened_somewhere(t, pid13, "libcudart.so.13");
	const char *first_missing = cuda13_runtime ? "libcuda.so.1" : "libcudart.so.13";
	printf("ollama-live: the CUDA 13 runtime is %s here: the loader stops at %s\n",
	       cuda13_runtime ? "installed" : "absent", first_missing);
	snprintf(path, sizeof(path), "%s/lib/ollama/cuda_v13/%s", root, first_missing);
	json_object *cuda = open_of(t, pid13, path);
	ck_assert_msg(cuda, "no lookup of %s", path);
	ck_assert_str_eq(ev_str(cuda, "result"), "ENOENT");

	/* the server killed every runner with SIGKILL: the normal end */
	size_t runners = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (!is_runner(t->ev[i]))
			continue;
		runners++;
		long long rp = ev_int(t->ev[i], "pid", -1);
		bool killed = false;
		for (size_t j = 0; j < t->n; j++) {
			json_object *k = t->ev[j];
			if (ev_is(k, "syscall") && ev_str(k, "syscall") &&
			    ev_int(k, "target", 0) == rp && ev_int(k, "pid", 0) == server &&
			    !strcmp(ev_str(k, "signal"), "SIGKILL"))
				killed = true;
			if (ev_is(k, "exit") && ev_int(k, "pid", 0) == rp)
				ck_assert_str_eq(ev_str(k, "signal"), "SIGKILL");
		}
		ck_assert_msg(killed, "runner %lld not killed by the server", rp);
	}
	/* cuda_v12 and cuda_v13; vulkan is filtered without OLLAMA_VULKAN */
	ck_assert_uint_eq(runners, 2);
	ck_assert_ptr_nonnull(runner_for(t, "cuda_v12"));
	ck_assert_ptr_null(runner_for(t, "vulkan"));
	ck_assert_ptr_nonnull(strstr(s.r.err, "experimental Vulkan support disabled"));

	/* ggml's own log, written to /dev/null, recovered from fd 2 */
	snprintf(path, sizeof(path), "loaded CPU backend from %s/lib/ollama/libggml-cpu-", root);
	ck_assert_msg(output_of_contains(t, pid13, path), "no '%s' output from the runner", path);

	/* killed runner, observed at its exit stop: the CPU backend it loaded
	 * is still mapped, the CUDA one whose load failed is not */
	const char *cpu = cpu_backend_loaded(t, pid13);
	ck_assert_ptr_nonnull(cpu);
	ck_assert_msg(trace_mapped(t, pid13, cpu), "%s not mapped at the runner's end", cpu);
	snprintf(path, sizeof(path), "%s/lib/ollama/cuda_v13/libggml-cuda.so", root);
	ck_assert(!trace_mapped(t, pid13, path));
	run_result_free(&s.r);
}
END_TEST

START_TEST(test_ollama_llm_library_limits_probes)
{
	Served s;
	serve((const char *const[]){ "OLLAMA_LLM_LIBRARY=cuda_v13", NULL }, &s);
	const Trace *t = &s.r.trace;
	ck_assert_int_eq(WEXITSTATUS(s.r.status), 0);
	ck_assert_ptr_nonnull(runner_for(t, "cuda_v13"));
	ck_assert_ptr_null(runner_for(t, "cuda_v12"));
	size_t runners = 0;
	for (size_t i = 0; i < t->n; i++)
		runners += is_runner(t->ev[i]);
	ck_assert_uint_eq(runners, 1);
	run_result_free(&s.r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ollama");
	TCase *tc = tcase_create("ollama");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_ollama_default_discovery_facts);
	tcase_add_test(tc, test_ollama_llm_library_limits_probes);
	suite_add_tcase(s, tc);
	return check_run(s);
}
