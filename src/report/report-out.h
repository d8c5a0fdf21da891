/* Writing a report where the user asked: a file (atomically: a temporary
 * file in the same directory, then rename, mode 0600), stdout, or stderr
 * for a person at the end of a run. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "report/report.h"

typedef enum ReportFormat {
	REPORT_FORMAT_TEXT,
	REPORT_FORMAT_JSON,
} ReportFormat;

/* The format a file name asks for: json for "*.json", else text. */
ReportFormat report_format_for(const char *path);

/* --color=WHEN: colour on the verdict column of a text report written to
 * a terminal (auto, unless NO_COLOR is set and not empty, or TERM=dumb),
 * always, or never; a report file never has colour. */
typedef enum ReportColor {
	REPORT_COLOR_AUTO,
	REPORT_COLOR_ALWAYS,
	REPORT_COLOR_NEVER,
} ReportColor;

/* "auto", "always", "never" (NULL, a bare --color: always); -EINVAL. */
int report_color_parse(const char *when, ReportColor *ret);
/* Should a text report written to FD have colour? */
bool report_color_use(ReportColor when, int fd);

/* Render R in FORMAT to F (colour only when COLOR). */
int report_render(const Report *r, ReportFormat format, FILE *f, bool color);

/* Write R to PATH ("-": stdout) atomically.  -errno on failure. */
int report_write_file(const Report *r, ReportFormat format, const char *path);
/* R rendered in FORMAT into a new buffer (*RET, free it). */
int report_render_buffer(const Report *r, ReportFormat format, char **ret, size_t *ret_len);

/* Write LEN bytes of BUF to PATH as report_write_file does, a new file
 * with MODE (report_write_file: 0600); SYNC: fsync before the rename. */
int report_write_buffer(const char *buf, size_t len, const char *path, bool sync, mode_t mode);
