/* Evidence records, and the server's own word on what it kept (see
 * diagnose-internal.h): the parts of the verdicts that read events back
 * by seq or read the server's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose-internal.h"

/* The evidence record of event SEQ, from the model. */
void diag_evidence_for(const Diagnosis *d, uint64_t seq, ReportEvidence *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	for (size_t i = 0; i < d->n_procs; i++) {
		const Proc *p = &d->procs[i];
		e->pid = p->pid;
		for (size_t k = 0; k < p->n_opens; k++)
			if (p->opens[k].seq == seq) {
				e->syscall = strdup(p->opens[k].syscall);
				e->path = strdup(p->opens[k].path);
				e->result = p->opens[k].result ? strdup(p->opens[k].result) : NULL;
				return;
			}
		for (size_t k = 0; k < p->n_output; k++)
			if (p->output[k].seq == seq) {
				e->event = strdup("output");
				e->text = strndup(p->output[k].text, strcspn(p->output[k].text, "\n"));
				return;
			}
		if (seq == p->inject_seq) {
			e->event = strdup("inject");
			e->text = strdup(p->inject_why);
			return;
		}
		if (seq == p->crash_stack_seq) {
			e->event = strdup("stack");
			e->text = strdup(p->crash_stack);
			return;
		}
		const char *kind = seq == p->exec_seq ? "exec" : seq == p->exit_seq ? "exit"
						  : seq == p->fatal_seq ? "signal" : NULL;
		if (kind) {
			e->event = strdup(kind);
			if (seq == p->exec_seq && p->exe)
				e->path = strdup(p->exe);
			if (seq == p->fatal_seq)
				e->text = strdup(p->fatal_signal);
			return;
		}
		if (seq == p->kill_seq) {
			e->pid = p->killer;
			e->syscall = strdup("kill");
			e->text = p->kill_signal ? strdup(p->kill_signal) : NULL;
			return;
		}
	}
	e->pid = 0;
	e->event = strdup("observe");
	if (d->listing)
		e->path = jstr(d->listing, "path") ? strdup(jstr(d->listing, "path")) : NULL;
}

/* The server's own word on what it kept (policy "kept"): the basenames
 * of its last such output line, comma-separated, and that line's seq. */
static uint64_t kept_dirs(const Diagnosis *d, char *out, size_t size)
{
	const Proc *server = diag_proc(d, d->root_pid);
	uint64_t seq = 0;
	*out = '\0';
	if (!server || !d->policy.kept_regex)
		return 0;
	for (size_t i = 0; i < server->n_output; i++) {
		char g[1024];
		if (diag_regex_line(d->policy.kept_regex, server->output[i].text, g, sizeof(g))) {
			size_t len = strlen(out);
			snprintf(out + len, size - len, "%s%s", len ? "," : "", g);
			seq = server->output[i].seq;
		}
	}
	return seq;
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
void diag_apply_kept(const Diagnosis *d, Report *r)
{
	char kept[4096];
	uint64_t seq = kept_dirs(d, kept, sizeof(kept));
	if (!seq)
		return;
	for (size_t i = 0; i < r->n_directories; i++) {
		ReportDirectory *rd = &r->directories[i];
		if (strcmp(rd->verdict, "loaded") || in_list(kept, diag_base_name(rd->path)))
			continue;
		char detail[DETAIL_MAX];
		snprintf(detail, sizeof(detail), "loaded, but the server kept only %s", kept);
		free(rd->verdict);
		free(rd->reason);
		free(rd->detail);
		rd->verdict = strdup("skipped");
		rd->reason = strdup("dropped");
		rd->detail = strdup(detail);
		ReportEvidence *ne = realloc(rd->evidence, (rd->n_evidence + 1) * sizeof(*ne));
		if (ne) {
			rd->evidence = ne;
			diag_evidence_for(d, seq, &rd->evidence[rd->n_evidence++]);
		}
	}
}

