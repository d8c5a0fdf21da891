/* The JSON report (schema vgpu-run/report/1, contract section 2): writing
 * a Report with the streaming writer, and reading one back with json-c for
 * vgpu-report.  Readers accept any 1.N minor version and ignore fields they
 * do not know; anything else malformed is refused with a one-line reason. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "base/json.h"
#include "report/report.h"

/* Write R as one JSON document (no trailing newline) into W.  Returns 0, or
 * -ENOMEM when the writer failed (out of memory or nested too deep). */
int report_json_write(const Report *r, JsonWriter *w);

/* Parse the LEN bytes at TEXT (need not be NUL-terminated) as a report.
 * On success fills RET (release with report_done) and returns 0; RET is
 * untouched on failure.  Failures, with a one-line reason in ERR (no file
 * name, no trailing newline):
 *   -EBADMSG      "malformed JSON at byte N: ..." or "malformed report: ..."
 *   -EPROTO       "unknown schema 'S'" (a major version other than 1)
 *   -EMEDIUMTYPE  the text is a JSON Lines trace, not a report: the caller
 *                 should re-analyse it (diagnose_trace_file)
 *   -ENOMEM       "out of memory" */
int report_json_read_text(const char *text, size_t len, Report *ret, char *err, size_t err_size);

/* Read the report file PATH, as report_json_read_text().  ERR starts with
 * "PATH: ".  Also -errno when PATH cannot be read, -EFBIG past
 * REPORT_JSON_MAX_BYTES. */
int report_json_read(const char *path, Report *ret, char *err, size_t err_size);
/* The same from the open stream F (a pipe too), read once; ERR starts
 * with "NAME: ". */
int report_json_read_stream(FILE *f, const char *name, Report *ret, char *err, size_t err_size);

/* A report is a few kilobytes; anything far larger is not one. */
#define REPORT_JSON_MAX_BYTES (64u << 20)
