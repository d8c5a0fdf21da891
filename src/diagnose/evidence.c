/* Evidence records, and the server's own word on what it kept (see
 * evidence.h): the parts of the verdicts that read events back by seq or
 * read the server's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "diagnose/evidence.h"

/* Is SEQ one of P's events?  Then its record into E. */
static bool evidence_in(const Proc *p, uint64_t seq, ReportEvidence *e)
{
	e->pid = p->pid;
	for (size_t k = 0; k < p->n_opens; k++)
		if (p->opens[k].seq == seq) {
			e->syscall = strdup(p->opens[k].syscall);
			e->path = strdup(p->opens[k].path);
			e->result = p->opens[k].result ? strdup(p->opens[k].result) : NULL;
			return true;
		}
	for (size_t k = 0; k < p->n_output; k++)
		if (p->output[k].seq == seq) {
			e->event = strdup("output");
			e->text = strndup(p->output[k].text, strcspn(p->output[k].text, "\n"));
			return true;
		}
	if (seq == p->inject_seq) {
		e->event = strdup("inject");
		e->text = strdup(p->inject_why);
		return true;
	}
	if (seq == p->crash_stack_seq) {
		e->event = strdup("stack");
		e->text = strdup(p->crash_stack);
		return true;
	}
	const char *kind = seq == p->exec_seq ? "exec" : seq == p->exit_seq ? "exit"
					  : seq == p->fatal_seq ? "signal" : NULL;
	if (kind) {
		e->event = strdup(kind);
		if (seq == p->exec_seq && p->exe)
			e->path = strdup(p->exe);
		if (seq == p->fatal_seq)
			e->text = strdup(p->fatal_signal);
		return true;
	}
	if (seq == p->kill_seq) {
		e->pid = p->killer;
		e->syscall = strdup("kill");
		e->text = p->kill_signal ? strdup(p->kill_signal) : NULL;
		return true;
	}
	return false;
}

void diag_evidence_for(const Model *d, const Proc *p, uint64_t seq, ReportEvidence *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	if (p && evidence_in(p, seq, e))
		return;
	for (size_t i = 0; i < d->n_procs; i++)
		if (d->procs[i] != p && evidence_in(d->procs[i], seq, e))
			return;
	e->pid = 0;
	e->event = strdup("observe");
	if (d->listing)
		e->path = jstr(d->listing, "path") ? strdup(jstr(d->listing, "path")) : NULL;
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		const char *comma = strchrnul(p, ',');
		if ((size_t)(comma - p) == n && !strncmp(p, name, n))
			return true;
		p = *comma ? comma + 1 : comma;
	}
	return false;
}

/* A directory that loaded but that the server did not keep was dropped. */
void diag_apply_kept(const Model *d, Report *r)
{
	const char *kept = d->kept;
	if (!d->kept_ev.seq)
		return;
	for (size_t i = 0; i < r->n_directories; i++) {
		ReportDirectory *rd = &r->directories[i];
		if (strcmp(rd->verdict, "loaded") || in_list(kept, diag_base_name(rd->path)))
			continue;
		char detail[DETAIL_MAX];
		snprintf(detail, sizeof(detail), "loaded, but the server kept only %.4000s", kept);
		free(rd->verdict);
		free(rd->reason);
		free(rd->detail);
		rd->verdict = strdup("skipped");
		rd->reason = strdup("dropped");
		rd->detail = strdup(detail);
		ReportEvidence *ne = realloc(rd->evidence, (rd->n_evidence + 1) * sizeof(*ne));
		if (ne) {
			rd->evidence = ne;
			report_evidence_copy(&d->kept_ev, &rd->evidence[rd->n_evidence++]);
		}
	}
}

#define CAUSE_MAX 120	/* one line of the table, after the verdict */

/* "libcudart.so.12, libcublas.so.12 not found (58 paths tried)": every
 * soname its libraries miss, once. */
static bool missing_cause(const ReportDirectory *rd, char *out, size_t size)
{
	size_t n = 0, searched = 0, names = 0;
	out[0] = '\0';
	for (size_t i = 0; i < rd->n_libraries; i++) {
		const ReportLibrary *l = &rd->libraries[i];
		for (char **m = l->missing; m && *m; m++) {
			if (strstr(out, *m))
				continue;
			n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s", names++ ? ", " : "", *m);
		}
		searched += strv_len(l->searched);
	}
	if (!names)
		return false;
	if (n < size)
		snprintf(out + n, size - n, " not found (%zu path%s tried)", searched, searched == 1 ? "" : "s");
	return true;
}

void diag_cause(ReportDirectory *rd)
{
	char out[1024];
	if (!rd->verdict || !strcmp(rd->verdict, "loaded"))
		return;
	if (!strcmp(rd->reason, "missing-dependency") && missing_cause(rd, out, sizeof(out))) {
		rd->cause = strdup(out);
		return;
	}
	static const struct {
		const char *reason, *cause;
	} fixed[] = {
		{ "no-such-directory", "no such directory" },
		{ "no-backend-library", "no backend library in it" },
		{ "never-scanned", "no scanner was pointed at it" },
	};
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		if (!strcmp(rd->reason, fixed[i].reason)) {
			rd->cause = strdup(fixed[i].cause);
			return;
		}
	if (!rd->detail)
		return;
	/* the detail, its first line, the directory's own path said "it" */
	size_t n = 0, plen = rd->path ? strlen(rd->path) : 0;
	for (const char *c = rd->detail; *c && *c != '\n' && n + 1 < sizeof(out);) {
		if (plen && !strncmp(c, rd->path, plen) && c[plen] != '/') {
			n += (size_t)snprintf(out + n, sizeof(out) - n, "it");
			c += plen;
		} else {
			out[n++] = *c++;
		}
	}
	out[n < sizeof(out) ? n : sizeof(out) - 1] = '\0';
	if (strlen(out) > CAUSE_MAX)
		memcpy(out + CAUSE_MAX - 3, "...", 4);
	rd->cause = strdup(out);
}
