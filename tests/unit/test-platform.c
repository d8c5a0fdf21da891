/* Unit tests: the diagnosis per platform and architecture, on hand-built
 * traces (trace-build.h): Ollama's JetPack branch on a Jetson and off it,
 * and a trace judged by the architecture of the host it was made on. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "trace-build.h"
#include "../check-run.h"

/* Ollama's JetPack branch (policy filter-platform): an Ollama install
 * on a host of ARCH, whose server has ENV (NAME, VALUE pairs) and read
 * /etc/nv_tegra_release (LINE, VALUE: the observe/platform event; NULL:
 * not read); cuda_v12, cuda_v13 and cuda_jetpack6 are installed, and a
 * runner loads each of LOADS. */
#define TEGRA_R36 "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64"
static Report jetson(const char *arch, const char *const *env, const char *line, const char *value,
		     const char *const *loads)
{
	Trace t;
	begin_on(&t, "ollama", arch);
	exec_(&t, 100, 1, "/opt/o/bin/ollama", (const char *const[]){ "ollama", "serve", NULL }, env);
	output(&t, 100, "msg=\"Listening on 127.0.0.1:11434 (version 0.16.3)\"\n");
	listing(&t, (const char *const[]){ "cuda_v12", "libggml-cuda.so", "", "cuda_v13", "libggml-cuda.so", "",
					   "cuda_jetpack6", "libggml-cuda.so", NULL });
	if (line) {
		json_object *ev = event("observe", 100);
		json_object_object_add(ev, "what", json_object_new_string("platform"));
		json_object_object_add(ev, "path", json_object_new_string("/etc/nv_tegra_release"));
		json_object_object_add(ev, "line", json_object_new_string(line));
		if (value)
			json_object_object_add(ev, "value", json_object_new_string(value));
		put(&t, ev);
	}
	for (int i = 0; loads && loads[i]; i++)
		runner_loads(&t, 101 + i, loads[i]);
	return diagnose(&t);
}

START_TEST(test_diagnose_jetpack)
{
	/* a Jetson with JetPack 6: only cuda_jetpack6 is probed */
	Report r = jetson("aarch64", NULL, TEGRA_R36, "36", (const char *const[]){ "cuda_jetpack6", NULL });
	expect_dir(&r, "cuda_jetpack6", "loaded:loaded");
	expect_dir(&r, "cuda_v12", "skipped:filtered-by-platform");
	ck_assert_str_eq(dir(&r, "cuda_v12")->detail, "/etc/nv_tegra_release: " TEGRA_R36);
	expect_next(&r, "cuda_v12", NULL);	/* nothing to do: jetpack6 loaded */
	expect_dir(&r, "cuda_v13", "skipped:filtered-by-platform");
	report_done(&r);

	/* even a requested cuda_v12 is skipped there, silently: everything
	 * is, cuda_jetpack6 by the request itself */
	r = jetson("aarch64", (const char *const[]){ "OLLAMA_LLM_LIBRARY", "cuda_v12", NULL }, TEGRA_R36, "36", NULL);
	expect_dir(&r, "cuda_v12", "skipped:filtered-by-platform");
	expect_dir(&r, "cuda_jetpack6", "skipped:filtered-by-env");
	ck_assert_str_eq(dir(&r, "cuda_jetpack6")->detail, "OLLAMA_LLM_LIBRARY=cuda_v12");
	expect_next(&r, "cuda_v12",
		    "this platform selects cuda_jetpack6, the only directory the server probes on this host whatever "
		    "else asks for another, and cuda_jetpack6 is skipped:filtered-by-env (its entry says why): install "
		    "the server's cuda_jetpack6 libraries");
	report_done(&r);

	/* JETSON_JETPACK comes first; here it names a JetPack not installed */
	r = jetson("aarch64", (const char *const[]){ "JETSON_JETPACK", "5.1.2", NULL }, NULL, NULL, NULL);
	expect_dir(&r, "cuda_v12", "skipped:filtered-by-env");
	ck_assert_str_eq(dir(&r, "cuda_v12")->detail, "JETSON_JETPACK=5.1.2");
	expect_dir(&r, "cuda_jetpack5", "absent:no-such-directory");
	expect_dir(&r, "cuda_jetpack6", "skipped:filtered-by-env");
	expect_next(&r, "cuda_v12",
		    "JETSON_JETPACK=5.1.2 selects cuda_jetpack5, the only directory the server probes on this host, "
		    "and cuda_jetpack5 is absent:no-such-directory (its entry says why): set JETSON_JETPACK to the "
		    "platform version installed, or unset it to have /etc/nv_tegra_release read");
	report_done(&r);

	/* no JetPack: a release Ollama does not map, or no file at all */
	r = jetson("aarch64", NULL, "# R38 (release), REVISION: 2.0", "38",
		   (const char *const[]){ "cuda_v12", "cuda_v13", NULL });
	expect_dir(&r, "cuda_jetpack6", "skipped:filtered-by-platform");
	ck_assert_str_eq(dir(&r, "cuda_jetpack6")->detail,
			 "no platform detected: /etc/nv_tegra_release: # R38 (release), REVISION: 2.0");
	expect_next(&r, "cuda_jetpack6", "cuda_jetpack6 is probed only on a detected platform: set JETSON_JETPACK "
					 "to the platform's version (x.y.z) in the server's environment to have it "
					 "probed");
	expect_dir(&r, "cuda_v12", "loaded:loaded");
	report_done(&r);
	r = jetson("aarch64", NULL, NULL, NULL, (const char *const[]){ "cuda_v13", NULL });
	ck_assert_str_eq(dir(&r, "cuda_jetpack6")->detail,
			 "no platform detected: JETSON_JETPACK unset, /etc/nv_tegra_release not read by the server");
	report_done(&r);

	/* x86-64: the branch is not there; JETSON_JETPACK and the file do
	 * nothing, and cuda_jetpack6 is never probed */
	r = jetson("x86_64", (const char *const[]){ "JETSON_JETPACK", "6.0", NULL }, NULL, NULL,
		   (const char *const[]){ "cuda_v12", "cuda_v13", NULL });
	expect_dir(&r, "cuda_v12", "loaded:loaded");
	expect_dir(&r, "cuda_jetpack6", "skipped:filtered-by-platform");
	ck_assert_str_eq(dir(&r, "cuda_jetpack6")->detail, "the platform is detected on aarch64 only; this host is x86_64");
	expect_next(&r, "cuda_jetpack6", "cuda_jetpack6 is used on aarch64 hosts only: on this x86_64 host it is never probed");
	report_done(&r);
}
END_TEST

/* A trace is judged by the architecture of the host it was made on (its
 * header's host.arch), wherever it is read: on an arm64 host an aarch64
 * library is native and a missing dependency is searched for in the arm64
 * default directories; the same events from an x86-64 host make it a
 * library for another machine. */
static Report arm64_scan(const char *arch)
{
	Trace t;
	begin_on(&t, "ggml", arch);
	exec_(&t, 200, 1, "/usr/bin/node", (const char *const[]){ "node", "app.js", NULL }, NULL);
	const char *cuda = "/opt/n/bins/linux-arm64-cuda/libggml-cuda.so";
	open_(&t, 200, cuda, 6);
	json_object *elf = event("observe", 200), *needed = json_object_new_array();
	json_object_object_add(elf, "what", json_object_new_string("elf"));
	json_object_object_add(elf, "path", json_object_new_string(cuda));
	json_object_object_add(elf, "class", json_object_new_int(64));
	json_object_object_add(elf, "machine", json_object_new_string("aarch64"));
	json_object_array_add(needed, json_object_new_string("libcudart.so.13"));
	json_object_object_add(elf, "needed", needed);
	put(&t, elf);
	open_(&t, 200, "/lib/aarch64-linux-gnu/libcudart.so.13", -1);
	open_(&t, 200, "/usr/lib/aarch64-linux-gnu/libcudart.so.13", -1);
	open_(&t, 200, "/lib/libcudart.so.13", -1);
	open_(&t, 200, "/usr/lib/libcudart.so.13", -1);
	return diagnose(&t);
}

START_TEST(test_diagnose_by_the_traced_hosts_arch)
{
	Report r = arm64_scan("aarch64");
	const ReportDirectory *d = dir(&r, "/opt/n/bins/linux-arm64-cuda");
	ck_assert_str_eq(d->reason, "missing-dependency");
	ck_assert_str_eq(d->libraries[0].missing[0], "libcudart.so.13");
	ck_assert_str_eq(d->detail, "libggml-cuda.so needs libcudart.so.13, found nowhere: 1. ld.so.cache: not recorded; "
				    "2. default directories /lib/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu, /lib, /usr/lib");
	report_done(&r);

	r = arm64_scan("x86_64");
	d = dir(&r, "/opt/n/bins/linux-arm64-cuda");
	ck_assert_str_eq(d->reason, "bad-library");
	ck_assert_str_eq(d->detail, "libggml-cuda.so: ELF class 64, machine aarch64; this is x86-64");
	report_done(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("platform");
	TCase *tc = tcase_create("platform");
	tcase_add_test(tc, test_diagnose_jetpack);
	tcase_add_test(tc, test_diagnose_by_the_traced_hosts_arch);
	suite_add_tcase(s, tc);
	return check_run(s);
}
