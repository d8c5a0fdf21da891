/* Ollama's JetPack branch on the real kernel, on x86-64 and arm64 alike:
 * the Go fixture (tests/go/ollama, cudaJetpack() as Ollama has it) serves
 * an Ollama-shaped install with cuda_v12 and cuda_jetpack6 directories,
 * inside a private mount namespace whose /etc holds a staged
 * /etc/nv_tegra_release (an overlay: the real /etc is not touched).
 * vgpu-run runs outside that namespace and reads the file as the server
 * saw it.  On arm64 the JetPack found there keeps cuda_jetpack6 only; on
 * x86-64 Ollama never looks, and cuda_jetpack6 is what is left out. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "../check-run.h"

#define R36 "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan 8"

static bool on_arm64(void)
{
	struct utsname u;
	return uname(&u) == 0 && !strcmp(u.machine, "aarch64");
}

/* The install under TEST_WORKDIR/jetpack-NAME, with cuda_v12 and
 * cuda_jetpack6 each holding a backend library (on arm64, whose ggml
 * build has no GPU backend, the generic CPU one under the CUDA name:
 * the loader takes it all the same), and the staged /etc file. */
static void make_root(const char *name, char *root, size_t size)
{
	char cmd[4096];
	snprintf(root, size, "%s/jetpack-%s", env_path("TEST_WORKDIR"), name);
	snprintf(cmd, sizeof(cmd),
		 "set -e; rm -rf '%s'; '%s' '%s' '%s'; cd '%s/lib/ollama'; "
		 "mkdir -p cuda_v12 cuda_jetpack6; "
		 "[ -f cuda_v12/libggml-cuda.so ] || cp libggml-cpu-armv8.0_1.so cuda_v12/libggml-cuda.so; "
		 "cp cuda_v12/libggml-cuda.so cuda_jetpack6/; "
		 "mkdir -p '%s/etc' && printf '%%s\\n' '" R36 "' > '%s/etc/nv_tegra_release'",
		 root, env_path("MAKE_OLLAMA_INSTALL"), env_path("OLLAMA_FIXTURE"), root, root, root, root);
	ck_assert_msg(system(cmd) == 0, "cannot assemble the install: %s", cmd);
}

/* Serve it under vgpu-run with ENV, the server in its own mount
 * namespace; the report is read into *RET. */
static void serve(const char *root, const char *const *env, json_object **ret)
{
	char report[600], inner[2048];
	snprintf(report, sizeof(report), "%s/report.json", root);
	snprintf(inner, sizeof(inner),
		 "mount -t overlay overlay -o lowerdir='%s/etc':/etc /etc && exec '%s/bin/ollama' serve", root, root);
	const char *argv[] = { env_path("VGPU_RUN"), "-q", "-o", report, "--", "unshare", "-m", "sh", "-c", inner,
			       NULL };
	const char *all[8] = { "OLLAMA_HOST=127.0.0.1:0" };
	for (size_t i = 0; env && env[i] && i < 6; i++)
		all[i + 1] = env[i];
	unsetenv("OLLAMA_LLM_LIBRARY");
	unsetenv("JETSON_JETPACK");
	RunResult r;
	run_served(argv, all, "msg=\"inference compute\"", &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "vgpu-run: status %#x, stderr:\n%s",
		      r.status, r.err);
	run_result_free(&r);
	*ret = json_object_from_file(report);
	ck_assert_msg(*ret, "no report at %s", report);
}

static void expect(json_object *rep, const char *dir, const char *verdict, const char *reason, const char *detail)
{
	json_object *d = report_dir(rep, dir);
	ck_assert_msg(d, "no directory %s in the report", dir);
	char got[256], want[256];
	snprintf(got, sizeof(got), "%s:%s", ev_str(d, "verdict"), ev_str(d, "reason"));
	snprintf(want, sizeof(want), "%s:%s", verdict, reason);
	ck_assert_msg(!strcmp(got, want), "%s is %s (%s), expected %s", dir, got,
		      ev_str(d, "detail") ? ev_str(d, "detail") : "no detail", want);
	if (detail)
		ck_assert_str_eq(ev_str(d, "detail") ? ev_str(d, "detail") : "(none)", detail);
}

START_TEST(test_jetpack_from_nv_tegra_release)
{
	char root[512];
	json_object *rep;
	make_root("file", root, sizeof(root));
	serve(root, NULL, &rep);
	if (on_arm64()) {
		/* JetPack 6 from the staged line: nothing but cuda_jetpack6 is
		 * probed; its stand-in (a CPU backend) loads, and the server
		 * keeps the CPU it finds at the top level instead */
		expect(rep, "cuda_jetpack6", "skipped", "dropped", "loaded, but the server kept only ollama");
		expect(rep, "cuda_v12", "skipped", "filtered-by-platform", "/etc/nv_tegra_release: " R36);
	} else {
		/* Ollama looks for JetPack on arm64 only: cuda_v12 is probed as
		 * anywhere (and fails here for want of CUDA), cuda_jetpack6 not */
		json_object *v12 = report_dir(rep, "cuda_v12");
		ck_assert_ptr_nonnull(v12);
		ck_assert_str_eq(ev_str(v12, "verdict"), "failed");
		expect(rep, "cuda_jetpack6", "skipped", "filtered-by-platform",
		       "the platform is detected on aarch64 only; this host is x86_64");
	}
	json_object_put(rep);
}
END_TEST

/* JETSON_JETPACK comes before the file: here it names JetPack 5, which
 * is not installed, so nothing is probed at all on arm64. */
START_TEST(test_jetpack_from_the_environment)
{
	char root[512];
	json_object *rep;
	make_root("env", root, sizeof(root));
	serve(root, (const char *const[]){ "JETSON_JETPACK=5.1.2", NULL }, &rep);
	if (on_arm64()) {
		expect(rep, "cuda_v12", "skipped", "filtered-by-env", "JETSON_JETPACK=5.1.2");
		expect(rep, "cuda_jetpack6", "skipped", "filtered-by-env", "JETSON_JETPACK=5.1.2");
		expect(rep, "cuda_jetpack5", "absent", "no-such-directory", NULL);
	} else {
		/* x86-64 Ollama ignores JETSON_JETPACK: cuda_v12 is probed (and
		 * fails here for want of CUDA) */
		json_object *v12 = report_dir(rep, "cuda_v12");
		ck_assert_ptr_nonnull(v12);
		ck_assert_str_eq(ev_str(v12, "verdict"), "failed");
		expect(rep, "cuda_jetpack6", "skipped", "filtered-by-platform",
		       "the platform is detected on aarch64 only; this host is x86_64");
	}
	json_object_put(rep);
}
END_TEST

/* What vgpu-run records of the file, on any architecture: a program in
 * the namespace reads it twice (recorded once: same content), then one
 * opens a missing one.  vgpu-run itself sees its own /etc, without the
 * file: only through the reader's /proc/PID/root is it there. */
START_TEST(test_platform_file_read_as_the_process_sees_it)
{
	char root[512], inner[2048];
	make_root("observe", root, sizeof(root));
	ck_assert_int_ne(access("/etc/nv_tegra_release", F_OK), 0);
	snprintf(inner, sizeof(inner),
		 "mount -t overlay overlay -o lowerdir='%s/etc':/etc /etc && cat /etc/nv_tegra_release "
		 "/etc/nv_tegra_release >/dev/null", root);
	RunResult r;
	run_traced((const char *const[]){ "unshare", "-m", "sh", "-c", inner, NULL }, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x: %s", r.status, r.err);
	ck_assert_uint_eq(trace_count(&r.trace, "observe", "what", "platform"), 1);
	json_object *ev = trace_find(&r.trace, "observe", "what", "platform");
	ck_assert_str_eq(ev_str(ev, "path"), "/etc/nv_tegra_release");
	ck_assert_str_eq(ev_str(ev, "line"), R36);
	ck_assert_str_eq(ev_str(ev, "value"), "36");
	run_result_free(&r);

	/* outside the namespace there is none: the reader's own ENOENT */
	run_traced((const char *const[]){ "sh", "-c", "cat /etc/nv_tegra_release 2>/dev/null; true", NULL }, &r);
	ev = trace_find(&r.trace, "observe", "what", "platform");
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(ev_str(ev, "error"), "ENOENT");
	ck_assert_ptr_null(ev_str(ev, "line"));
	run_result_free(&r);
}
END_TEST

int main(void)
{
	if (geteuid() != 0) {
		printf("jetpack-live: skipped, the mount namespace needs root\n");
		return 77;
	}
	Suite *s = suite_create("jetpack");
	TCase *tc = tcase_create("jetpack");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_jetpack_from_nv_tegra_release);
	tcase_add_test(tc, test_jetpack_from_the_environment);
	tcase_add_test(tc, test_platform_file_read_as_the_process_sees_it);
	suite_add_tcase(s, tc);
	return check_run(s);
}
