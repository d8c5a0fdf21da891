/* The report as Prometheus metrics: exact samples for a known report,
 * label values escaped as the text format requires, families present
 * (with HELP and TYPE) when they have no sample, and nothing of argv. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "report/report-metrics.h"
#include "../check-run.h"

static char *render(const Report *r)
{
	char *text = NULL;
	size_t len = 0;
	ck_assert_int_eq(report_metrics_render(r, &text, &len), 0);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

/* Does TEXT hold LINE as a whole line? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

START_TEST(test_metrics_samples)
{
	char *cmd[] = { "ollama", "serve", "--secret-flag", NULL };
	ReportDirectory dirs[] = {
		{ .name = "cuda_v12", .path = "/usr/lib/ollama/cuda_v12", .verdict = "failed",
		  .reason = "missing-dependency" },
		{ .name = "cuda_v13", .path = "/usr/lib/ollama/cuda_v13", .verdict = "loaded", .reason = "loaded" },
		/* a path can hold anything: quote, backslash, line feed */
		{ .name = "odd", .path = "/opt/a\"b\\c\nd", .verdict = "absent", .reason = "no-such-directory" },
	};
	ReportDevice devs[] = { { .name = "CUDA0", .description = "NVIDIA H200", .library = "CUDA",
				  .directory = "cuda_v13", .id = "GPU-0a1b" } };
	ReportInjection inj[] = {
		{ .library = "libcuda.so.1", .method = "redirect", .status = "done" },
		{ .library = "libcuda.so.1", .method = "redirect", .status = "refused" },
		{ .library = "libcuda.so.1", .method = "redirect", .status = "done" },
	};
	Report r = { .command = cmd, .policy_name = "ollama", .scanner_version = "0.16.3",
		     .outcome_stated = true, .devices = devs, .n_devices = 1, .complete = false,
		     .started_at = "2026-12-02T05:18:13.124Z", .written_at = "2026-12-02T05:20:00.000Z",
		     .directories = dirs, .n_directories = 3, .injections = inj, .n_injections = 3,
		     .scanner_runs = 7, .scanner_ends = 5, .stops = 1234 };
	char *t = render(&r);
	static const char *const lines[] = {
		"# HELP vgpu_run_build_info vgpu-run's own version (label version); always 1.",
		"# TYPE vgpu_run_build_info gauge",
		"vgpu_run_build_info{version=\"" VGPU_VERSION "\"} 1",
		"vgpu_run_scanner_info{policy=\"ollama\",version=\"0.16.3\"} 1",
		"vgpu_run_directory_verdict{directory=\"cuda_v12\",path=\"/usr/lib/ollama/cuda_v12\","
		"verdict=\"failed\",reason=\"missing-dependency\"} 1",
		"vgpu_run_directory_verdict{directory=\"odd\",path=\"/opt/a\\\"b\\\\c\\nd\",verdict=\"absent\","
		"reason=\"no-such-directory\"} 1",
		"vgpu_run_directory_loaded{directory=\"cuda_v12\",path=\"/usr/lib/ollama/cuda_v12\"} 0",
		"vgpu_run_directory_loaded{directory=\"cuda_v13\",path=\"/usr/lib/ollama/cuda_v13\"} 1",
		"vgpu_run_outcome_stated 1",
		"vgpu_run_gpus 1",
		"vgpu_run_gpu_info{ggml_name=\"CUDA0\",device=\"NVIDIA H200\",library=\"CUDA\",directory=\"cuda_v13\","
		"id=\"GPU-0a1b\"} 1",
		"# TYPE vgpu_run_scanner_runs_total counter",
		"vgpu_run_scanner_runs_total 7",
		"vgpu_run_scanner_ends_total 5",
		"vgpu_run_injections_total{library=\"libcuda.so.1\",method=\"redirect\",status=\"done\"} 2",
		"vgpu_run_injections_total{library=\"libcuda.so.1\",method=\"redirect\",status=\"refused\"} 1",
		"vgpu_run_ptrace_stops_total 1234",
		"vgpu_run_start_time_seconds 1796188693.124",
		"vgpu_run_report_time_seconds 1796188800.000",
		"vgpu_run_report_complete 0",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++)
		ck_assert_msg(has_line(t, lines[i]), "no line '%s' in:\n%s", lines[i], t);
	ck_assert_ptr_null(strstr(t, "secret-flag"));
	free(t);
}
END_TEST

/* Nothing stated, nothing established: every family is still declared,
 * the GPU count is 0, and no timestamp is made up. */
START_TEST(test_metrics_empty_report)
{
	Report r = { 0 };
	char *t = render(&r);
	ck_assert(has_line(t, "# TYPE vgpu_run_gpu_info gauge"));
	ck_assert(has_line(t, "# TYPE vgpu_run_injections_total counter"));
	ck_assert(has_line(t, "vgpu_run_scanner_info{policy=\"\",version=\"\"} 1"));
	ck_assert(has_line(t, "vgpu_run_outcome_stated 0"));
	ck_assert(has_line(t, "vgpu_run_gpus 0"));
	ck_assert_ptr_null(strstr(t, "\nvgpu_run_gpu_info{"));
	ck_assert_ptr_null(strstr(t, "\nvgpu_run_start_time_seconds "));
	ck_assert_ptr_null(strstr(t, "\nvgpu_run_report_time_seconds "));
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	tcase_add_test(tc, test_metrics_samples);
	tcase_add_test(tc, test_metrics_empty_report);
	suite_add_tcase(s, tc);
	return check_run(s);
}
