/* vgpu-report diff and check (see report-compare.h). */
#include "report/report-compare.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "policy/policy.h"

/* The verdicts of contract v1; reasons may be added, verdicts may not, so
 * an unknown verdict in an expectation is a typo, not a newer report. */
static const char *const verdicts[] = { "loaded", "absent", "skipped", "failed" };

static const char *name_of(const ReportDirectory *d)
{
	return d->name ? d->name : "";
}

static const ReportDirectory *find_by_name(const Report *r, const char *name)
{
	for (size_t i = 0; i < r->n_directories; i++)
		if (strcmp(name_of(&r->directories[i]), name) == 0)
			return &r->directories[i];
	return NULL;
}

static bool same_outcome(const ReportDirectory *a, const ReportDirectory *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a->verdict ? a->verdict : "", b->verdict ? b->verdict : "") == 0 &&
	       strcmp(a->reason ? a->reason : "", b->reason ? b->reason : "") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of both reports, sorted, each once: the readers sort
 * directories already, but a hand-made report need not be. */
static int union_names(const Report *a, const Report *b, const char ***ret, size_t *ret_n)
{
	size_t n = 0;
	const char **names = calloc(a->n_directories + b->n_directories + 1, sizeof(char *));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_directories; i++)
		names[n++] = name_of(&a->directories[i]);
	for (size_t i = 0; i < b->n_directories; i++)
		names[n++] = name_of(&b->directories[i]);
	qsort(names, n, sizeof(char *), cmp_names);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || strcmp(names[k - 1], names[i]) != 0)
			names[k++] = names[i];
	*ret = names;
	*ret_n = k;
	return 0;
}

static void put_side(FILE *out, const ReportDirectory *d)
{
	if (d)
		fprintf(out, "%s:%s", d->verdict ? d->verdict : "", d->reason ? d->reason : "");
	else
		fputs("(none)", out);
}

static void json_side(JsonWriter *w, const char *key, const ReportDirectory *d)
{
	json_key(w, key);
	if (!d) {
		json_null(w);
		return;
	}
	json_object_begin(w);
	json_kv_string(w, "verdict", d->verdict);
	json_kv_string(w, "reason", d->reason);
	json_object_end(w);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The contract's "changed outcome": whether stated, the device count, or
 * a device's name or description (in the server's order).  Memory and
 * the like are not compared: they vary from run to run.  A report from
 * before the outcome existed (no summary) is compared with nothing. */
static bool same_devices(const Report *b, const Report *a)
{
	if (b->outcome_stated != a->outcome_stated || report_gpus(b) != report_gpus(a) || b->n_devices != a->n_devices)
		return false;
	for (size_t i = 0; i < b->n_devices; i++)
		if (!same_str(b->devices[i].name, a->devices[i].name) ||
		    !same_str(b->devices[i].description, a->devices[i].description))
			return false;
	return true;
}

/* The facts of a directory a user acts on beside its verdict, each the
 * union over its libraries in order of appearance: what is missing, which
 * symbols no library defines, which versions the providers lack. */
static const struct {
	const char *field;	/* JSON */
	const char *text;	/* text line */
	size_t offset;		/* of the char ** in ReportLibrary */
} facts[] = {
	{ "missing", "missing", offsetof(ReportLibrary, missing) },
	{ "unresolved", "unresolved symbols", offsetof(ReportLibrary, unresolved) },
	{ "versions", "missing versions", offsetof(ReportLibrary, versions) },
};

#define FACTS_TEXT_MAX 2048

/* "a, b, c" (or "" for none) into OUT. */
static void fact_list(const ReportDirectory *d, size_t offset, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; d && i < d->n_libraries; i++)
		for (char *const *v = *(char **const *)((const char *)&d->libraries[i] + offset); v && *v; v++) {
			/* once each: whole items only, "a" is not in "ab" */
			bool seen = !**v;	/* an empty item says nothing */
			size_t len = strlen(*v);
			for (const char *p = out; !seen && (p = strstr(p, *v)); p += len)
				seen = (p == out || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0');
			if (!seen && n < size)
				n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "", *v);
		}
}

static void json_list(JsonWriter *w, const char *key, const char *list)
{
	json_key(w, key);
	json_array_begin(w);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		json_string_len(w, p, len);
		p += len;
		p += strspn(p, ", ");
	}
	json_array_end(w);
}

/* Lines for each fact of directory NAME that changed; their number. */
static size_t diff_facts(const char *name, const ReportDirectory *b, const ReportDirectory *a, bool as_json,
			 JsonWriter *w, FILE *out)
{
	size_t changes = 0;
	for (size_t k = 0; b && a && same_outcome(b, a) && k < ELEMENTSOF(facts); k++) {
		char fb[FACTS_TEXT_MAX], fa[FACTS_TEXT_MAX];
		fact_list(b, facts[k].offset, fb, sizeof(fb));
		fact_list(a, facts[k].offset, fa, sizeof(fa));
		if (!strcmp(fb, fa))
			continue;
		changes++;
		if (as_json) {
			json_object_begin(w);
			json_kv_string(w, "name", name);
			json_kv_string(w, "field", facts[k].field);
			json_list(w, "before", fb);
			json_list(w, "after", fa);
			json_object_end(w);
		} else {
			fprintf(out, "%s: %s %s -> %s\n", name, facts[k].text, *fb ? fb : "(none)", *fa ? fa : "(none)");
		}
	}
	return changes;
}

int report_diff(const Report *before, const Report *after, bool as_json, FILE *out)
{
	_cleanup_free_ const char **names = NULL;
	size_t n_names, changes = 0;
	JsonWriter w;
	int r = union_names(before, after, &names, &n_names);
	if (r < 0)
		return r;

	json_init(&w);
	json_object_begin(&w);
	json_kv_string(&w, "schema", REPORT_DIFF_SCHEMA);
	const char *ob = before->outcome_summary, *oa = after->outcome_summary;
	if (ob && oa && !same_devices(before, after)) {
		changes++;
		if (as_json) {
			json_key(&w, "outcome");
			json_object_begin(&w);
			json_kv_string(&w, "before", ob);
			json_kv_string(&w, "after", oa);
			json_object_end(&w);
		} else {
			fprintf(out, "outcome: %s -> %s\n", ob, oa);
		}
	}
	json_key(&w, "changes");
	json_array_begin(&w);
	for (size_t i = 0; i < n_names; i++) {
		const ReportDirectory *b = find_by_name(before, names[i]);
		const ReportDirectory *a = find_by_name(after, names[i]);
		if (same_outcome(b, a))
			continue;
		changes++;
		if (as_json) {
			json_object_begin(&w);
			json_kv_string(&w, "name", names[i]);
			json_side(&w, "before", b);
			json_side(&w, "after", a);
			json_object_end(&w);
			continue;
		}
		fprintf(out, "%s: ", names[i]);
		put_side(out, b);
		fputs(" -> ", out);
		put_side(out, a);
		fputc('\n', out);
	}
	json_array_end(&w);
	/* beside an unchanged verdict: what is missing, unresolved or of the
	 * wrong version (a changed verdict says it all) */
	json_key(&w, "details");
	json_array_begin(&w);
	for (size_t i = 0; i < n_names; i++)
		changes += diff_facts(names[i], find_by_name(before, names[i]), find_by_name(after, names[i]), as_json,
				      &w, out);
	json_array_end(&w);
	json_object_end(&w);
	if (as_json && !w.failed)
		fprintf(out, "%s\n", w.buf);
	r = w.failed ? -ENOMEM : ferror(out) ? -EIO : changes > 0;
	json_done(&w);
	return r;
}

/* The reasons of contract v1, per verdict: a reason another verdict has,
 * or none has, is a typo in an expectation, not a newer report. */
static const struct {
	const char *verdict, *reasons;
} reasons[] = {
	{ "loaded", "loaded" },
	{ "absent", "no-such-directory, no-backend-library" },
	{ "skipped", "filtered-by-env, filtered-by-platform, never-scanned, not-reached, unreadable, dropped" },
	{ "failed", "missing-dependency, bad-library, load-error, init-failed, scanner-crashed, scanner-timeout" },
};

/* VERDICT's reasons ("a, b"), or NULL; is REASON one of them? */
static const char *reasons_of(const char *verdict, const char *reason, bool *known)
{
	*known = false;
	for (size_t i = 0; i < ELEMENTSOF(reasons); i++) {
		if (strcmp(reasons[i].verdict, verdict))
			continue;
		size_t n = strlen(reason);
		for (const char *p = reasons[i].reasons; n && (p = strstr(p, reason)); p += n)
			*known = *known || ((p == reasons[i].reasons || p[-1] == ' ') && (p[n] == ',' || !p[n]));
		return reasons[i].reasons;
	}
	return NULL;
}

int report_expectation_parse(const char *s, ReportExpectation *ret, char *err, size_t err_size)
{
	_cleanup_free_ char *text = strdup(s);
	if (!text) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	/* the last '=': a directory's path may hold one, a verdict never does */
	char *eq = strrchr(text, '=');
	if (!eq || eq == text || !eq[1]) {
		snprintf(err, err_size, "bad expectation '%s': expected DIR=VERDICT[:REASON]", s);
		return -EINVAL;
	}
	*eq = '\0';
	char *verdict = eq + 1, *reason = strchr(verdict, ':');
	if (reason)
		*reason++ = '\0';
	bool known = false;
	for (size_t i = 0; i < ELEMENTSOF(verdicts); i++)
		known = known || strcmp(verdict, verdicts[i]) == 0;
	if (!known) {
		snprintf(err, err_size,
			 "bad expectation '%s': unknown verdict '%s' (loaded, absent, skipped or failed)",
			 s, verdict);
		return -EINVAL;
	}
	bool reason_known;
	const char *list = reason ? reasons_of(verdict, reason, &reason_known) : NULL;
	if (reason && !reason_known) {
		snprintf(err, err_size, "bad expectation '%s': unknown reason '%s' for %s (%s)", s, reason, verdict,
			 list ? list : "none");
		return -EINVAL;
	}
	ret->dir = text;
	ret->verdict = verdict;
	ret->reason = reason;
	ret->text = TAKE_PTR(text);
	return 0;
}

void report_expectation_done(ReportExpectation *e)
{
	free(e->text);
	memset(e, 0, sizeof(*e));
}

/* DIR names a directory by name, or by path; a path may be written with a
 * trailing '/' as shells complete it. */
static const ReportDirectory *find_dir(const Report *r, const char *dir)
{
	const ReportDirectory *d = find_by_name(r, dir);
	size_t len = strlen(dir);
	while (len > 1 && dir[0] == '/' && dir[len - 1] == '/')
		len--;
	for (size_t i = 0; !d && i < r->n_directories; i++) {
		const char *p = r->directories[i].path;
		if (p && strlen(p) == len && strncmp(p, dir, len) == 0)
			d = &r->directories[i];
	}
	return d;
}

static bool holds(const ReportExpectation *e, const ReportDirectory *d)
{
	return d && d->verdict && strcmp(d->verdict, e->verdict) == 0 &&
	       (!e->reason || (d->reason && strcmp(d->reason, e->reason) == 0));
}

static void expectations_free(ReportExpectation *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		report_expectation_done(&e[i]);
	free(e);
}

int report_check(const Report *r, char *const *expects, size_t n_expects, FILE *out, char *err,
		 size_t err_size)
{
	return report_check_all(r, expects, n_expects, NULL, out, err, err_size);
}

/* A compiled --expect-device, bounded as the policies' regexes are. */
static int compile_device(const char *re, regex_t *rx, char *err, size_t err_size)
{
	const char *refused = policy_regex_refused(re);
	if (refused) {
		snprintf(err, err_size, "--expect-device: '%s' is %s", re,
			 !strncmp(refused, "too complex", 11) ? refused : "refused: it holds a back-reference");
		return -EINVAL;
	}
	int r = regcomp(rx, re, REG_EXTENDED | REG_NOSUB);
	if (r) {
		char msg[256];
		regerror(r, rx, msg, sizeof(msg));
		snprintf(err, err_size, "--expect-device: '%s': %s", re, msg);
		return -EINVAL;
	}
	return 0;
}

/* The outcome's expectations; the number that do not hold. */
static size_t check_outcome(const Report *r, const ReportOutcomeExpectation *oe, const regex_t *rx, FILE *out)
{
	size_t failed = 0;
	const char *got = r->outcome_summary ? r->outcome_summary : "no outcome";
	if (oe->gpus >= 0 && (!r->outcome_stated || report_gpus(r) != (uint64_t)oe->gpus)) {
		failed++;
		fprintf(out, "outcome: expected %ld GPU%s, got %s\n", oe->gpus, oe->gpus == 1 ? "" : "s", got);
	}
	if (oe->device) {
		bool found = false;
		for (size_t i = 0; i < r->n_devices && !found; i++)
			found = (r->devices[i].name && !policy_regexec(rx, r->devices[i].name, 0, NULL)) ||
				(r->devices[i].description && !policy_regexec(rx, r->devices[i].description, 0, NULL));
		if (!found) {
			failed++;
			fprintf(out, "outcome: expected a device matching '%s', got %s\n", oe->device, got);
		}
	}
	return failed;
}

int report_check_all(const Report *r, char *const *expects, size_t n_expects,
		     const ReportOutcomeExpectation *oe, FILE *out, char *err, size_t err_size)
{
	ReportExpectation *e;
	size_t failed = 0;
	int k;
	bool outcome = oe && (oe->gpus >= 0 || oe->device);
	regex_t rx;

	if (n_expects == 0 && !outcome) {
		snprintf(err, err_size, "no --expect given: nothing to check");
		return 2;
	}
	if (oe && oe->device && compile_device(oe->device, &rx, err, err_size) < 0)
		return 2;
	e = calloc(n_expects ? n_expects : 1, sizeof(*e));
	if (!e) {
		if (oe && oe->device)
			regfree(&rx);
		return -ENOMEM;
	}
	/* all parsed before any is tested: a typo prints no half answer */
	for (size_t i = 0; i < n_expects; i++) {
		k = report_expectation_parse(expects[i], &e[i], err, err_size);
		if (k < 0) {
			expectations_free(e, n_expects);
			if (oe && oe->device)
				regfree(&rx);
			return k == -EINVAL ? 2 : k;
		}
	}
	if (outcome)
		failed += check_outcome(r, oe, &rx, out);
	if (oe && oe->device)
		regfree(&rx);
	for (size_t i = 0; i < n_expects; i++) {
		const ReportDirectory *d = find_dir(r, e[i].dir);
		if (holds(&e[i], d))
			continue;
		failed++;
		fprintf(out, "%s: expected %s%s%s, got ", e[i].dir, e[i].verdict,
			e[i].reason ? ":" : "", e[i].reason ? e[i].reason : "");
		if (d)
			fprintf(out, "%s:%s\n", d->verdict ? d->verdict : "", d->reason ? d->reason : "");
		else
			fputs("not-reported\n", out);
	}
	expectations_free(e, n_expects);
	if (ferror(out))
		return -EIO;
	return failed > 0;
}
