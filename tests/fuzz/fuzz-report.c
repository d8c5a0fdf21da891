/* libFuzzer target for the report reader: vgpu-report show, diff and
 * check read a JSON report from anyone.  The input is a report's text;
 * it reads, or fails with one of report_json_read_text()'s errors and a
 * one-line reason.  What reads renders as text (with and without colour)
 * and as JSON, and that JSON must read back and render to the same JSON
 * value again: a report vgpu-run writes is one vgpu-report takes, whole.
 * (The same value, not the same bytes: a string that is not UTF-8 is
 * written with U+EF80..U+EFFF escaped, and as UTF-8 once read back.)
 * Nothing may crash, leak or hang. */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report-json.h"
#include "report/report-out.h"
#include "report/report-text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Are A and B the same JSON value (both parse: they were read)? */
static bool same_json(const char *a, const char *b)
{
	json_object *x = json_tokener_parse(a), *y = json_tokener_parse(b);
	bool same = !x || !y || json_object_equal(x, y);
	json_object_put(x);
	json_object_put(y);
	return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Report r, back;
	char err[512] = "";
	int k = report_json_read_text((const char *)data, size, &r, err, sizeof(err));
	if (k < 0) {
		if (k != -EBADMSG && k != -EPROTO && k != -EMEDIUMTYPE && k != -ENOMEM && k != -EFBIG)
			abort();
		if (!*err || strchr(err, '\n'))
			abort();
		return 0;
	}
	char *text = NULL, *json = NULL, *again = NULL;
	size_t len, json_len, again_len;
	FILE *f = open_memstream(&text, &len);
	if (f) {
		(void)report_text_write(&r, f, true);
		fclose(f);
		free(text);
	}
	if (report_render_buffer(&r, REPORT_FORMAT_TEXT, &text, &len) == 0)
		free(text);
	if (report_render_buffer(&r, REPORT_FORMAT_JSON, &json, &json_len) < 0)
		goto out;
	k = report_json_read_text(json, json_len, &back, err, sizeof(err));
	if (k == -ENOMEM)
		goto out;
	if (k < 0) {
		fprintf(stderr, "the JSON rendering does not read back: %s\n%s", err, json);
		abort();
	}
	k = report_render_buffer(&back, REPORT_FORMAT_JSON, &again, &again_len);
	report_done(&back);
	if (k == 0 && !same_json(json, again)) {
		fprintf(stderr, "the JSON rendering changes when read back:\n%s%s", json, again);
		abort();
	}
out:
	free(again);
	free(json);
	report_done(&r);
	return 0;
}
