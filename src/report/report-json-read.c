/* The JSON report's reader (see report-json.h): lenient about what it
 * does not know and strict about the types of what it does, through the
 * same tables as the writer (report-json-shape.h): a hand-edited or
 * truncated file gives one line naming the field, never a crash. */
#include "report/report-json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "report/json-strict.h"
#include "report/report-json-shape.h"

#define TRACE_SCHEMA_PREFIX "vgpu-run/trace/"
/* Room for a field's name in messages: "directories[12].libraries[3].searched[40]". */
#define FIELD_NAME_MAX 160
/* How much of a foreign schema string a message quotes. */
#define SCHEMA_QUOTE_MAX 80

typedef struct Reader {
	char *err;
	size_t err_size;
} Reader;

__attribute__((format(printf, 3, 4)))
static int fail(Reader *rd, int r, const char *fmt, ...)
{
	va_list ap;
	if (rd->err_size == 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(rd->err, rd->err_size, fmt, ap);
	va_end(ap);
	return r;
}

/* "malformed report: directories[2].verdict is not a string" */
static int bad(Reader *rd, const char *at, const char *key, const char *what)
{
	return fail(rd, -EBADMSG, "malformed report: %s%s%s %s", at, *at ? "." : "", key, what);
}

static int oom(Reader *rd)
{
	return fail(rd, -ENOMEM, "out of memory");
}

/* Names of fields for messages: "AT.KEY", "KEY[I]"; one too long for
 * FIELD_NAME_MAX ends in "...". */
static void ellipsis(char *buf, int n)
{
	if (n < 0 || n >= FIELD_NAME_MAX)
		strcpy(buf + FIELD_NAME_MAX - 4, "...");
}

static void nested(char *buf, const char *at, const char *key)
{
	ellipsis(buf, snprintf(buf, FIELD_NAME_MAX, "%s%s%s", at, *at ? "." : "", key));
}

static void indexed(char *buf, const char *key, size_t i)
{
	ellipsis(buf, snprintf(buf, FIELD_NAME_MAX, "%s[%zu]", key, i));
}

static int dup_string(Reader *rd, json_object *v, char **ret)
{
	char *s = strndup(json_object_get_string(v), (size_t)json_object_get_string_len(v));
	if (!s)
		return oom(rd);
	*ret = s;
	return 0;
}

/* Member V (KEY of the object at AT) must have type T. */
static int want(Reader *rd, json_object *v, json_type t, const char *at, const char *key)
{
	static const char *const what[] = {
		[json_type_boolean] = "is not true or false",
		[json_type_int] = "is not an integer",
		[json_type_string] = "is not a string",
		[json_type_array] = "is not an array",
		[json_type_object] = "is not an object",
	};
	if (json_object_is_type(v, t))
		return 0;
	return bad(rd, at, key, what[t]);
}

static int read_strv(Reader *rd, json_object *a, const char *at, const char *key, char ***ret)
{
	size_t n = a ? json_object_array_length(a) : 0;
	char **v = calloc(n + 1, sizeof(char *));
	int r;
	if (!v)
		return oom(rd);
	*ret = v;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(a, i);
		char k[FIELD_NAME_MAX];
		indexed(k, key, i);
		if ((r = want(rd, s, json_type_string, at, k)) < 0 ||
		    (r = dup_string(rd, s, &v[i])) < 0)
			return r;
	}
	return 0;
}

static int read_exit(Reader *rd, json_object *v, const char *at, ReportExit *e)
{
	json_object *code = NULL, *sig = NULL, *m;
	char name[FIELD_NAME_MAX];
	int r;

	nested(name, at, "exit");
	json_object_object_get_ex(v, "code", &code);
	json_object_object_get_ex(v, "signal", &sig);
	if (sig) {
		if ((r = want(rd, sig, json_type_string, name, "signal")) < 0 ||
		    (r = dup_string(rd, sig, &e->signal)) < 0)
			return r;
		e->signaled = true;
	} else if (code) {
		if ((r = want(rd, code, json_type_int, name, "code")) < 0)
			return r;
		int64_t c = json_object_get_int64(code);
		if (c < INT_MIN || c > INT_MAX)
			return bad(rd, name, "code", "is out of range");
		e->code = (int)c;
	} else
		return bad(rd, at, "exit", "has neither code nor signal");
	if (json_object_object_get_ex(v, "by", &m) && m &&
	    ((r = want(rd, m, json_type_string, name, "by")) < 0 || (r = dup_string(rd, m, &e->by)) < 0))
		return r;
	if (json_object_object_get_ex(v, "fatal_signal", &m) && m &&
	    ((r = want(rd, m, json_type_string, name, "fatal_signal")) < 0 ||
	     (r = dup_string(rd, m, &e->fatal_signal)) < 0))
		return r;
	e->known = true;
	return 0;
}

static int read_environment(Reader *rd, json_object *env, ReportEnvVar **vars, size_t *n_vars)
{
	size_t n = (size_t)json_object_object_length(env);
	int r;
	if (n == 0)
		return 0;
	*vars = calloc(n, sizeof(ReportEnvVar));
	if (!*vars)
		return oom(rd);
	json_object_object_foreach(env, name, value) {
		ReportEnvVar *e = &(*vars)[*n_vars];
		if ((r = want(rd, value, json_type_string, "environment", name)) < 0)
			return r;
		e->name = strdup(name);
		if (!e->name)
			return oom(rd);
		(*n_vars)++;
		if ((r = dup_string(rd, value, &e->value)) < 0)
			return r;
	}
	return 0;
}

static int read_object(Reader *rd, json_object *o, const char *at, const Shape *shape, void *base);

/* Elements are zeroed before they are filled, so a half-read array is
 * safe for report_done(). */
static int read_objects(Reader *rd, json_object *a, const char *at, const Field *f, void *base)
{
	size_t n = json_object_array_length(a);
	int r;
	if (n == 0)
		return 0;
	char *p = calloc(n, f->shape->size);
	if (!p)
		return oom(rd);
	*AT(base, f->offset, char *) = p;
	*AT(base, f->count, size_t) = n;
	for (size_t i = 0; i < n; i++) {
		char k[FIELD_NAME_MAX], name[FIELD_NAME_MAX];
		json_object *e = json_object_array_get_idx(a, i);
		indexed(k, f->key, i);
		nested(name, at, k);
		if ((r = want(rd, e, json_type_object, at, k)) < 0 ||
		    (r = read_object(rd, e, name, f->shape, p + i * f->shape->size)) < 0)
			return r;
	}
	return 0;
}

/* Counters and sequence numbers: json-c keeps values past INT64_MAX as
 * uint64, for which get_int64 saturates positive, so the sign test holds. */
static int read_integer(Reader *rd, json_object *v, const char *at, const Field *f, void *p)
{
	int r = want(rd, v, json_type_int, at, f->key);
	if (r < 0)
		return r;
	int64_t x = json_object_get_int64(v);
	if (x < 0 || (f->kind == FIELD_PID && x > INT_MAX))
		return bad(rd, at, f->key, "is out of range");
	if (f->kind == FIELD_PID)
		*(pid_t *)p = (pid_t)x;
	else
		*(uint64_t *)p = json_object_get_uint64(v);
	return 0;
}

/* A result is a number (a returned fd, a byte count) or an errno name. */
static int read_result(Reader *rd, json_object *v, const char *at, char **ret)
{
	if (json_object_is_type(v, json_type_int)) {
		if (asprintf(ret, "%" PRId64, json_object_get_int64(v)) < 0) {
			*ret = NULL;
			return oom(rd);
		}
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return bad(rd, at, "result", "is neither a number nor a string");
	return dup_string(rd, v, ret);
}

/* One field; absent and null alike mean "not known", since the writer
 * spells that null and older writers may leave it out. */
static int read_field(Reader *rd, json_object *o, const char *at, const Field *f, void *base)
{
	char name[FIELD_NAME_MAX];
	json_object *v = NULL;
	void *p = (char *)base + f->offset;
	int r;

	json_object_object_get_ex(o, f->key, &v);
	if (!v && (f->flags & FIELD_REQUIRED))
		return bad(rd, at, f->key, "is missing");
	if (!v && f->kind != FIELD_STRV)
		return 0;
	switch (f->kind) {
	case FIELD_CONSTANT:
		return 0;
	case FIELD_STRING:
		if ((r = want(rd, v, json_type_string, at, f->key)) < 0)
			return r;
		return dup_string(rd, v, p);
	case FIELD_RESULT:
		return read_result(rd, v, at, p);
	case FIELD_STRV:
		/* always allocated, empty when absent: users iterate blindly */
		if (v && (r = want(rd, v, json_type_array, at, f->key)) < 0)
			return r;
		return read_strv(rd, v, at, f->key, p);
	case FIELD_PID:
	case FIELD_UINT:
		return read_integer(rd, v, at, f, p);
	case FIELD_BOOL:
		if ((r = want(rd, v, json_type_boolean, at, f->key)) < 0)
			return r;
		*(bool *)p = json_object_get_boolean(v);
		return 0;
	case FIELD_EXIT:
		if ((r = want(rd, v, json_type_object, at, f->key)) < 0)
			return r;
		return read_exit(rd, v, at, p);
	case FIELD_OBJECTS:
		if ((r = want(rd, v, json_type_array, at, f->key)) < 0)
			return r;
		return read_objects(rd, v, at, f, base);
	case FIELD_GROUP:
		if ((r = want(rd, v, json_type_object, at, f->key)) < 0)
			return r;
		nested(name, at, f->key);
		return read_object(rd, v, name, f->shape, base);
	case FIELD_ENVIRONMENT:
		if ((r = want(rd, v, json_type_object, at, f->key)) < 0)
			return r;
		return read_environment(rd, v, (ReportEnvVar **)p, (size_t *)((char *)base + f->count));
	default:
		return -EINVAL;
	}
}

static int read_object(Reader *rd, json_object *o, const char *at, const Shape *shape, void *base)
{
	for (size_t i = 0; i < shape->n_fields; i++) {
		int r = read_field(rd, o, at, &shape->fields[i], base);
		if (r < 0)
			return r;
	}
	return 0;
}

/* 1 and 1.N are this major version; "1x", "10", "1." are not. */
static bool schema_known(const char *s)
{
	size_t n = strlen(REPORT_SCHEMA);
	if (strncmp(s, REPORT_SCHEMA, n) != 0)
		return false;
	if (s[n] == '\0')
		return true;
	if (s[n] != '.' || s[n + 1] == '\0')
		return false;
	for (const char *p = s + n + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* A foreign string, made fit for a one-line message: Q holds
 * SCHEMA_QUOTE_MAX + 4 bytes. */
static void quote_schema(const char *s, char *q)
{
	size_t i;
	for (i = 0; s[i] && i < SCHEMA_QUOTE_MAX; i++)
		q[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	strcpy(q + i, s[i] ? "..." : "");
}

static int check_schema(Reader *rd, json_object *root)
{
	char q[SCHEMA_QUOTE_MAX + 4];
	json_object *v = NULL;
	json_object_object_get_ex(root, "schema", &v);
	if (!v)
		return bad(rd, "", "schema", "is missing");
	if (!json_object_is_type(v, json_type_string))
		return bad(rd, "", "schema", "is not a string");
	const char *s = json_object_get_string(v);
	quote_schema(s, q);
	if (strncmp(s, TRACE_SCHEMA_PREFIX, strlen(TRACE_SCHEMA_PREFIX)) == 0)
		return fail(rd, -EMEDIUMTYPE, "a trace (schema '%s'), not a report", q);
	if (!schema_known(s))
		return fail(rd, -EPROTO, "unknown schema '%s'", q);
	return 0;
}

/* "malformed JSON at line 3, column 7: ...", counted from 1 as editors do,
 * for the byte at OFFSET. */
static int bad_json(Reader *rd, const char *text, size_t offset, const char *what)
{
	size_t line = 1, column = 1;
	for (size_t i = 0; i < offset; i++, column++)
		if (text[i] == '\n')
			line++, column = 0;
	return fail(rd, -EBADMSG, "malformed JSON at line %zu, column %zu: %s", line, column, what);
}

static void tokener_freep(json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

static void json_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

int report_json_read_text(const char *text, size_t len, Report *ret, char *err, size_t err_size)
{
	Reader rd = { .err = err, .err_size = err_size };
	_cleanup_(tokener_freep) json_tokener *tok = NULL;
	_cleanup_(json_putp) json_object *root = NULL;
	Report rep = {};
	int r;

	if (len > REPORT_JSON_MAX_BYTES)
		return fail(&rd, -EFBIG, "too large for a report (over %u bytes)", REPORT_JSON_MAX_BYTES);
	/* json-c takes a NUL byte for the end of the input */
	const char *nul = memchr(text, '\0', len);
	if (nul)
		return bad_json(&rd, text, (size_t)(nul - text), "NUL byte");
	tok = json_tokener_new();
	if (!tok)
		return oom(&rd);
	/* trailing characters are allowed here only so that a JSON Lines trace
	 * is recognised by its first line; for a report they are refused below */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
				    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue)
		return bad_json(&rd, text, len, json_tokener_error_desc(json_tokener_error_parse_eof));
	if (jerr != json_tokener_success)
		return bad_json(&rd, text, end, json_tokener_error_desc(jerr));
	if (!root || !json_object_is_type(root, json_type_object))
		return fail(&rd, -EBADMSG, "malformed report: not a JSON object");
	r = check_schema(&rd, root);
	if (r == -EMEDIUMTYPE)
		return r;
	while (end < len && isspace((unsigned char)text[end]))
		end++;
	if (end < len)
		return bad_json(&rd, text, end, "data after the report");
	if (r < 0)
		return r;
	size_t at;
	const char *what;
	if (json_strict_check(text, len, root, &at, &what) < 0)
		return bad_json(&rd, text, at, what);
	r = read_object(&rd, root, "", &report_json_shape, &rep);
	if (r < 0) {
		report_done(&rep);
		return r;
	}
	*ret = rep;
	return 0;
}

int report_json_read_stream(FILE *f, const char *name, Report *ret, char *err, size_t err_size)
{
	_cleanup_free_ char *buf = NULL;
	char msg[512];
	int r;

	/* one byte past the limit tells "too large" from "exactly the limit";
	 * untouched pages of the buffer cost nothing */
	buf = malloc(REPORT_JSON_MAX_BYTES + 1);
	if (!buf) {
		snprintf(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	size_t len = 0, n;
	while (len < REPORT_JSON_MAX_BYTES + 1 && (n = fread(buf + len, 1, REPORT_JSON_MAX_BYTES + 1 - len, f)) > 0)
		len += n;
	if (ferror(f)) {
		r = -EIO;
		snprintf(err, err_size, "%s: %s", name, strerror(-r));
		return r;
	}
	r = report_json_read_text(buf, len, ret, msg, sizeof(msg));
	if (r < 0)
		snprintf(err, err_size, "%s: %s", name, msg);
	return r;
}

int report_json_read(const char *path, Report *ret, char *err, size_t err_size)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		int r = neg_errno();
		snprintf(err, err_size, "%s: %s", path, strerror(-r));
		return r;
	}
	return report_json_read_stream(f, path, ret, err, err_size);
}
