/* libFuzzer target for vgpu-report diff: two reports from anyone.  The
 * input is split at its first NUL byte (a report never holds one) into
 * BEFORE and AFTER; what reads of them is compared, in text and in JSON,
 * a side that does not read standing for a report with nothing in it.
 * The diff answers 0 or 1, its JSON is one JSON line, and a report
 * compared with itself has no change.  Nothing may crash, leak or hang. */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-compare.h"
#include "report/report-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The diff of B and A in text (to nowhere) and JSON, checked. */
static void diff(const Report *b, const Report *a)
{
	FILE *null = fopen("/dev/null", "we");
	if (null) {
		int k = report_diff(b, a, false, null);
		if (k != 0 && k != 1 && k != -ENOMEM)
			abort();
		fclose(null);
	}
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);
	if (!f)
		return;
	int k = report_diff(b, a, true, f);
	if (fclose(f) == 0 && (k == 0 || k == 1)) {
		json_object *o = json_tokener_parse(json);
		if (!o || len == 0 || json[len - 1] != '\n' || memchr(json, '\n', len - 1)) {
			fprintf(stderr, "diff's JSON is not one JSON line:\n%s", json);
			abort();
		}
		json_object_put(o);
	} else if (k != -ENOMEM) {
		abort();
	}
	free(json);
}

/* A diff of R with itself finds no change. */
static void same(const Report *r)
{
	FILE *null = fopen("/dev/null", "we");
	if (!null)
		return;
	int k = report_diff(r, r, false, null);
	fclose(null);
	if (k == 1) {
		fprintf(stderr, "a report differs from itself\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t first = nul ? (size_t)(nul - data) : size;
	const char *second = nul ? (const char *)nul + 1 : "";
	size_t second_len = nul ? size - first - 1 : 0;
	Report b = { 0 }, a = { 0 };
	char err[512];
	bool have_b = report_json_read_text((const char *)data, first, &b, err, sizeof(err)) == 0;
	bool have_a = report_json_read_text(second, second_len, &a, err, sizeof(err)) == 0;
	if (have_b || have_a) {
		diff(&b, &a);
		if (have_b)
			same(&b);
		if (have_a)
			same(&a);
	}
	report_done(&b);
	report_done(&a);
	return 0;
}
