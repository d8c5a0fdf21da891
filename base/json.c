/* Streaming JSON writer (see json.h). */
#include "base/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(JsonWriter *w)
{
	memset(w, 0, sizeof(*w));
}

void json_done(JsonWriter *w)
{
	free(w->buf);
	json_init(w);
}

void json_reset(JsonWriter *w)
{
	w->len = 0;
	w->depth = 0;
	w->after_key = false;
	w->failed = false;
	w->need_comma[0] = false;
	if (w->buf)
		w->buf[0] = '\0';
}

static void put(JsonWriter *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n + 1)
			cap *= 2;
		char *b = realloc(w->buf, cap);
		if (!b) {
			w->failed = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void putc_(JsonWriter *w, char c)
{
	put(w, &c, 1);
}

/* Separator before a value: none right after a key, else a comma when the
 * container already has a member. */
static void pre_value(JsonWriter *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		putc_(w, ',');
	w->need_comma[w->depth] = true;
}

static void open_(JsonWriter *w, char c)
{
	pre_value(w);
	putc_(w, c);
	if (w->depth + 1 >= JSON_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	w->need_comma[++w->depth] = false;
}

static void close_(JsonWriter *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	putc_(w, c);
}

void json_object_begin(JsonWriter *w) { open_(w, '{'); }
void json_object_end(JsonWriter *w) { close_(w, '}'); }
void json_array_begin(JsonWriter *w) { open_(w, '['); }
void json_array_end(JsonWriter *w) { close_(w, ']'); }

/* Length of the valid UTF-8 sequence at S (at most N bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;
	if (s[0] < 0x80)
		return 1;
	else if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are invalid */
	static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void json_string_len(JsonWriter *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	pre_value(w);
	putc_(w, '"');
	size_t i = 0, run = 0;	/* run: bytes copied verbatim, pending */
	while (i < n) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char ubuf[8];
		size_t seq = 1;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\t')
			esc = "\\t";
		else if (c == '\r')
			esc = "\\r";
		else if (c < 0x20 || c == 0x7f) {
			snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
			esc = ubuf;
		} else if (c >= 0x80 && !(seq = utf8_seq(s + i, n - i))) {
			/* a byte that is not UTF-8 (a path can hold any): U+EF80
			 * to U+EFFF, one code point per byte value, so distinct
			 * names stay distinct (the OPTU-8 convention) */
			snprintf(ubuf, sizeof(ubuf), "\\uef%02x", c);
			esc = ubuf;
			seq = 1;
		}
		if (esc) {
			put(w, (const char *)s + i - run, run);
			run = 0;
			put(w, esc, strlen(esc));
			i += seq;
		} else {
			run += seq;
			i += seq;
		}
	}
	put(w, (const char *)s + n - run, run);
	putc_(w, '"');
}

void json_string(JsonWriter *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	json_string_len(w, s, strlen(s));
}

void json_key(JsonWriter *w, const char *key)
{
	json_string(w, key);
	putc_(w, ':');
	w->after_key = true;
}

void json_int(JsonWriter *w, int64_t v)
{
	char b[32];
	pre_value(w);
	put(w, b, (size_t)snprintf(b, sizeof(b), "%" PRId64, v));
}

void json_uint(JsonWriter *w, uint64_t v)
{
	char b[32];
	pre_value(w);
	put(w, b, (size_t)snprintf(b, sizeof(b), "%" PRIu64, v));
}

void json_write_bool(JsonWriter *w, bool v)
{
	pre_value(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(JsonWriter *w)
{
	pre_value(w);
	put(w, "null", 4);
}

void json_kv_string(JsonWriter *w, const char *key, const char *s)
{
	json_key(w, key);
	json_string(w, s);
}

void json_kv_int(JsonWriter *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_int(w, v);
}

void json_kv_uint(JsonWriter *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_uint(w, v);
}

void json_kv_bool(JsonWriter *w, const char *key, bool v)
{
	json_key(w, key);
	json_write_bool(w, v);
}

void json_raw(JsonWriter *w, const char *s)
{
	put(w, s, strlen(s));
}
