/* Unit tests: the diagnosis on hand-built traces, for what a live run on
 * this machine cannot produce (a directory loaded then dropped, one never
 * scanned, the ggml policy's "any process" scanners, a version outside the
 * policy's range).  The traces are built event by event with json-c. */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose.h"
#include "report/report-compare.h"
#include "report/report-json.h"
#include "report/report-metrics.h"
#include "report/report-out.h"
#include "report/report-text.h"

#include "trace-build.h"
#include "../check-run.h"

START_TEST(test_diagnose_overlap_drops_cuda_v12)
{
	Trace t;
	begin(&t, "ollama");
	server(&t, "0.16.3");
	listing(&t, (const char *const[]){ "cuda_v12", "libggml-cuda.so", "", "cuda_v13",
					   "libggml-cuda.so", "", "mlx_cuda_v13", "libggml-x.so", NULL });
	runner_loads(&t, 101, "cuda_v12");	/* pass 1 */
	runner_loads(&t, 102, "cuda_v13");
	runner_loads(&t, 103, "cuda_v13");	/* a later probe */
	/* the server says what it kept (policy "kept") */
	output(&t, 100, "msg=\"inference compute\" id=0 library=CUDA libdirs=ollama,cuda_v13 driver=\"\"\n");
	Report r = diagnose(&t);
	ck_assert_str_eq(dir(&r, "cuda_v12")->verdict, "skipped");
	ck_assert_str_eq(dir(&r, "cuda_v12")->reason, "dropped");
	ck_assert_str_eq(dir(&r, "cuda_v12")->detail, "loaded, but the server kept only ollama,cuda_v13");
	ck_assert_str_eq(dir(&r, "cuda_v13")->reason, "loaded");
	ck_assert_uint_eq(dir(&r, "cuda_v13")->n_runs, 2);
	/* a candidate no runner was ever pointed at */
	ck_assert_str_eq(dir(&r, "mlx_cuda_v13")->verdict, "skipped");
	ck_assert_str_eq(dir(&r, "mlx_cuda_v13")->reason, "never-scanned");
	ck_assert_str_eq(dir(&r, "rocm")->reason, "no-such-directory");
	ck_assert_str_eq(r.scanner_version, "0.16.3");
	ck_assert_str_eq(r.processes[1].exit.by, "parent");
	ck_assert_str_eq(r.processes[1].role, "scanner");
	report_done(&r);
}
END_TEST

/* A library root that could not be listed (it stalled past the limit on
 * a look at a file) says nothing of what it holds: the directories no
 * scanner ran on are unreadable, not absent; a root that does not exist
 * means they do not either. */
START_TEST(test_diagnose_unlisted_root_is_not_absence)
{
	static const char *const errs[] = { "ETIMEDOUT", "ENOENT" };
	for (size_t i = 0; i < 2; i++) {
		Trace t;
		begin(&t, "ollama");
		server(&t, "0.16.3");
		json_object *ev = event("observe", 100);
		json_object_object_add(ev, "what", json_object_new_string("listing"));
		json_object_object_add(ev, "path", json_object_new_string(ROOT));
		json_object_object_add(ev, "error", json_object_new_string(errs[i]));
		put(&t, ev);
		Report r = diagnose(&t);
		if (i == 0) {
			ck_assert_str_eq(dir(&r, "cuda_v12")->verdict, "skipped");
			ck_assert_str_eq(dir(&r, "cuda_v12")->reason, "unreadable");
			ck_assert_str_eq(dir(&r, "cuda_v12")->detail,
					 ROOT "/cuda_v12: the library root " ROOT " could not be listed: ETIMEDOUT");
		} else {
			ck_assert_str_eq(dir(&r, "cuda_v12")->verdict, "absent");
			ck_assert_str_eq(dir(&r, "cuda_v12")->reason, "no-such-directory");
		}
		report_done(&r);
	}
}
END_TEST

START_TEST(test_diagnose_first_pass_order_is_not_a_drop)
{
	/* pass 1 probes each directory once, in random order: cuda_v13 then
	 * cuda_v12 loaded says nothing about which one Ollama kept */
	Trace t;
	begin(&t, "ollama");
	server(&t, "0.16.3");
	listing(&t, (const char *const[]){ "cuda_v12", "libggml-cuda.so", "", "cuda_v13",
					   "libggml-cuda.so", NULL });
	runner_loads(&t, 101, "cuda_v13");
	runner_loads(&t, 102, "cuda_v12");
	Report r = diagnose(&t);
	ck_assert_str_eq(dir(&r, "cuda_v12")->reason, "loaded");
	ck_assert_str_eq(dir(&r, "cuda_v13")->reason, "loaded");
	report_done(&r);
}
END_TEST

START_TEST(test_diagnose_version_outside_policy_noted)
{
	Trace t;
	begin(&t, "ollama");
	server(&t, "0.21.0");
	Report r = diagnose(&t);
	ck_assert_str_eq(r.scanner_version, "0.21.0");
	bool noted = false, no_scanner = false;
	for (char **n = r.notes; n && *n; n++) {
		noted |= !strcmp(*n, "scanner version 0.21.0 is outside 0.13 to 0.20, which policy ollama "
				     "was written for: verdicts may not match");
		no_scanner |= !strcmp(*n, "no scanner process was seen (policy ollama)");
	}
	ck_assert(noted);
	ck_assert(no_scanner);
	report_done(&r);
}
END_TEST

START_TEST(test_diagnose_ggml_policy_any_process_scans)
{
	Trace t;
	begin(&t, "ggml");
	exec_(&t, 200, 1, "/usr/bin/node", (const char *const[]){ "node", "app.js", NULL }, NULL);
	const char *cuda = "/opt/n/bins/linux-x64-cuda/libggml-cuda.so";
	const char *cpu = "/opt/n/bins/linux-x64/libggml-cpu-haswell.so";
	open_(&t, 200, cpu, 5);
	output(&t, 200, "load_backend: loaded CPU backend from /opt/n/bins/linux-x64/libggml-cpu-haswell.so\n");
	open_(&t, 200, cuda, 6);
	open_(&t, 200, "/opt/n/bins/linux-x64-cuda/libcudart.so.13", -1);
	open_(&t, 200, "/usr/lib/libcudart.so.13", -1);
	Report r = diagnose(&t);
	ck_assert_uint_eq(r.n_directories, 2);
	const ReportDirectory *d = dir(&r, "/opt/n/bins/linux-x64-cuda");
	ck_assert_str_eq(d->verdict, "failed");
	/* no ELF facts in this trace: the lookups name the missing soname */
	ck_assert_str_eq(d->reason, "missing-dependency");
	ck_assert_str_eq(d->libraries[0].missing[0], "libcudart.so.13");
	ck_assert_str_eq(d->libraries[0].searched[1], "/usr/lib/libcudart.so.13");
	ck_assert_str_eq(dir(&r, "/opt/n/bins/linux-x64")->reason, "loaded");
	ck_assert_str_eq(r.processes[0].role, "server");
	report_done(&r);
}
END_TEST

/* Traces recorded on an H100 (tests/data/traces/README.md): a CUDA
 * backend that found the GPU, and Ollama's overlap rule at work. */
static const struct {
	const char *trace, *cuda_v12, *cuda_v13;
} gpu_traces[] = {
	{ "gpu-default", "skipped:dropped", "loaded:loaded" },
	{ "gpu-llm-library", "skipped:filtered-by-env", "loaded:loaded" },
	{ "gpu-debug", "skipped:dropped", "loaded:loaded" },
};

START_TEST(test_diagnose_gpu_traces)
{
	char trace[1024], policy[1024], err[512] = "";
	const char *src = getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".";
	snprintf(trace, sizeof(trace), "%s/tests/data/traces/%s.trace.jsonl", src, gpu_traces[_i].trace);
	snprintf(policy, sizeof(policy), "%s/policies/ollama.policy", src);
	Report r;
	ck_assert_msg(diagnose_trace_file(trace, policy, &r, err, sizeof(err)) == 0, "%s", err);
	expect_dir(&r, ".", "loaded:loaded");
	expect_dir(&r, "cuda_v12", gpu_traces[_i].cuda_v12);
	expect_dir(&r, "cuda_v13", gpu_traces[_i].cuda_v13);
	expect_dir(&r, "rocm", "absent:no-such-directory");
	ck_assert_str_eq(r.scanner_version, "0.16.3");
	/* the cause beside each verdict: none for loaded */
	ck_assert_ptr_null(dir(&r, "cuda_v13")->cause);
	ck_assert_str_eq(dir(&r, "rocm")->cause, "no such directory");
	/* what the server said it uses, from its own line (recorded on an H100) */
	ck_assert(r.outcome_stated);
	ck_assert_str_eq(r.outcome_summary, "1 GPU: NVIDIA H100 80GB HBM3 (CUDA, cuda_v13, 79.2 GiB)");
	ck_assert_uint_eq(r.n_devices, 1);
	ck_assert_str_eq(r.devices[0].name, "CUDA0");
	ck_assert_str_eq(r.devices[0].library, "CUDA");
	ck_assert_str_eq(r.devices[0].directory, "cuda_v13");
	ck_assert_str_eq(r.devices[0].available, "78.7 GiB");
	ck_assert_str_eq(r.devices[0].type, "discrete");
	ck_assert_uint_gt(r.devices[0].seq, 0);
	report_done(&r);
}
END_TEST

/* A trace without a policy ("policy": null, or one of the wrong types) and
 * an ELF observation with an empty RUNPATH element: no verdicts, a note,
 * no crash (faults.md #1: fnmatch with a NULL backend pattern). */
START_TEST(test_diagnose_no_policy_no_crash)
{
	static const char *const policies[] = { "null", "{\"name\":1,\"path\":[],\"text\":5}" };
	char text[2048], err[512] = "";
	snprintf(text, sizeof(text),
		 "{\"seq\":1,\"t_ns\":0,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1\",\"tool\":{\"name\":"
		 "\"vgpu-run\",\"version\":\"0.1.0\"},\"command\":[\"/bin/true\"],\"policy\":%s,\"host\":{\"arch\":"
		 "\"x86_64\",\"kernel\":\"6.1\"},\"capture_fds\":[2],\"env_keep\":[\"LD_LIBRARY_PATH\"]}\n"
		 "{\"seq\":2,\"t_ns\":1,\"event\":\"observe\",\"pid\":10,\"tid\":10,\"what\":\"elf\",\"path\":"
		 "\"/opt/x/libfoo.so\",\"class\":64,\"byte_order\":\"little\",\"machine\":\"x86-64\",\"type\":3,"
		 "\"needed\":[],\"runpath\":\"$ORIGIN:\",\"undefined\":[]}\n",
		 policies[_i]);
	FILE *f = fmemopen(text, strlen(text), "r");
	Report r;
	ck_assert_msg(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)) == 0, "%s", err);
	fclose(f);
	ck_assert_uint_eq(r.n_directories, 0);
	ck_assert_str_eq(r.notes[0], "no policy in the trace: no directory verdicts");
	ck_assert_str_eq(r.outcome_summary, "not stated by the server (no policy, so no outcome rule)");
	report_done(&r);
}
END_TEST

/* Traces recorded on an H200 by scripts/record-gpu-trace (README there):
 * the outcome the server stated, the driver each scanner mapped, and a
 * misvalued OLLAMA_LLM_LIBRARY that leaves a GPU machine on the CPU. */
START_TEST(test_diagnose_h200_traces)
{
	char trace[1024], policy[1024], err[512] = "";
	const char *src = getenv("SOURCE_ROOT") ? getenv("SOURCE_ROOT") : ".";
	snprintf(policy, sizeof(policy), "%s/policies/ollama.policy", src);
	snprintf(trace, sizeof(trace), "%s/tests/data/traces/h200-default.trace.jsonl", src);
	Report r;
	ck_assert_msg(diagnose_trace_file(trace, policy, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert(r.outcome_stated);
	ck_assert_str_eq(r.outcome_summary, "1 GPU: NVIDIA H200 (CUDA, cuda_v13, 139.8 GiB)");
	ck_assert_uint_eq(r.n_devices, 1);
	ck_assert_str_eq(r.devices[0].description, "NVIDIA H200");
	ck_assert_str_eq(r.devices[0].name, "CUDA0");
	ck_assert_str_eq(r.devices[0].total, "139.8 GiB");
	expect_dir(&r, ".", "loaded:loaded");
	expect_dir(&r, "cuda_v12", "skipped:dropped");
	expect_dir(&r, "cuda_v13", "loaded:loaded");
	expect_dir(&r, "vulkan", "absent:no-such-directory");
	ck_assert_ptr_null(dir(&r, "cuda_v13")->next);
	size_t drivers = 0;
	for (size_t i = 0; i < r.n_processes; i++)
		for (size_t k = 0; k < r.processes[i].n_drivers; k++) {
			ck_assert_str_eq(r.processes[i].drivers[k].library, "libcuda.so.1");
			ck_assert_str_eq(r.processes[i].drivers[k].path, "/usr/local/nvidia/lib64/libcuda.so.1");
			ck_assert_ptr_null(r.processes[i].drivers[k].kind);	/* the driver's own */
			drivers++;
		}
	ck_assert_uint_eq(drivers, 4);	/* every runner */
	report_done(&r);

	snprintf(trace, sizeof(trace), "%s/tests/data/traces/h200-llm-library-misvalued.trace.jsonl", src);
	ck_assert_msg(diagnose_trace_file(trace, policy, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert(r.outcome_stated);
	ck_assert_str_eq(r.outcome_summary, "CPU only");
	ck_assert_uint_eq(r.n_devices, 0);
	expect_dir(&r, "cuda_v12", "skipped:filtered-by-env");
	expect_dir(&r, "cuda_v13", "skipped:filtered-by-env");
	ck_assert_str_eq(dir(&r, "cuda_v13")->next, "OLLAMA_LLM_LIBRARY=cuda names no directory here (cuda_v12, "
						    "cuda_v13): set it to cuda_v13 to use this one, or unset it");
	report_done(&r);
}
END_TEST

/* The outcome: a statement is a run of the server's outcome lines, one
 * per device; a later statement replaces it; library=cpu says none. */
START_TEST(test_diagnose_outcome_statements)
{
	Trace t;
	begin(&t, "ollama");
	server(&t, "0.16.3");
	output(&t, 100, "time=x level=INFO msg=\"inference compute\" id=GPU-1 library=CUDA compute=9.0 name=CUDA0 "
			"description=\"NVIDIA H200\" libdirs=ollama,cuda_v13 driver=13.0 pci_id=0000:00:05.0 "
			"type=discrete total=\"139.8 GiB\" available=\"139.1 GiB\"\n"
			"time=x level=INFO msg=\"inference compute\" id=GPU-2 library=CUDA compute=9.0 name=CUDA1 "
			"description=\"NVIDIA \\\"H200\\\" NVL\" libdirs=ollama,cuda_v13 driver=13.0 pci_id=0000:00:06.0 "
			"type=discrete total=\"139.8 GiB\" available=\"139.1 GiB\"\n");
	Report r = diagnose(&t);
	ck_assert(r.outcome_stated);
	ck_assert_str_eq(r.outcome_summary, "2 GPUs: NVIDIA H200 (CUDA, cuda_v13, 139.8 GiB); "
					    "NVIDIA \"H200\" NVL (CUDA, cuda_v13, 139.8 GiB)");
	ck_assert_uint_eq(r.n_devices, 2);
	ck_assert_str_eq(r.devices[1].name, "CUDA1");
	ck_assert_str_eq(r.devices[1].id, "GPU-2");
	ck_assert_str_eq(r.devices[0].directory, "cuda_v13");
	report_done(&r);

	/* said again after other lines: the last statement wins */
	begin(&t, "ollama");
	server(&t, "0.16.3");
	output(&t, 100, "msg=\"inference compute\" id=GPU-1 library=CUDA name=CUDA0 description=\"NVIDIA H200\" "
			"libdirs=ollama,cuda_v13 total=\"139.8 GiB\"\n");
	output(&t, 100, "msg=\"something else\"\n");
	output(&t, 100, "msg=\"inference compute\" id=cpu library=cpu compute=\"\" name=cpu description=cpu "
			"libdirs=ollama driver=\"\" pci_id=\"\" type=\"\" total=\"62.7 GiB\" available=\"60.1 GiB\"\n");
	r = diagnose(&t);
	ck_assert(r.outcome_stated);
	ck_assert_str_eq(r.outcome_summary, "CPU only");
	ck_assert_uint_eq(r.n_devices, 0);
	report_done(&r);

	/* ggml's own device lines (the ggml policy: regex groups as fields) */
	begin(&t, "ggml");
	exec_(&t, 100, 1, "/opt/llama/llama-server", (const char *const[]){ "llama-server", NULL }, NULL);
	output(&t, 100, "ggml_cuda_init: found 2 CUDA devices:\n"
			"  Device 0: NVIDIA H200, compute capability 9.0, VMM: yes\n"
			"  Device 1: NVIDIA GeForce RTX 4090, compute capability 8.9, VMM: yes\n");
	r = diagnose(&t);
	ck_assert(r.outcome_stated);
	ck_assert_str_eq(r.outcome_summary, "2 GPUs: NVIDIA H200; NVIDIA GeForce RTX 4090");
	ck_assert_str_eq(r.devices[1].id, "1");
	ck_assert_str_eq(r.devices[1].compute, "8.9");
	report_done(&r);

	/* never said, in a whole run */
	begin(&t, "ollama");
	server(&t, "0.16.3");
	r = diagnose(&t);
	ck_assert(!r.outcome_stated);
	ck_assert_str_eq(r.outcome_summary,
			 "not stated by the server (it logged no line the policy's outcome rule matches)");
	report_done(&r);
}
END_TEST

/* More GPUs than the report lists (16): the rest are counted, and the
 * count is what the metrics, check --expect-gpus and diff use. */
START_TEST(test_diagnose_outcome_past_the_device_list)
{
	Trace t;
	begin(&t, "ggml");
	exec_(&t, 100, 1, "/opt/llama/llama-server", (const char *const[]){ "llama-server", NULL }, NULL);
	char lines[4096] = "ggml_cuda_init: found 20 CUDA devices:\n";
	for (int i = 0; i < 20; i++)
		snprintf(lines + strlen(lines), sizeof(lines) - strlen(lines),
			 "  Device %d: NVIDIA H200, compute capability 9.0, VMM: yes\n", i);
	output(&t, 100, lines);
	Report r = diagnose(&t);
	ck_assert(r.outcome_stated);
	ck_assert_uint_eq(r.n_devices, 16);
	ck_assert_uint_eq(r.devices_omitted, 4);
	ck_assert_str_eq(r.devices[15].id, "15");
	ck_assert_ptr_nonnull(strstr(r.outcome_summary, "20 GPUs: NVIDIA H200; "));
	ck_assert_ptr_nonnull(strstr(r.outcome_summary, "; and 4 more"));

	char *text, err[512];
	size_t len;
	ck_assert_int_eq(report_metrics_render(&r, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\nvgpu_run_gpus 20\n"));
	free(text);

	ReportOutcomeExpectation twenty = { .gpus = 20 }, sixteen = { .gpus = 16 };
	char *out;
	size_t out_len;
	FILE *f = open_memstream(&out, &out_len);
	ck_assert_int_eq(report_check_all(&r, NULL, 0, &twenty, f, err, sizeof(err)), 0);
	ck_assert_int_eq(report_check_all(&r, NULL, 0, &sixteen, f, err, sizeof(err)), 1);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "outcome: expected 16 GPUs, got 20 GPUs: "));
	free(out);

	/* kept across JSON */
	ck_assert_int_eq(report_render_buffer(&r, REPORT_FORMAT_JSON, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"devices_omitted\":4}"));
	Report back;
	ck_assert_msg(report_json_read_text(text, len, &back, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(back.devices_omitted, 4);
	free(text);
	report_done(&back);
	report_done(&r);
}
END_TEST

START_TEST(test_diagnose_rejects_unknown_schema)
{
	const char *text = "{\"seq\":1,\"event\":\"header\",\"schema\":\"vgpu-run/trace/2\"}\n";
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	Report r;
	char err[256] = "";
	ck_assert_int_eq(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)), -EPROTO);
	ck_assert_str_eq(err, "t.jsonl:1: unknown trace schema 'vgpu-run/trace/2'");
	fclose(f);
	/* a minor version is digits, as reports' (faults.md #37) */
	static const char *const odd[] = { "vgpu-run/trace/1.abc", "vgpu-run/trace/1.", "vgpu-run/trace/1.2x",
					   "vgpu-run/trace/12" };
	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		char line[256], want[256];
		snprintf(line, sizeof(line), "{\"seq\":1,\"event\":\"header\",\"schema\":\"%s\"}\n", odd[i]);
		f = fmemopen(line, strlen(line), "r");
		ck_assert_int_eq(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)), -EPROTO);
		snprintf(want, sizeof(want), "t.jsonl:1: unknown trace schema '%s'", odd[i]);
		ck_assert_str_eq(err, want);
		fclose(f);
	}
	/* a long schema is quoted as reports' are: its first 80 bytes */
	char longline[512], want[256];
	snprintf(longline, sizeof(longline), "{\"seq\":1,\"event\":\"header\",\"schema\":\"%0300d\"}\n", 7);
	f = fmemopen(longline, strlen(longline), "r");
	ck_assert_int_eq(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)), -EPROTO);
	snprintf(want, sizeof(want), "t.jsonl:1: unknown trace schema '%080d...'", 0);
	ck_assert_str_eq(err, want);
	fclose(f);
	const char *minor = "{\"seq\":1,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1.7\"}\n";
	f = fmemopen((void *)minor, strlen(minor), "r");
	ck_assert_msg(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)) == 0, "%s", err);
	report_done(&r);
	fclose(f);
	const char *notobj = "[1]\n";
	f = fmemopen((void *)notobj, strlen(notobj), "r");
	ck_assert_int_eq(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "t.jsonl:1: not a JSON object");
	fclose(f);
	/* what json-c takes and JSON does not, named with line and column */
	static const struct {
		const char *line2, *err;
	} bad[] = {
		{ "not json", "t.jsonl:2: malformed JSON at column 2: null expected" },
		{ "{\"seq\":2,\"seq\":3,\"event\":\"output\"}", "t.jsonl:2: malformed JSON at column 10: duplicate key" },
		{ "{\"seq\":2,\"t_ns\":NaN,\"event\":\"output\"}", "t.jsonl:2: malformed JSON at column 17: non-finite number" },
		{ "{\"seq\":2,\"t_ns\":1e400,\"event\":\"output\"}", "t.jsonl:2: malformed JSON at column 17: non-finite number" },
		{ "{\"seq\":2,\"event\":\"output\"} {}", "t.jsonl:2: malformed JSON at column 28: data after the JSON value" },
		{ "{\"seq\":2,'event':\"output\"}", "t.jsonl:2: malformed JSON at column 10: a string in single quotes" },
		{ "{\"seq\":2.,\"event\":\"output\"}", "t.jsonl:2: malformed JSON at column 8: number not in JSON form" },
		{ "{\"seq\":2,\"event\":\"out\tput\"}", "t.jsonl:2: malformed JSON at column 22: control character in a string" },
		{ "{\"seq\":2,\"event\":\"\xc1\x81\"}", "t.jsonl:2: malformed JSON at column 19: malformed UTF-8" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char two[512];
		snprintf(two, sizeof(two), "%s%s\n", minor, bad[i].line2);
		f = fmemopen(two, strlen(two), "r");
		ck_assert_int_eq(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)), -EBADMSG);
		ck_assert_str_eq(err, bad[i].err);
		fclose(f);
	}
}
END_TEST

/* Host and start time come from the header; written_at is when the
 * report is rendered; the text report says all three on its second line. */
START_TEST(test_diagnose_when_and_where)
{
	const char *text =
		"{\"seq\":1,\"t_ns\":0,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1\","
		"\"run_id\":\"00112233445566778899aabbccddeeff\",\"started_at\":\"2026-11-30T08:00:00.250Z\","
		"\"policy\":null,\"host\":{\"hostname\":\"gpu-7\",\"arch\":\"x86_64\",\"kernel\":\"6.1.0-28-amd64\"}}\n"
		"{\"seq\":2,\"t_ns\":1,\"event\":\"stats\",\"stops\":0}\n";
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	Report r;
	char err[256] = "";
	ck_assert_msg(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)) == 0, "%s", err);
	fclose(f);
	ck_assert_str_eq(r.hostname, "gpu-7");
	ck_assert_str_eq(r.arch, "x86_64");
	ck_assert_str_eq(r.kernel, "6.1.0-28-amd64");
	ck_assert_str_eq(r.started_at, "2026-11-30T08:00:00.250Z");
	ck_assert_ptr_nonnull(r.written_at);
	ck_assert_uint_eq(strlen(r.written_at), strlen("2026-12-01T00:00:00.000Z"));
	ck_assert_int_gt(strcmp(r.written_at, r.started_at), 0);	/* later: same format, UTC */
	char *out = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&out, &len);
	report_text_write(&r, o, false);
	fclose(o);
	char want[256];
	snprintf(want, sizeof(want),
		 "\nRun: on gpu-7 (x86_64, Linux 6.1.0-28-amd64), started 2026-11-30T08:00:00.250Z, "
		 "report written %s\n", r.written_at);
	ck_assert_msg(strstr(out, want), "no when-and-where line in:\n%s", out);
	free(out);
	report_done(&r);

	/* a trace from before: no host name, no start; no line about them */
	const char *old = "{\"seq\":1,\"t_ns\":0,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1\","
			  "\"policy\":null,\"host\":{\"arch\":\"x86_64\",\"kernel\":\"6.1.0\"}}\n";
	f = fmemopen((void *)old, strlen(old), "r");
	ck_assert_int_eq(diagnose_trace_stream(f, "t.jsonl", NULL, &r, err, sizeof(err)), 0);
	fclose(f);
	ck_assert_ptr_null(r.hostname);
	ck_assert_ptr_null(r.started_at);
	ck_assert_str_eq(r.arch, "x86_64");
	o = open_memstream(&out, &len);
	report_text_write(&r, o, false);
	fclose(o);
	ck_assert_ptr_null(strstr(out, "report written"));
	free(out);
	report_done(&r);
}
END_TEST

/* A pid a trace cannot hold (negative, or past INT_MAX) reads as absent,
 * as a field of the wrong type does: the report keeps to its contract
 * (pids from 0) and reads back (fuzz-trace: "processes[0].pid is out of
 * range"); in a rotated piece's state it is a bad state. */
START_TEST(test_diagnose_pids_out_of_range)
{
	Trace t;
	begin(&t, "ollama");
	server(&t, "0.16.3");
	json_object *fork = event("fork", 100);
	json_object_object_add(fork, "child_pid", json_object_new_int64(4294967397LL));	/* 2^32 + 101 */
	put(&t, fork);
	exec_(&t, -5, -100, "/opt/o/bin/ollama", (const char *const[]){ "/opt/o/bin/ollama", "runner", NULL },
	      NULL);
	killed(&t, -5, 100);
	Report r = diagnose(&t);
	ck_assert_uint_eq(r.n_processes, 2);
	ck_assert_int_eq(r.processes[0].pid, 100);
	ck_assert_int_eq(r.processes[0].ppid, 1);
	/* the fork's child and the exec are both pid 0, absent */
	ck_assert_int_eq(r.processes[1].pid, 0);
	ck_assert_int_eq(r.processes[1].ppid, 100);
	char *json, err[512];
	size_t len;
	ck_assert_int_eq(report_render_buffer(&r, REPORT_FORMAT_JSON, &json, &len), 0);
	Report back;
	ck_assert_msg(report_json_read_text(json, len, &back, err, sizeof(err)) == 0, "%s", err);
	report_done(&back);
	free(json);
	report_done(&r);

	/* a state whose server pid is negative */
	const char *header = "{\"seq\":1,\"t_ns\":0,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1\","
			     "\"run_id\":\"r\",\"policy\":null}";
	Diagnosis *d;
	ck_assert_int_eq(diagnosis_new(&d), 0);
	json_object *h = json_tokener_parse(header), *st = json_object_new_object();
	ck_assert_int_eq(diagnosis_feed(d, h, err, sizeof(err)), 0);
	ck_assert_int_eq(diagnosis_snapshot(d, st), 0);
	diagnosis_free(d);
	json_object_object_add(h, "piece", json_object_new_int(2));
	json_object_object_add(h, "first_seq", json_object_new_int(1));
	json_object_object_add(st, "event", json_object_new_string("state"));
	json_object_object_add(st, "seq", json_object_new_int(2));
	for (int bad = 0; bad < 2; bad++) {
		if (bad)
			json_object_object_add(st, "server", json_object_new_int(-1));
		ck_assert_int_eq(diagnosis_new(&d), 0);
		ck_assert_int_eq(diagnosis_feed(d, h, err, sizeof(err)), 0);
		*err = '\0';
		ck_assert_int_eq(diagnosis_feed(d, st, err, sizeof(err)), bad ? -EINVAL : 0);
		ck_assert_str_eq(err, bad ? "a state event with a bad 'server'" : "");
		diagnosis_free(d);
	}
	json_object_put(h);
	json_object_put(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("diagnose");
	TCase *tc = tcase_create("diagnose");
	tcase_add_test(tc, test_diagnose_overlap_drops_cuda_v12);
	tcase_add_test(tc, test_diagnose_first_pass_order_is_not_a_drop);
	tcase_add_test(tc, test_diagnose_unlisted_root_is_not_absence);
	tcase_add_test(tc, test_diagnose_version_outside_policy_noted);
	tcase_add_test(tc, test_diagnose_ggml_policy_any_process_scans);
	tcase_add_test(tc, test_diagnose_rejects_unknown_schema);
	tcase_add_test(tc, test_diagnose_when_and_where);
	tcase_add_test(tc, test_diagnose_pids_out_of_range);
	tcase_add_test(tc, test_diagnose_outcome_statements);
	tcase_add_test(tc, test_diagnose_outcome_past_the_device_list);
	tcase_add_loop_test(tc, test_diagnose_gpu_traces, 0, sizeof(gpu_traces) / sizeof(gpu_traces[0]));
	tcase_add_test(tc, test_diagnose_h200_traces);
	tcase_add_loop_test(tc, test_diagnose_no_policy_no_crash, 0, 2);
	suite_add_tcase(s, tc);
	return check_run(s);
}
