/* A small streaming JSON writer into a growable buffer.
 *
 * Strings are escaped per RFC 8259; a byte that is not part of valid UTF-8
 * becomes one code point of U+EF80..U+EFFF (byte 0x80..0xff), so a trace
 * line is always valid JSON whatever a program wrote, and two paths that
 * differ in such bytes stay two paths. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

typedef struct JsonWriter {
	char *buf;
	size_t len, cap;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
	bool after_key;
	bool failed;		/* out of memory or nesting too deep */
} JsonWriter;

void json_init(JsonWriter *w);
void json_done(JsonWriter *w);
/* Forget the content, keep the allocation (one writer per event stream). */
void json_reset(JsonWriter *w);

void json_object_begin(JsonWriter *w);
void json_object_end(JsonWriter *w);
void json_array_begin(JsonWriter *w);
void json_array_end(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);

void json_string(JsonWriter *w, const char *s);
void json_string_len(JsonWriter *w, const char *s, size_t len);
void json_int(JsonWriter *w, int64_t v);
void json_uint(JsonWriter *w, uint64_t v);
void json_write_bool(JsonWriter *w, bool v);
void json_null(JsonWriter *w);

/* key + value shorthands */
void json_kv_string(JsonWriter *w, const char *key, const char *s);
void json_kv_int(JsonWriter *w, const char *key, int64_t v);
void json_kv_uint(JsonWriter *w, const char *key, uint64_t v);
void json_kv_bool(JsonWriter *w, const char *key, bool v);

/* Append raw text (a newline after a record). */
void json_raw(JsonWriter *w, const char *s);
