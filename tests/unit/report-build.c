/* Reports built by hand (see report-build.h). */
#include "report-build.h"

#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "report/report-json.h"

char *S(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	ck_assert(!s || d);
	return d;
}

char **V(const char *first, ...)
{
	char **v = calloc(16, sizeof(char *));
	size_t n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *)) {
		ck_assert_uint_lt(n, 15);
		v[n++] = S(s);
	}
	va_end(ap);
	return v;
}

ReportDirectory dir(const char *name, const char *path, const char *verdict, const char *reason,
		    const char *detail)
{
	return (ReportDirectory){ .name = S(name), .path = S(path), .verdict = S(verdict),
				  .reason = S(reason), .detail = S(detail) };
}

char *to_json(const Report *r)
{
	JsonWriter w;
	json_init(&w);
	ck_assert_int_eq(report_json_write(r, &w), 0);
	char *s = S(w.buf);
	json_done(&w);
	return s;
}

int read_str(const char *text, Report *ret, char *err, size_t size)
{
	return report_json_read_text(text, strlen(text), ret, err, size);
}

