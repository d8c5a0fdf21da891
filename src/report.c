/* Freeing a Report (see report.h).  Every renderer and reader shares this
 * one destructor, so a partly built report is always safe to drop. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void exit_done(ReportExit *e)
{
	free(e->signal);
	free(e->by);
	free(e->fatal_signal);
	memset(e, 0, sizeof(*e));
}

static void directory_done(ReportDirectory *d)
{
	free(d->name);
	free(d->path);
	free(d->realpath);
	free(d->verdict);
	free(d->reason);
	free(d->detail);
	for (size_t i = 0; i < d->n_libraries; i++) {
		ReportLibrary *l = &d->libraries[i];
		free(l->path);
		free(l->backend);
		free(l->outcome);
		strv_free(l->missing);
		strv_free(l->searched);
	}
	free(d->libraries);
	for (size_t i = 0; i < d->n_runs; i++) {
		free(d->runs[i].verdict);
		free(d->runs[i].reason);
	}
	free(d->runs);
	for (size_t i = 0; i < d->n_evidence; i++) {
		ReportEvidence *ev = &d->evidence[i];
		free(ev->syscall);
		free(ev->event);
		free(ev->path);
		free(ev->result);
		free(ev->text);
	}
	free(d->evidence);
}

void report_done(Report *r)
{
	if (!r)
		return;
	free(r->tool_version);
	strv_free(r->command);
	free(r->policy_name);
	free(r->policy_path);
	free(r->scanner_version);
	exit_done(&r->exit);
	for (size_t i = 0; i < r->n_environment; i++) {
		free(r->environment[i].name);
		free(r->environment[i].value);
	}
	free(r->environment);
	for (size_t i = 0; i < r->n_processes; i++) {
		ReportProcess *p = &r->processes[i];
		strv_free(p->argv);
		free(p->role);
		strv_free(p->scans);
		exit_done(&p->exit);
	}
	free(r->processes);
	for (size_t i = 0; i < r->n_directories; i++)
		directory_done(&r->directories[i]);
	free(r->directories);
	for (size_t i = 0; i < r->n_injections; i++) {
		ReportInjection *in = &r->injections[i];
		free(in->method);
		free(in->library);
		free(in->shim);
		free(in->status);
		free(in->why);
		free(in->path);
		free(in->real);
	}
	free(r->injections);
	strv_free(r->notes);
	/* a second call, or a reader reusing the struct, sees an empty report */
	memset(r, 0, sizeof(*r));
}
