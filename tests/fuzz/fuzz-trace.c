/* libFuzzer target for the diagnosis: a trace is untrusted input to
 * vgpu-report.  The fuzz input is appended, line by line, to a valid
 * header that carries the ollama policy, so the events reach every part
 * of the model and the verdicts; nothing may crash, leak or hang.  An
 * input whose first line is a header of its own (a rotated trace's piece,
 * with the state event that restores the diagnosis) is read as it is. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/diagnose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char header[] =
	"{\"seq\":1,\"t_ns\":0,\"event\":\"header\",\"schema\":\"vgpu-run/trace/1\","
	"\"policy\":{\"name\":\"ollama\",\"path\":\"p\",\"text\":\"name = ollama\\n"
	"library-root = exe:../lib/ollama\\nexpected = cuda_v12 cuda_v13\\ncandidate = *ggml-*\\n"
	"backend-file = libggml-*.so\\nnot-backend = libggml-base*\\ncpu-backend = libggml-cpu*.so\\n"
	"scanner = server-exe runner\\nscanner-dirs-env = OLLAMA_LIBRARY_PATH\\n"
	"filter-select = OLLAMA_LLM_LIBRARY\\nfilter-enable = OLLAMA_VULKAN *vulkan*\\n"
	"probe-timeout = 30s\\nloaded = loaded .* from (.*)\\nkept = libdirs=([^ ]+)\\n"
	"init-failed = failed to initialize\\nversion-regex = version ([0-9.]+)\\n\"}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(sizeof(header) + size);
	if (!buf)
		return 0;
	const char *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - (const char *)data) : size;
	bool own = memmem(data, first, "\"event\":\"header\"", 17) != NULL;
	size_t head = own ? 0 : sizeof(header) - 1;
	memcpy(buf, header, head);
	memcpy(buf + head, data, size);
	FILE *f = head + size ? fmemopen(buf, head + size, "r") : NULL;
	if (f) {
		Report r;
		char err[512];
		if (diagnose_trace_stream(f, "fuzz", NULL, &r, err, sizeof(err)) == 0)
			report_done(&r);
		fclose(f);
	}
	free(buf);
	return 0;
}
