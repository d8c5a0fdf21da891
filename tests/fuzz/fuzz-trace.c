/* libFuzzer target for the diagnosis: a trace is untrusted input to
 * vgpu-report.  The fuzz input's first byte chooses a header (even: the
 * ollama policy, a server and its runner probes; odd: the ggml policy,
 * any process a scanner, devices from ggml's own lines); the rest is
 * appended to it, line by line, so the events reach every part of the
 * model and the verdicts through either policy's rules.  Nothing may
 * crash, leak or hang.  An input whose first line (after that byte) is a
 * header of its own (a rotated trace's piece, with the state event that
 * restores the diagnosis) is read as it is.  What the diagnosis
 * concludes must render as text, and as JSON that the report reader takes
 * back (what vgpu-run -o writes, vgpu-report reads); a failure says
 * why. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose.h"
#include "report/report-json.h"
#include "report/report-out.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ollama_header[] =
	"{\"seq\":1,\"t_ns\":0,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1\","
	"\"policy\":{\"name\":\"ollama\",\"path\":\"p\",\"text\":\"name = ollama\\n"
	"library-root = exe:../lib/ollama\\nexpected = cuda_v12 cuda_v13\\ncandidate = *ggml-*\\n"
	"backend-file = libggml-*.so\\nnot-backend = libggml-base*\\ncpu-backend = libggml-cpu*.so\\n"
	"scanner = server-exe runner\\nscanner-dirs-env = OLLAMA_LIBRARY_PATH\\n"
	"filter-select = OLLAMA_LLM_LIBRARY\\nfilter-enable = OLLAMA_VULKAN *vulkan*\\n"
	"probe-timeout = 30s\\nloaded = loaded .* from (.*)\\nkept = libdirs=([^ ]+)\\n"
	"init-failed = failed to initialize\\nversion-regex = version ([0-9.]+)\\n\"}}\n";

/* policies/ggml.policy without its comments */
static const char ggml_header[] =
	"{\"seq\":1,\"t_ns\":0,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1\","
	"\"policy\":{\"name\":\"ggml\",\"path\":\"p\",\"text\":\"name = ggml\\n"
	"description = any program loading ggml backends (llama.cpp, node-llama-cpp, LocalAI)\\n"
	"candidate = *ggml-*\\nbackend-file = libggml-*.so\\nnot-backend = libggml-base*\\n"
	"cpu-backend = libggml-cpu*.so\\nscanner = any\\ncapture-fd = 2 1\\n"
	"init-failed = ggml_cuda_init: failed to initialize (CUDA|ROCm|MUSA): .*\\n"
	"init-failed = ggml_vulkan: No devices found\\n"
	"loaded = load_backend: loaded .* backend from (.*)\\n"
	"outcome = ^ *Device ([0-9]+): ([^,]+), compute capability ([0-9.]+)\\n"
	"outcome-fields = id description compute\\n"
	"record-env = GGML_* CUDA_VISIBLE_DEVICES LD_LIBRARY_PATH LD_PRELOAD\\n"
	"inject-sonames = libcuda.so.1\\n\"}}\n";

/* R renders, and its JSON reads back. */
static void check_report(const Report *r)
{
	char *text, err[512];
	size_t len;
	if (report_render_buffer(r, REPORT_FORMAT_TEXT, &text, &len) == 0)
		free(text);
	if (report_render_buffer(r, REPORT_FORMAT_JSON, &text, &len) < 0)
		return;		/* out of memory */
	Report back;
	int k = report_json_read_text(text, len, &back, err, sizeof(err));
	if (k == -ENOMEM) {
		free(text);
		return;
	}
	if (k < 0) {
		fprintf(stderr, "the diagnosis's report does not read back: %s\n%s", err, text);
		abort();
	}
	report_done(&back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *header = data[0] & 1 ? ggml_header : ollama_header;
	size_t header_len = data[0] & 1 ? sizeof(ggml_header) - 1 : sizeof(ollama_header) - 1;
	data++;
	size--;
	char *buf = malloc(header_len + size + 1);
	if (!buf)
		return 0;
	const char *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - (const char *)data) : size;
	bool own = memmem(data, first, "\"event\":\"header\"", 17) != NULL;
	size_t head = own ? 0 : header_len;
	memcpy(buf, header, head);
	memcpy(buf + head, data, size);
	FILE *f = head + size ? fmemopen(buf, head + size, "r") : NULL;
	if (f) {
		Report r;
		char err[512] = "";
		if (diagnose_trace_stream(f, "fuzz", NULL, &r, err, sizeof(err)) == 0) {
			check_report(&r);
			report_done(&r);
		} else if (!*err) {
			abort();	/* a failure says why */
		}
		fclose(f);
	}
	free(buf);
	return 0;
}
