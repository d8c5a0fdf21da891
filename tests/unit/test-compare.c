/* Unit tests: vgpu-report diff and check on reports built by hand
 * (report-build.h): what changed between two reports, one line each, in
 * text and JSON; expectations of verdicts, reasons and the outcome, and
 * every usage error. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/strv.h"
#include "report/report-compare.h"
#include "report/report-json.h"

#include "report-build.h"
#include "../check-run.h"

/* ---- diff ---- */

/* Directories from "NAME=VERDICT:REASON" specs. */
static void dirs_report(Report *r, const char *const *specs)
{
	memset(r, 0, sizeof(*r));
	size_t n = 0;
	while (specs[n])
		n++;
	r->directories = calloc(n + 1, sizeof(ReportDirectory));
	r->n_directories = n;
	for (size_t i = 0; i < n; i++) {
		char name[64], verdict[64], reason[64], path[128];
		ck_assert_int_eq(sscanf(specs[i], "%63[^=]=%63[^:]:%63[^;]", name, verdict, reason), 3);
		snprintf(path, sizeof(path), "/usr/lib/ollama/%s", name);
		r->directories[i] = dir(name, path, verdict, reason, NULL);
		/* ";missing=a,b;unresolved=x;versions=V of L": one library's facts */
		const char *facts = strchr(specs[i], ';');
		if (!facts)
			continue;
		ReportDirectory *d = &r->directories[i];
		d->libraries = calloc(1, sizeof(*d->libraries));
		d->n_libraries = 1;
		d->libraries[0].path = strdup("/usr/lib/ollama/x/libggml-cuda.so");
		for (const char *f = facts; f && *f == ';'; f = strchr(f + 1, ';')) {
			char key[32], list[256];
			ck_assert_int_eq(sscanf(f + 1, "%31[^=]=%255[^;]", key, list), 2);
			char ***v = !strcmp(key, "missing") ? &d->libraries[0].missing
				    : !strcmp(key, "unresolved") ? &d->libraries[0].unresolved
								 : &d->libraries[0].versions;
			char *save = NULL;
			for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save))
				ck_assert_int_eq(strv_push(v, w), 0);
		}
	}
}

#define SPECS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

static const struct {
	const char *const *before, *const *after;
	int ret;
	const char *text, *json;
} diff_cases[] = {
	{ SPECS("cuda_v12=failed:missing-dependency", "rocm=absent:no-such-directory"),
	  SPECS("cuda_v12=failed:missing-dependency", "rocm=absent:no-such-directory"), 0, "",
	  "{\"schema\":\"vgpu-run/diff/1\",\"changes\":[],\"details\":[]}\n" },
	{ SPECS("cuda_v12=failed:missing-dependency"), SPECS("cuda_v12=loaded:loaded"), 1,
	  "cuda_v12: failed:missing-dependency -> loaded:loaded\n",
	  "{\"schema\":\"vgpu-run/diff/1\",\"changes\":[{\"name\":\"cuda_v12\","
	  "\"before\":{\"verdict\":\"failed\",\"reason\":\"missing-dependency\"},"
	  "\"after\":{\"verdict\":\"loaded\",\"reason\":\"loaded\"}}],\"details\":[]}\n" },
	{ SPECS("cuda_v12=failed:missing-dependency"), SPECS("cuda_v12=failed:load-error"), 1,
	  "cuda_v12: failed:missing-dependency -> failed:load-error\n", NULL },
	{ SPECS("cuda_v12=loaded:loaded"), SPECS("cuda_v12=loaded:loaded", "cuda_v13=skipped:dropped"), 1,
	  "cuda_v13: (none) -> skipped:dropped\n",
	  "{\"schema\":\"vgpu-run/diff/1\",\"changes\":[{\"name\":\"cuda_v13\",\"before\":null,"
	  "\"after\":{\"verdict\":\"skipped\",\"reason\":\"dropped\"}}],\"details\":[]}\n" },
	{ SPECS("rocm=absent:no-such-directory", "vulkan=skipped:filtered-by-env"),
	  SPECS("vulkan=skipped:filtered-by-env"), 1, "rocm: absent:no-such-directory -> (none)\n",
	  "{\"schema\":\"vgpu-run/diff/1\",\"changes\":[{\"name\":\"rocm\","
	  "\"before\":{\"verdict\":\"absent\",\"reason\":\"no-such-directory\"},\"after\":null}],\"details\":[]}\n" },
	/* in name order whatever order the files had */
	{ SPECS("vulkan=skipped:never-scanned", "cuda_v12=failed:load-error", ".=loaded:loaded"),
	  SPECS(".=loaded:loaded", "cuda_v13=loaded:loaded", "vulkan=loaded:loaded"), 1,
	  "cuda_v12: failed:load-error -> (none)\n"
	  "cuda_v13: (none) -> loaded:loaded\n"
	  "vulkan: skipped:never-scanned -> loaded:loaded\n", NULL },
	/* the verdict stays, the facts move: each a line of its own */
	{ SPECS("cuda_v12=failed:missing-dependency;missing=libcudart.so.12"),
	  SPECS("cuda_v12=failed:missing-dependency;missing=libcublas.so.12,libcublasLt.so.12"), 1,
	  "cuda_v12: missing libcudart.so.12 -> libcublas.so.12, libcublasLt.so.12\n",
	  "{\"schema\":\"vgpu-run/diff/1\",\"changes\":[],\"details\":[{\"name\":\"cuda_v12\","
	  "\"field\":\"missing\",\"before\":[\"libcudart.so.12\"],"
	  "\"after\":[\"libcublas.so.12\",\"libcublasLt.so.12\"]}]}\n" },
	{ SPECS("cuda_v13=failed:load-error;unresolved=ggml_a;versions=GLIBCXX_3.4.32 of libstdc++.so.6"),
	  SPECS("cuda_v13=failed:load-error;unresolved=ggml_a,ggml_b"), 1,
	  "cuda_v13: unresolved symbols ggml_a -> ggml_a, ggml_b\n"
	  "cuda_v13: missing versions GLIBCXX_3.4.32 of libstdc++.so.6 -> (none)\n", NULL },
	/* a changed verdict says it all: its facts are not compared */
	{ SPECS("cuda_v12=failed:missing-dependency;missing=libcudart.so.12"),
	  SPECS("cuda_v12=failed:load-error;unresolved=x"), 1,
	  "cuda_v12: failed:missing-dependency -> failed:load-error\n", NULL },
	/* the same facts in another order, or twice: no change */
	{ SPECS("cuda_v12=failed:missing-dependency;missing=a.so,a.so"),
	  SPECS("cuda_v12=failed:missing-dependency;missing=a.so"), 0, "", NULL },
	{ NONE, NONE, 0, "", "{\"schema\":\"vgpu-run/diff/1\",\"changes\":[],\"details\":[]}\n" },
};

static int run_diff(const Report *a, const Report *b, bool json, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	ck_assert_ptr_nonnull(f);
	int k = report_diff(a, b, json, f);
	fclose(f);
	return k;
}

/* An empty item in a fact list (a report may hold one) ends the diff,
 * as any other (it looped forever). */
START_TEST(test_report_diff_empty_fact)
{
	Report a;
	dirs_report(&a, SPECS("cuda_v12=failed:missing-dependency;missing=a.so"));
	ck_assert_int_eq(strv_push(&a.directories[0].libraries[0].missing, ""), 0);
	_cleanup_free_ char *text = NULL;
	ck_assert_int_eq(run_diff(&a, &a, false, &text), 0);
	ck_assert_str_eq(text, "");
	report_done(&a);
}
END_TEST

START_TEST(test_report_diff_table)
{
	Report a, b;
	dirs_report(&a, diff_cases[_i].before);
	dirs_report(&b, diff_cases[_i].after);
	_cleanup_free_ char *text = NULL, *json = NULL;
	ck_assert_int_eq(run_diff(&a, &b, false, &text), diff_cases[_i].ret);
	ck_assert_str_eq(text, diff_cases[_i].text);
	ck_assert_int_eq(run_diff(&a, &b, true, &json), diff_cases[_i].ret);
	if (diff_cases[_i].json)
		ck_assert_str_eq(json, diff_cases[_i].json);
	report_done(&a);
	report_done(&b);
}
END_TEST

/* ---- check ---- */

static const struct {
	const char *const *expects;
	int ret;
	const char *out, *err;
} check_cases[] = {
	{ SPECS("cuda_v12=failed:missing-dependency"), 0, "", "" },
	{ SPECS("cuda_v12=failed"), 0, "", "" },
	{ SPECS("/usr/lib/ollama/cuda_v12=failed"), 0, "", "" },
	{ SPECS("/usr/lib/ollama/cuda_v12/=failed:missing-dependency"), 0, "", "" },
	{ SPECS(".=loaded", "rocm=absent:no-such-directory"), 0, "", "" },
	{ SPECS("cuda_v12=loaded"), 1, "cuda_v12: expected loaded, got failed:missing-dependency\n", "" },
	{ SPECS("/usr/lib/ollama/cuda_v12=failed:load-error", ".=loaded:loaded"), 1,
	  "/usr/lib/ollama/cuda_v12: expected failed:load-error, got failed:missing-dependency\n", "" },
	{ SPECS("cuda_v13=loaded:loaded", "vulkan=skipped"), 1,
	  "cuda_v13: expected loaded:loaded, got not-reported\n"
	  "vulkan: expected skipped, got not-reported\n", "" },
	/* a path holding '=' splits at the last one */
	{ SPECS("/opt/a=b=absent"), 1, "/opt/a=b: expected absent, got not-reported\n", "" },
	{ NONE, 2, "", "no --expect given: nothing to check" },
	{ SPECS("cuda_v12"), 2, "", "bad expectation 'cuda_v12': expected DIR=VERDICT[:REASON]" },
	{ SPECS("=loaded"), 2, "", "bad expectation '=loaded': expected DIR=VERDICT[:REASON]" },
	{ SPECS("cuda_v12="), 2, "", "bad expectation 'cuda_v12=': expected DIR=VERDICT[:REASON]" },
	{ SPECS("rocm=absent", "cuda_v12=laoded"), 2, "",
	  "bad expectation 'cuda_v12=laoded': unknown verdict 'laoded' (loaded, absent, skipped or failed)" },
	{ SPECS("cuda_v12=failed:"), 2, "",
	  "bad expectation 'cuda_v12=failed:': unknown reason '' for failed (missing-dependency, bad-library, load-error, init-failed, scanner-crashed, scanner-timeout)" },
	{ SPECS("cuda_v12=failed:Missing dep"), 2, "",
	  "bad expectation 'cuda_v12=failed:Missing dep': unknown reason 'Missing dep' for failed (missing-dependency, bad-library, load-error, init-failed, scanner-crashed, scanner-timeout)" },
	/* a mistyped reason, or another verdict's, is a usage error like a mistyped verdict */
	{ SPECS("cuda_v12=failed:bogus"), 2, "",
	  "bad expectation 'cuda_v12=failed:bogus': unknown reason 'bogus' for failed (missing-dependency, bad-library, load-error, init-failed, scanner-crashed, scanner-timeout)" },
	{ SPECS("cuda_v12=skipped:missing-dependency"), 2, "",
	  "bad expectation 'cuda_v12=skipped:missing-dependency': unknown reason 'missing-dependency' for skipped "
	  "(filtered-by-env, filtered-by-platform, never-scanned, not-reached, unreadable, dropped)" },
	{ SPECS("cuda_v12=failed:missing"), 2, "",
	  "bad expectation 'cuda_v12=failed:missing': unknown reason 'missing' for failed (missing-dependency, bad-library, load-error, init-failed, scanner-crashed, scanner-timeout)" },
};

START_TEST(test_report_check_table)
{
	Report r;
	dirs_report(&r, SPECS(".=loaded:loaded", "cuda_v12=failed:missing-dependency",
			      "rocm=absent:no-such-directory"));
	const char *const *ex = check_cases[_i].expects;
	size_t n = 0;
	while (ex[n])
		n++;
	char *out = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	ck_assert_int_eq(report_check(&r, (char *const *)ex, n, f, err, sizeof(err)), check_cases[_i].ret);
	fclose(f);
	ck_assert_str_eq(out, check_cases[_i].out);
	ck_assert_str_eq(err, check_cases[_i].err);
	free(out);
	report_done(&r);
}
END_TEST

START_TEST(test_report_expectation_parse_fields)
{
	ReportExpectation e;
	char err[128] = "";
	ck_assert_int_eq(report_expectation_parse("/a=b=failed:scanner-crashed", &e, err, sizeof(err)), 0);
	ck_assert_str_eq(e.dir, "/a=b");
	ck_assert_str_eq(e.verdict, "failed");
	ck_assert_str_eq(e.reason, "scanner-crashed");
	report_expectation_done(&e);
	ck_assert_int_eq(report_expectation_parse("rocm=absent", &e, err, sizeof(err)), 0);
	ck_assert_str_eq(e.dir, "rocm");
	ck_assert_ptr_null(e.reason);
	report_expectation_done(&e);
	ck_assert_ptr_null(e.text);
	ck_assert_int_eq(report_expectation_parse("rocm", &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "bad expectation 'rocm': expected DIR=VERDICT[:REASON]");
}
END_TEST

/* ---- the outcome: round trip, diff, check ---- */

/* R says it uses the devices named in NAMES ("NAME=DESCRIPTION"), or
 * "CPU only" when there is none; STATED false: not stated. */
static void outcome_report(Report *r, bool stated, const char *const *names)
{
	dirs_report(r, (const char *const[]){ "cuda_v13=loaded:loaded", NULL });
	r->outcome_stated = stated;
	size_t n = 0;
	while (names && names[n])
		n++;
	r->devices = calloc(n + 1, sizeof(*r->devices));
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(names[i], '=');
		r->devices[r->n_devices++] = (ReportDevice){
			.name = strndup(names[i], (size_t)(eq - names[i])), .description = S(eq + 1),
			.library = S("CUDA"), .directory = S("cuda_v13"), .total = S("139.8 GiB"), .seq = 40 + i,
		};
	}
	r->outcome_summary = S(!stated ? "not stated by the server (why)" : n ? "n GPUs: ..." : "CPU only");
}

START_TEST(test_report_outcome_round_trip_diff_and_check)
{
	Report a, b, c;
	char err[256] = "", *out = NULL;
	outcome_report(&a, true, (const char *const[]){ "CUDA0=NVIDIA H200", NULL });
	char *json = to_json(&a);
	ck_assert_ptr_nonnull(strstr(json, "\"outcome\":{\"stated\":true,\"summary\":\"n GPUs: ...\",\"devices\":"
					   "[{\"name\":\"CUDA0\",\"description\":\"NVIDIA H200\",\"library\":\"CUDA\","
					   "\"directory\":\"cuda_v13\",\"total\":\"139.8 GiB\",\"seq\":40}]}"));
	ck_assert_int_eq(read_str(json, &b, err, sizeof(err)), 0);
	ck_assert(b.outcome_stated);
	ck_assert_uint_eq(b.n_devices, 1);
	ck_assert_str_eq(b.devices[0].description, "NVIDIA H200");
	ck_assert_uint_eq(b.devices[0].seq, 40);
	char *again = to_json(&b);
	ck_assert_str_eq(again, json);
	free(again);
	free(json);

	/* diff: the same devices are no change; another name, count or CPU only is */
	ck_assert_int_eq(run_diff(&a, &b, false, &out), 0);
	ck_assert_str_eq(out, "");
	free(out);
	outcome_report(&c, true, NULL);
	ck_assert_int_eq(run_diff(&a, &c, false, &out), 1);
	ck_assert_str_eq(out, "outcome: n GPUs: ... -> CPU only\n");
	free(out);
	ck_assert_int_eq(run_diff(&a, &c, true, &out), 1);
	ck_assert_str_eq(out, "{\"schema\":\"vgpu-run/diff/1\",\"outcome\":{\"before\":\"n GPUs: ...\",\"after\":\"CPU only\"},"
			      "\"changes\":[],\"details\":[]}\n");
	free(out);
	report_done(&c);
	/* the same listed devices and more past the list: a change */
	outcome_report(&c, true, (const char *const[]){ "CUDA0=NVIDIA H200", NULL });
	c.devices_omitted = 3;
	ck_assert_int_eq(run_diff(&a, &c, false, &out), 1);
	ck_assert_str_eq(out, "outcome: n GPUs: ... -> n GPUs: ...\n");
	free(out);
	/* a count past 2^64 reads as the most, never as a small one */
	c.devices_omitted = UINT64_MAX;
	ReportOutcomeExpectation one = { .gpus = 1, .device = NULL };
	size_t n_out = 0;
	FILE *f1 = open_memstream(&out, &n_out);
	ck_assert_int_eq(report_check_all(&c, NULL, 0, &one, f1, err, sizeof(err)), 1);
	fclose(f1);
	free(out);
	ck_assert_uint_eq(report_gpus(&c), UINT64_MAX);
	report_done(&c);

	/* check */
	struct {
		long gpus;
		const char *device;
		int ret;
		const char *out;
	} cases[] = {
		{ 1, NULL, 0, "" },
		{ 1, "H200", 0, "" },
		{ -1, "^CUDA0$", 0, "" },
		{ 2, NULL, 1, "outcome: expected 2 GPUs, got n GPUs: ...\n" },
		{ 0, "H100", 1, "outcome: expected 0 GPUs, got n GPUs: ...\n"
				"outcome: expected a device matching 'H100', got n GPUs: ...\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ReportOutcomeExpectation oe = { .gpus = cases[i].gpus, .device = cases[i].device };
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		ck_assert_int_eq(report_check_all(&a, NULL, 0, &oe, f, err, sizeof(err)), cases[i].ret);
		fclose(f);
		ck_assert_str_eq(out, cases[i].out);
		free(out);
	}
	/* a bad or too costly expression is a usage error, before any check */
	ReportOutcomeExpectation bad = { .gpus = -1, .device = "(" };
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	ck_assert_int_eq(report_check_all(&a, NULL, 0, &bad, f, err, sizeof(err)), 2);
	fclose(f);
	ck_assert_str_eq(out, "");
	ck_assert_ptr_nonnull(strstr(err, "--expect-device: '(': "));
	free(out);
	/* one glibc compiles for minutes (a fuzz-check timeout) */
	bad.device = "$a*******T***********#***********)***************";
	f = open_memstream(&out, &len);
	ck_assert_int_eq(report_check_all(&a, NULL, 0, &bad, f, err, sizeof(err)), 2);
	fclose(f);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(err, "--expect-device: '$a*******T***********#***********)***************' is too complex to "
			      "compile (more than 8 repetitions of what can match nothing, as x** or (x*)*)");
	free(out);
	/* a report with no outcome at all (made before it existed) */
	outcome_report(&c, false, NULL);
	ReportOutcomeExpectation cpu = { .gpus = 0 };
	f = open_memstream(&out, &len);
	ck_assert_int_eq(report_check_all(&c, NULL, 0, &cpu, f, err, sizeof(err)), 1);
	fclose(f);
	ck_assert_str_eq(out, "outcome: expected 0 GPUs, got not stated by the server (why)\n");
	free(out);
	report_done(&c);
	report_done(&a);
	report_done(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compare");
	TCase *tc = tcase_create("compare");
	tcase_add_loop_test(tc, test_report_diff_table, 0, ELEMENTSOF(diff_cases));
	tcase_add_test(tc, test_report_diff_empty_fact);
	tcase_add_loop_test(tc, test_report_check_table, 0, ELEMENTSOF(check_cases));
	tcase_add_test(tc, test_report_expectation_parse_fields);
	tcase_add_test(tc, test_report_outcome_round_trip_diff_and_check);
	suite_add_tcase(s, tc);
	return check_run(s);
}
