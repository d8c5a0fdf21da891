/* Freeing a Report, and adding notes to it (see report.h).  Every renderer
 * and reader shares this one destructor, so a partly built report is
 * always safe to drop. */
#include "report/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strv.h"

void report_exit_done(ReportExit *e)
{
	free(e->signal);
	free(e->by);
	free(e->fatal_signal);
	memset(e, 0, sizeof(*e));
}

static char **strv_copy(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	if (!v)
		return NULL;
	char **c = calloc(n + 1, sizeof(*c));
	for (size_t i = 0; c && i < n; i++)
		c[i] = strdup(v[i]);
	return c;
}

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void report_evidence_done(ReportEvidence *ev)
{
	free(ev->syscall);
	free(ev->event);
	free(ev->path);
	free(ev->result);
	free(ev->text);
	memset(ev, 0, sizeof(*ev));
}

void report_evidence_copy(const ReportEvidence *from, ReportEvidence *to)
{
	*to = (ReportEvidence){
		.seq = from->seq, .pid = from->pid, .syscall = sdup(from->syscall),
		.event = sdup(from->event), .path = sdup(from->path), .result = sdup(from->result),
		.text = sdup(from->text),
	};
}

void report_library_done(ReportLibrary *l)
{
	free(l->path);
	free(l->backend);
	free(l->outcome);
	strv_free_all(l->missing);
	strv_free_all(l->searched);
	strv_free_all(l->unresolved);
	strv_free_all(l->versions);
	memset(l, 0, sizeof(*l));
}

void report_library_copy(const ReportLibrary *from, ReportLibrary *to)
{
	*to = (ReportLibrary){
		.path = sdup(from->path), .backend = sdup(from->backend), .outcome = sdup(from->outcome),
		.missing = strv_copy(from->missing), .searched = strv_copy(from->searched),
		.unresolved = strv_copy(from->unresolved), .versions = strv_copy(from->versions),
	};
}

void report_exit_copy(const ReportExit *from, ReportExit *to)
{
	*to = *from;
	to->signal = sdup(from->signal);
	to->by = sdup(from->by);
	to->fatal_signal = sdup(from->fatal_signal);
}

void report_process_done(ReportProcess *p)
{
	for (size_t i = 0; i < p->n_drivers; i++) {
		free(p->drivers[i].library);
		free(p->drivers[i].path);
		free(p->drivers[i].kind);
	}
	free(p->drivers);
	for (size_t i = 0; i < p->n_environment; i++) {
		free(p->environment[i].name);
		free(p->environment[i].value);
	}
	free(p->environment);
	strv_free_all(p->argv);
	free(p->role);
	strv_free_all(p->scans);
	report_exit_done(&p->exit);
	memset(p, 0, sizeof(*p));
}

void report_process_copy(const ReportProcess *from, ReportProcess *to)
{
	*to = *from;
	to->argv = strv_copy(from->argv);
	to->role = sdup(from->role);
	to->scans = strv_copy(from->scans);
	report_exit_copy(&from->exit, &to->exit);
	to->environment = from->n_environment ? calloc(from->n_environment, sizeof(*to->environment)) : NULL;
	to->n_environment = to->environment ? from->n_environment : 0;
	for (size_t i = 0; i < to->n_environment; i++)
		to->environment[i] = (ReportEnvVar){ .name = sdup(from->environment[i].name),
						     .value = sdup(from->environment[i].value) };
	to->drivers = from->n_drivers ? calloc(from->n_drivers, sizeof(*to->drivers)) : NULL;
	to->n_drivers = to->drivers ? from->n_drivers : 0;
	for (size_t i = 0; i < to->n_drivers; i++)
		to->drivers[i] = (ReportDriver){ .library = sdup(from->drivers[i].library),
						 .path = sdup(from->drivers[i].path),
						 .kind = sdup(from->drivers[i].kind) };
}

int report_process_add_driver(ReportProcess *p, const char *library, const char *path, const char *kind)
{
	ReportDriver *d = realloc(p->drivers, (p->n_drivers + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	p->drivers = d;
	d[p->n_drivers] = (ReportDriver){ .library = sdup(library), .path = sdup(path), .kind = sdup(kind) };
	ReportDriver *n = &d[p->n_drivers];
	if (!n->library || !n->path || (kind && !n->kind)) {
		free(n->library);
		free(n->path);
		free(n->kind);
		return -ENOMEM;
	}
	p->n_drivers++;
	return 0;
}

static void directory_done(ReportDirectory *d)
{
	free(d->name);
	free(d->path);
	free(d->realpath);
	free(d->verdict);
	free(d->reason);
	free(d->detail);
	free(d->cause);
	free(d->next);
	for (size_t i = 0; i < d->n_libraries; i++)
		report_library_done(&d->libraries[i]);
	free(d->libraries);
	for (size_t i = 0; i < d->n_runs; i++) {
		free(d->runs[i].verdict);
		free(d->runs[i].reason);
	}
	free(d->runs);
	for (size_t i = 0; i < d->n_evidence; i++)
		report_evidence_done(&d->evidence[i]);
	free(d->evidence);
}

void report_done(Report *r)
{
	if (!r)
		return;
	free(r->tool_version);
	free(r->outcome_summary);
	for (size_t i = 0; i < r->n_devices; i++)
		report_device_done(&r->devices[i]);
	free(r->devices);
	free(r->hostname);
	free(r->arch);
	free(r->kernel);
	free(r->started_at);
	free(r->written_at);
	strv_free_all(r->command);
	free(r->policy_name);
	free(r->policy_path);
	free(r->scanner_version);
	report_exit_done(&r->exit);
	for (size_t i = 0; i < r->n_environment; i++) {
		free(r->environment[i].name);
		free(r->environment[i].value);
	}
	free(r->environment);
	free(r->root_path);
	free(r->root_rule);
	free(r->root_exe);
	for (size_t i = 0; i < r->n_installs; i++) {
		free(r->installs[i].path);
		strv_free_all(r->installs[i].directories);
	}
	free(r->installs);
	for (size_t i = 0; i < r->n_processes; i++)
		report_process_done(&r->processes[i]);
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
	strv_free_all(r->notes);
	/* a second call, or a reader reusing the struct, sees an empty report */
	memset(r, 0, sizeof(*r));
}

int report_add_note(Report *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return strv_push(&r->notes, buf);
}

const char *const report_device_keys[REPORT_DEVICE_N_STRINGS] = {
	"name", "description", "library", "directory", "total", "available", "compute", "driver", "id", "type",
};

void report_device_done(ReportDevice *d)
{
	char **s[] = REPORT_DEVICE_STRINGS(d);
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		free(*s[i]);
	*d = (ReportDevice){ 0 };
}

void report_device_copy(const ReportDevice *from, ReportDevice *to)
{
	ReportDevice *f = (ReportDevice *)from;
	char **src[] = REPORT_DEVICE_STRINGS(f);
	*to = (ReportDevice){ .seq = from->seq };
	char **dst[] = REPORT_DEVICE_STRINGS(to);
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		*dst[i] = *src[i] ? strdup(*src[i]) : NULL;
}
