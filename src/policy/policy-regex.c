/* The cost check of policy regexes (policy_regex_too_costly in policy.h):
 * what a regex costs glibc's regcomp, estimated from its text before it
 * is compiled. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <regex.h>
#include <string.h>

#include "policy/policy.h"

/* glibc's regcomp copies the operand of every x+ and x{N}, so nested
 * repetitions grow exponentially, and its epsilon closures grow faster
 * still: "a++++++++++++++++++++++++" took gigabytes, and 11 nested "(e*)+"
 * 16 seconds.  A tree of 1000 nodes compiles in about 0.25 s at worst;
 * the log-line regexes policies need have well under 200. */
#define REGEX_COST_MAX 1000
#define REGEX_DEPTH_MAX 32

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The ']' that closes the bracket expression opening at C (or the end of
 * the string): a ']' right after "[" or "[^" is a member, and [:x:],
 * [.x.] and [=x=] nest. */
static const char *bracket_end(const char *c)
{
	c += c[1] == '^' ? 2 : 1;
	if (*c == ']')
		c++;
	for (; *c && *c != ']'; c++)
		if (*c == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '=')) {
			const char *end = strchr(c + 2, c[1]);
			c = end && end[1] == ']' ? end + 1 : c;
		}
	return c;
}

/* An estimate of the tree regcomp builds from RE, in nodes: + copies its
 * operand once, {M,N} N times, and what a group repeats includes every
 * copy made inside it.  Bracket expressions and escapes are one node. */
bool policy_regex_too_costly(const char *re)
{
	uint64_t outer[REGEX_DEPTH_MAX], cur = 0, last = 0;
	size_t depth = 0;
	for (const char *c = re; *c; c++) {
		uint64_t factor = 0;
		if (*c == '(') {
			if (depth == REGEX_DEPTH_MAX)
				return true;
			outer[depth++] = cur;
			cur = last = 0;
			continue;
		}
		if (*c == ')' && depth > 0) {
			last = cur + 1;
			cur = outer[--depth] + last;
		} else if (*c == '+') {
			factor = 2;
		} else if (*c == '*' || *c == '?' || *c == '|') {
			cur++;
			last++;
		} else if (*c == '{') {
			/* {M}, {M,} and {M,N}: the larger bound counts */
			uint64_t n = 0, most = 0;
			for (c++; (is_digit(*c) || *c == ',') && most <= REGEX_COST_MAX; c++) {
				n = is_digit(*c) ? n * 10 + (uint64_t)(*c - '0') : 0;
				most = n > most ? n : most;
			}
			factor = most + 1;
			c--;
		} else {
			if (*c == '\\' && c[1])
				c++;
			else if (*c == '[')
				c = bracket_end(c);
			if (!*c)
				break;
			cur++;
			last = 1;
		}
		if (factor) {
			cur += last * (factor - 1);
			last *= factor;
		}
		if (cur > REGEX_COST_MAX)
			return true;
	}
	return false;
}

/* glibc's regcomp also builds epsilon closures that grow exponentially
 * with the repetitions of an operand that can match the empty string
 * (x**, (x*)*, (a|)+), whatever the size of the tree: after an anchor,
 * "^a**b**c**..." took seconds with 20 of them and minutes with 30.  The
 * log-line regexes policies need have none. */
#define REGEX_EMPTY_REPEATS_MAX 8

/* How many repetitions (*, +, ?, {M,N}) in RE apply to an operand that
 * can match the empty string: a repetition that may be absent, an anchor,
 * or a group one of whose alternatives can. */
static unsigned empty_repeats(const char *re)
{
	/* in the current alternative, every item before the last can match
	 * empty (BEFORE), and the last can (LAST); an earlier alternative of
	 * the group can (ANY) */
	bool before = true, last = true, any = false;
	struct {
		bool before, any;
	} outer[REGEX_DEPTH_MAX];
	size_t depth = 0;
	unsigned n = 0;
	for (const char *c = re; *c; c++) {
		if (*c == '(') {
			if (depth == REGEX_DEPTH_MAX)
				return UINT_MAX;
			outer[depth].before = before && last;
			outer[depth++].any = any;
			before = last = true;
			any = false;
		} else if (*c == ')' && depth > 0) {
			last = any || (before && last);
			depth--;
			before = outer[depth].before;
			any = outer[depth].any;
		} else if (*c == '|') {
			any = any || (before && last);
			before = last = true;
		} else if (*c == '*' || *c == '?' || *c == '+') {
			n += last;
			last = last || *c != '+';
		} else if (*c == '{') {
			/* {M}, {M,} and {M,N}: it may be absent when M is 0 */
			bool zero = true, comma = false;
			n += last;
			for (c++; is_digit(*c) || *c == ','; c++) {
				comma = comma || *c == ',';
				zero = zero && (comma || *c == '0');
			}
			last = last || zero;
			if (*c != '}')
				c--;
		} else {
			bool anchor = *c == '^' || *c == '$';
			if (*c == '\\' && c[1]) {
				c++;
				anchor = strchr("bB<>`'", *c) != NULL;
			} else if (*c == '[') {
				c = bracket_end(c);
			}
			if (!*c)
				break;
			before = before && last;
			last = anchor;
		}
	}
	return n;
}

/* A back-reference: a backslash and a digit 1 to 9, outside a bracket
 * expression ("[\\1]" is a backslash and a 1). */
static bool has_backref(const char *re)
{
	for (const char *c = re; *c; c++) {
		if (*c == '[') {
			c = bracket_end(c);
			if (!*c)
				break;
		} else if (*c == '\\' && c[1]) {
			if (c[1] >= '1' && c[1] <= '9')
				return true;
			c++;
		}
	}
	return false;
}

const char *policy_regex_refused(const char *re)
{
	if (policy_regex_too_costly(re))
		return "too complex to compile (nested or stacked +, {N})";
	if (empty_repeats(re) > REGEX_EMPTY_REPEATS_MAX)
		return "too complex to compile (more than 8 repetitions of what can match nothing, "
		       "as x** or (x*)*)";
	if (has_backref(re))
		return "back-references (\\1 to \\9) are not allowed: their matching cost has no bound";
	return NULL;
}

int policy_regexec(const regex_t *rx, const char *text, size_t nmatch, regmatch_t *m)
{
	regmatch_t range[10];
	size_t len = strnlen(text, POLICY_MATCH_MAX);
	if (nmatch > 10)
		nmatch = 10;
	range[0].rm_so = 0;
	range[0].rm_eo = (regoff_t)len;
	/* a line cut at the bound does not end there: '$' must not match */
	int r = regexec(rx, text, nmatch ? nmatch : 1, range, REG_STARTEND | (text[len] ? REG_NOTEOL : 0));
	for (size_t i = 0; r == 0 && m && i < nmatch; i++)
		m[i] = range[i];
	return r;
}
