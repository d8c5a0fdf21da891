/* libFuzzer target for vgpu-report check's expectations, written by
 * anyone on a command line or in a CI script: --expect=DIR=VERDICT[:REASON]
 * (report_expectation_parse), --expect-gpus=N and --expect-device=REGEX
 * (report_options_parse), tested against a fixed valid report
 * (report_check_all).  The input is split at NUL bytes into up to 32
 * pieces; a piece that starts with 'g' is an --expect-gpus value, with 'd'
 * an --expect-device value (the rest of it), any other an --expect value.
 * An expectation parses or is refused with "bad expectation '...': ...";
 * check answers 0, 1, or 2 with a reason.  Nothing
 * may crash, leak or hang. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-compare.h"
#include "report/report-json.h"
#include "vgpu-report/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PIECES_MAX 32

/* A run on one H200, one directory of each verdict. */
static const char fixed_json[] =
	"{\"schema\":\"vgpu-run/report/1\",\"tool\":{\"name\":\"vgpu-run\",\"version\":\"0.1.0\"},"
	"\"command\":[\"/tmp/oi/bin/ollama\",\"serve\"],"
	"\"policy\":{\"name\":\"ollama\",\"path\":\"/usr/share/vgpu-run/policies/ollama.policy\"},"
	"\"scanner_version\":\"0.16.3\",\"exit\":{\"code\":0},"
	"\"outcome\":{\"stated\":true,\"summary\":\"2 GPUs: NVIDIA H200 (CUDA, cuda_v13, 139.8 GiB), "
	"llvmpipe (Vulkan, vulkan)\",\"devices\":["
	"{\"name\":\"CUDA0\",\"description\":\"NVIDIA H200\",\"library\":\"CUDA\",\"directory\":\"cuda_v13\","
	"\"total\":\"139.8 GiB\",\"available\":\"139.3 GiB\",\"compute\":\"9.0\",\"id\":\"0\","
	"\"type\":\"discrete\",\"seq\":1814},"
	"{\"name\":\"Vulkan0\",\"description\":\"llvmpipe (LLVM 15.0.6, 256 bits)\",\"library\":\"Vulkan\","
	"\"directory\":\"vulkan\",\"seq\":1900}]},"
	"\"complete\":true,\"directories\":["
	"{\"name\":\".\",\"path\":\"/tmp/oi/lib/ollama\",\"verdict\":\"loaded\",\"reason\":\"loaded\"},"
	"{\"name\":\"cuda_v12\",\"path\":\"/tmp/oi/lib/ollama/cuda_v12\",\"verdict\":\"skipped\",\"reason\":\"dropped\"},"
	"{\"name\":\"cuda_v13\",\"path\":\"/tmp/oi/lib/ollama/cuda_v13\",\"verdict\":\"loaded\",\"reason\":\"loaded\"},"
	"{\"name\":\"rocm\",\"path\":\"/tmp/oi/lib/ollama/rocm\",\"verdict\":\"failed\",\"reason\":\"init-failed\"},"
	"{\"name\":\"vulkan\",\"path\":\"/tmp/oi/lib/ollama/vulkan\",\"verdict\":\"absent\","
	"\"reason\":\"no-such-directory\"}]}";

static Report fixed;
static FILE *null;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[512];
	if (report_json_read_text(fixed_json, sizeof(fixed_json) - 1, &fixed, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz-check: the fixed report: %s\n", err);
		abort();
	}
	null = fopen("/dev/null", "we");
	if (!null)
		abort();
	return 0;
}

/* A refusal says why (its control bytes, the user's, are escaped when
 * it is printed). */
static void reason(const char *err)
{
	if (!*err)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* room for the longest option name in front of each piece */
	size_t n = 0, prefix = sizeof("--expect-device=");
	char *buf = malloc(size + PIECES_MAX * prefix + 1), *p = buf;
	char *args[PIECES_MAX + 4] = { "vgpu-report", "check" };
	char *expects[PIECES_MAX];
	size_t n_expects = 0;
	char err[1024];
	if (!buf)
		return 0;
	for (size_t at = 0; at <= size && n < PIECES_MAX;) {
		const uint8_t *nul = memchr(data + at, '\0', size - at);
		size_t len = nul ? (size_t)(nul - data - at) : size - at;
		const char *s = (const char *)data + at;
		const char *opt = "--expect=";
		if (len > 0 && (s[0] == 'g' || s[0] == 'd')) {
			opt = s[0] == 'g' ? "--expect-gpus=" : "--expect-device=";
			s++;
			len--;
		}
		int k = sprintf(p, "%s%.*s", opt, (int)len, s);
		args[2 + n++] = p;
		if (opt[8] == '=')
			expects[n_expects++] = p + 9;
		p += k + 1;
		at += (s - (const char *)data - at) + len + 1;
	}
	args[2 + n] = "report.json";
	args[3 + n] = NULL;

	/* each --expect alone */
	for (size_t i = 0; i < n_expects; i++) {
		ReportExpectation e;
		int k = report_expectation_parse(expects[i], &e, err, sizeof(err));
		if (k == 0) {
			if (!e.dir || !*e.dir || !e.verdict || !*e.verdict || (e.reason && !*e.reason))
				abort();
			report_expectation_done(&e);
		} else if (k == -EINVAL) {
			if (strncmp(err, "bad expectation '", 17))
				abort();
		} else if (k != -ENOMEM) {
			abort();
		}
	}
	/* the --expect ones together, as check without outcome expectations */
	*err = '\0';
	int k = report_check(&fixed, expects, n_expects, null, err, sizeof(err));
	if (k == 2)
		reason(err);
	else if (k != 0 && k != 1 && k != -ENOMEM)
		abort();

	/* the whole command line */
	ReportOptions o;
	*err = '\0';
	k = report_options_parse((int)n + 3, args, &o, err, sizeof(err));
	if (k == 0) {
		if (o.command != REPORT_CMD_CHECK || o.n_inputs != 1)
			abort();
		*err = '\0';
		k = report_check_all(&fixed, o.expects, o.n_expects, &o.oe, null, err, sizeof(err));
		if (k == 2)
			reason(err);
		else if (k != 0 && k != 1 && k != -ENOMEM)
			abort();
		report_options_done(&o);
	} else if (k == -EINVAL) {
		reason(err);
	} else if (k != -ENOMEM) {
		abort();
	}
	free(buf);
	return 0;
}
