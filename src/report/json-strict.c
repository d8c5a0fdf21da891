/* JSON as the contract reads it (see json-strict.h).
 *
 * json-c has parsed the text already, so it is well formed and at most
 * json-c's depth deep: the walk below is a plain lexical one.  Duplicate
 * keys are found by counting: the text's members against the sum of the
 * parsed objects' sizes, one pass each; only when they differ is each
 * object's key list sorted to name the place. */
#include "report/json-strict.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

typedef struct Key {
	const char *p;
	size_t len;
	size_t at;
} Key;

typedef struct Scan {
	const char *s;
	size_t len, i;
	size_t members;		/* "key": pairs in the text */
	bool locate;		/* second pass: find the duplicate */
	size_t at;		/* the first problem, SIZE_MAX: none */
	const char *what;
} Scan;

static void problem(Scan *sc, size_t at, const char *what)
{
	if (at < sc->at) {
		sc->at = at;
		sc->what = what;
	}
}

static void skip_ws(Scan *sc)
{
	while (sc->i < sc->len && strchr(" \t\r\n", sc->s[sc->i]) && sc->s[sc->i])
		sc->i++;
}

/* The length of the well-formed UTF-8 sequence at p (at most n bytes),
 * 0 if none: RFC 3629's table, so no overlong form, no surrogate (CESU-8)
 * and nothing above U+10FFFF.  json-c's own check takes all three. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	static const struct {
		unsigned char lead_lo, lead_hi, next_lo, next_hi, len;
	} forms[] = {
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 }, { 0xe0, 0xe0, 0xa0, 0xbf, 3 }, { 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 }, { 0xee, 0xef, 0x80, 0xbf, 3 }, { 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 }, { 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};
	for (size_t f = 0; f < sizeof(forms) / sizeof(*forms); f++) {
		if (p[0] < forms[f].lead_lo || p[0] > forms[f].lead_hi)
			continue;
		size_t len = forms[f].len;
		if (n < len || p[1] < forms[f].next_lo || p[1] > forms[f].next_hi)
			return 0;
		for (size_t k = 2; k < len; k++)
			if (p[k] < 0x80 || p[k] > 0xbf)
				return 0;
		return len;
	}
	return 0;
}

/* At an opening quote: past the closing one.  json-c takes a key in
 * single quotes even in its strict mode, and a raw control character
 * in a string; JSON takes neither. */
static void skip_string(Scan *sc)
{
	char quote = sc->s[sc->i];
	if (quote != '"')
		problem(sc, sc->i, "a string in single quotes");
	sc->i++;
	while (sc->i < sc->len && sc->s[sc->i] != quote) {
		unsigned char c = (unsigned char)sc->s[sc->i];
		size_t step = 1;
		if (c == '\\')
			step = 2;
		else if (c < 0x20)
			problem(sc, sc->i, "control character in a string");
		else if (c >= 0x80 && !(step = utf8_len((const unsigned char *)sc->s + sc->i, sc->len - sc->i))) {
			problem(sc, sc->i, "malformed UTF-8");
			step = 1;
		}
		sc->i += step;
	}
	sc->i++;
}

static bool number_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
	       c == '+' || c == '-';
}

static size_t digit_run(const char *p, size_t n, size_t i)
{
	size_t from = i;
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	return i - from;
}

/* RFC 8259's number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * json-c also takes "1.", "-012" and "00". */
static bool json_number_form(const char *p, size_t n)
{
	size_t i = n && p[0] == '-';
	size_t d = digit_run(p, n, i);
	if (!d || (d > 1 && p[i] == '0'))
		return false;
	i += d;
	if (i < n && p[i] == '.') {
		if (!(d = digit_run(p, n, ++i)))
			return false;
		i += d;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (!(d = digit_run(p, n, i)))
			return false;
		i += d;
	}
	return i == n;
}

/* A bare token: true, false, null or a number (json-c also takes NaN,
 * Infinity and -Infinity, and turns 1e999 into an infinity). */
static void scan_token(Scan *sc)
{
	size_t start = sc->i;
	while (sc->i < sc->len && number_char(sc->s[sc->i]))
		sc->i++;
	const char *p = sc->s + start;
	size_t n = sc->i - start;
	if (n && (*p == 't' || *p == 'f' || *p == 'n'))
		return;
	size_t digits = n && *p == '-' ? 1 : 0;
	if (digits < n && (p[digits] == 'N' || p[digits] == 'I')) {
		problem(sc, start, "non-finite number");
		return;
	}
	if (!json_number_form(p, n)) {
		problem(sc, start, "number not in JSON form");
		return;
	}
	char small[64];
	_cleanup_free_ char *big = NULL;
	char *copy = small;
	if (n >= sizeof(small)) {
		copy = big = malloc(n + 1);
		if (!copy) {
			problem(sc, start, "out of memory");
			return;
		}
	}
	memcpy(copy, p, n);
	copy[n] = '\0';
	if (!memchr(copy, '.', n) && !memchr(copy, 'e', n) && !memchr(copy, 'E', n)) {
		/* an integer json-c would clamp to 64 bits, silently */
		errno = 0;
		if (*copy == '-')
			(void)strtoll(copy, NULL, 10);
		else
			(void)strtoull(copy, NULL, 10);
		if (errno == ERANGE)
			problem(sc, start, "integer out of range");
	} else if (!isfinite(strtod(copy, NULL))) {
		problem(sc, start, "non-finite number");
	}
}

static int key_cmp(const void *a, const void *b)
{
	const Key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

static void scan_value(Scan *sc);

static void scan_object(Scan *sc)
{
	size_t open = sc->i++;
	_cleanup_free_ Key *keys = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		skip_ws(sc);
		if (sc->i >= sc->len || sc->s[sc->i] == '}')
			break;
		if (sc->s[sc->i] == ',') {
			sc->i++;
			continue;
		}
		size_t k = sc->i;
		skip_string(sc);
		sc->members++;
		if (sc->locate) {
			if (n == cap) {
				Key *more = reallocarray(keys, cap ? cap * 2 : 16, sizeof(*keys));
				if (!more) {
					problem(sc, open, "out of memory");
					sc->locate = false;
				} else {
					keys = more;
					cap = cap ? cap * 2 : 16;
				}
			}
			if (n < cap)
				keys[n++] = (Key){ sc->s + k, sc->i - k, k };
		}
		skip_ws(sc);
		sc->i++;	/* ':' */
		scan_value(sc);
	}
	sc->i++;
	if (n > 1) {
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (size_t j = 1; j < n; j++)
			if (keys[j].len == keys[j - 1].len && !memcmp(keys[j].p, keys[j - 1].p, keys[j].len))
				problem(sc, keys[j].at, "duplicate key");
	}
}

static void scan_value(Scan *sc)
{
	skip_ws(sc);
	if (sc->i >= sc->len)
		return;
	switch (sc->s[sc->i]) {
	case '{':
		scan_object(sc);
		return;
	case '[':
		sc->i++;
		for (;;) {
			skip_ws(sc);
			if (sc->i >= sc->len || sc->s[sc->i] == ']')
				break;
			if (sc->s[sc->i] == ',')
				sc->i++;
			else
				scan_value(sc);
		}
		sc->i++;
		return;
	case '"':
	case '\'':
		skip_string(sc);
		return;
	default:
		scan_token(sc);
		return;
	}
}

/* The members of every object in the parsed tree. */
static size_t tree_members(json_object *o)
{
	size_t n = 0;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, v) {
			(void)key;
			n += 1 + tree_members(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		size_t len = json_object_array_length(o);
		for (size_t i = 0; i < len; i++)
			n += tree_members(json_object_array_get_idx(o, i));
	}
	return n;
}

int json_strict_check(const char *text, size_t len, json_object *root, size_t *at, const char **what)
{
	Scan sc = { .s = text, .len = len, .at = SIZE_MAX };
	scan_value(&sc);
	if (sc.at == SIZE_MAX && sc.members != tree_members(root)) {
		/* some key came twice: the second pass names which */
		sc = (Scan){ .s = text, .len = len, .at = SIZE_MAX, .locate = true };
		scan_value(&sc);
		if (sc.at == SIZE_MAX)	/* the same key spelt two ways ("a", "\u0061") */
			problem(&sc, 0, "duplicate key");
	}
	if (sc.at == SIZE_MAX)
		return 0;
	*at = sc.at;
	*what = sc.what;
	return -EBADMSG;
}

int json_strict_parse(json_tokener **tok, const char *text, size_t len, json_object **ret, size_t *at,
		      const char **what)
{
	*ret = NULL;
	/* json-c takes a NUL byte for the end of the input */
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		*at = (size_t)(nul - text);
		*what = "NUL byte";
		return -EBADMSG;
	}
	if (!*tok) {
		*tok = json_tokener_new();
		if (!*tok) {
			*at = 0;
			*what = "out of memory";
			return -ENOMEM;
		}
		json_tokener_set_flags(*tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
						     JSON_TOKENER_ALLOW_TRAILING_CHARS);
	}
	json_tokener_reset(*tok);
	json_object *o = json_tokener_parse_ex(*tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(*tok);
	size_t end = json_tokener_get_parse_end(*tok);
	if (jerr != json_tokener_success) {
		json_object_put(o);
		*at = jerr == json_tokener_continue ? len : end;
		*what = json_tokener_error_desc(jerr == json_tokener_continue ? json_tokener_error_parse_eof
									 : jerr);
		return -EBADMSG;
	}
	size_t rest = end;
	while (rest < len && strchr(" \t\r\n", text[rest]))
		rest++;
	if (rest < len) {
		json_object_put(o);
		*at = rest;
		*what = "data after the JSON value";
		return -EBADMSG;
	}
	int r = json_strict_check(text, end, o, at, what);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}
