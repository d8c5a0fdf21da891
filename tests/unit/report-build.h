/* Reports built by hand for the report's unit tests (test-report.c,
 * test-compare.c).  Every string is a copy, so report_done frees it. */
#pragma once

#include "report/report.h"

/* A copy of S (NULL stays NULL). */
char *S(const char *s);
/* A NULL-terminated vector of copies of the strings up to NULL. */
char **V(const char *first, ...);
ReportDirectory dir(const char *name, const char *path, const char *verdict, const char *reason,
		    const char *detail);
/* R as JSON (free it). */
char *to_json(const Report *r);
/* report_json_read_text of TEXT. */
int read_str(const char *text, Report *ret, char *err, size_t size);
