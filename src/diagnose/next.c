/* Next steps (see diag_next in evidence.h): per reason, one sentence with
 * this run's values, given only when the evidence establishes its premise.
 * A hint is a fact the report already holds (a soname found nowhere, a
 * file a complete install ships, the shim a scanner mapped), said as what
 * to change; where nothing establishes the premise, nothing is said. */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/evidence.h"

#define NEXT_MAX 1024

/* Is SONAME one the policy's shims stand in for (libcuda.so.1)? */
static bool shim_soname(const Model *d, const char *soname)
{
	for (size_t i = 0; i < d->policy.n_inject_sonames; i++)
		if (!strcmp(d->policy.inject_sonames[i], soname))
			return true;
	return false;
}

/* The filter of the policy on VAR, or NULL. */
static const PolicyFilter *filter_on(const Model *d, const char *detail)
{
	for (size_t i = 0; i < d->policy.n_filters; i++) {
		if (!d->policy.filters[i].var)
			continue;	/* filter-platform */
		size_t n = strlen(d->policy.filters[i].var);
		if (!strncmp(detail, d->policy.filters[i].var, n) && (detail[n] == '=' || detail[n] == ' '))
			return &d->policy.filters[i];
	}
	return NULL;
}

static void next_missing(const Model *d, const ReportDirectory *rd, char *out, size_t size)
{
	/* a library a complete install ships in this very directory, and the
	 * listing made at the server's start shows it is not there */
	json_object *entry = diag_listing_entry(d, rd->name);
	char names[512] = "";
	size_t n = 0, count = 0;
	for (size_t i = 0; i < rd->n_libraries && entry; i++)
		for (char **m = rd->libraries[i].missing; m && *m; m++)
			if (policy_ships(&d->policy, rd->name, *m) && !diag_entry_has(entry, *m) && !strstr(names, *m) &&
			    n < sizeof(names)) {
				n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "", *m);
				count++;
			}
	if (count)
		snprintf(out, size,
			 "%s %s missing from %s, where a complete %s install has %s: the install is incomplete; "
			 "reinstall the server or restore that directory's files",
			 names, count > 1 ? "are" : "is", rd->name, d->policy.name, count > 1 ? "them" : "it");
	/* the driver library a shim stands in for, found nowhere (as well) */
	bool said = false;
	for (size_t i = 0; i < rd->n_libraries && !said; i++)
		for (char **m = rd->libraries[i].missing; m && *m && !said; m++)
			if (shim_soname(d, *m)) {
				size_t len = strlen(out);
				snprintf(out + len, size - len,
					 "%s%s is on none of the paths the loader searched: install the GPU "
					 "driver that provides it, put its directory in the server's "
					 "LD_LIBRARY_PATH, or inject a stand-in with --shim=%s=PATH",
					 len ? "; and " : "", *m, *m);
				said = true;
			}
}

static void next_filtered(const Model *d, const Report *r, const ReportDirectory *rd, char *out, size_t size)
{
	const PolicyFilter *f = rd->detail ? filter_on(d, rd->detail) : NULL;
	if (f && f->kind == POLICY_FILTER_ENABLE) {
		snprintf(out, size, "set %s=1 in the server's environment to have %s probed", f->var, rd->name);
		return;
	}
	if (!f || f->kind != POLICY_FILTER_SELECT)
		return;
	const char *value = strchr(rd->detail, '=') ? strchr(rd->detail, '=') + 1 : "";
	const ReportDirectory *named = NULL;
	char here[512] = "";
	size_t n = 0;
	for (size_t i = 0; i < r->n_directories; i++) {
		const ReportDirectory *o = &r->directories[i];
		if (!strcmp(o->name, ".") || !strcmp(o->reason, "no-such-directory"))
			continue;
		if (!strcmp(o->name, value))
			named = o;
		if (n < sizeof(here))
			n += (size_t)snprintf(here + n, sizeof(here) - n, "%s%s", n ? ", " : "", o->name);
	}
	if (named)
		snprintf(out, size, "%s=%s selects %s only: set it to %s to use this one, or unset it", f->var,
			 value, named->name, rd->name);
	else
		snprintf(out, size, "%s=%s names no directory here (%s): set it to %s to use this one, or unset it",
			 f->var, value, here, rd->name);
	/* a directory another filter holds back needs that one too */
	for (size_t i = 0; i < d->policy.n_filters; i++) {
		const PolicyFilter *e = &d->policy.filters[i];
		if (e->kind != POLICY_FILTER_ENABLE)
			continue;
		const char *v = diag_env(d->server, e->var);
		if (!fnmatch(e->glob, rd->name, 0) && !diag_env_true(v)) {
			size_t len = strlen(out);
			snprintf(out + len, size - len, ", and set %s=1", e->var);
		}
	}
}

/* A next step cut to SIZE: a long path or value shortens it, never fails. */
__attribute__((format(printf, 3, 4))) static void say(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

/* Held back by the platform the server detected, or by the lack of one.
 * Nothing to do when the directory the platform selects loaded. */
static void next_platform(const Model *d, const Report *r, const ReportDirectory *rd, char *out, size_t size)
{
	PlatformPick pick;
	diag_platform(d, &pick);
	const PolicyPlatform *pl = &d->policy.platform;
	if (!pick.applies || !rd->detail || strcmp(rd->detail, pick.why))
		return;	/* another filter's verdict */
	const ReportDirectory *sel = NULL;
	for (size_t i = 0; pick.how != PLATFORM_NONE && i < r->n_directories; i++)
		if (!strcmp(r->directories[i].name, pick.dir))
			sel = &r->directories[i];
	if (sel && sel->verdict && !strcmp(sel->verdict, "loaded"))
		return;
	char state[512];
	if (sel && sel->verdict && sel->reason)
		say(state, sizeof(state), "%s is %s:%s (its entry says why)", pick.dir, sel->verdict, sel->reason);
	else
		say(state, sizeof(state), "%s is not installed", pick.dir);
	if (pick.how == PLATFORM_BY_ENV)
		say(out, size,
			 "%s selects %s, the only directory the server probes on this host, and %s: set %s to the "
			 "platform version installed, or unset it to have %s read",
			 pick.why, pick.dir, state, pl->env_var, pl->file ? pl->file : "the platform");
	else if (pick.how == PLATFORM_BY_FILE)
		say(out, size,
			 "this platform selects %s, the only directory the server probes on this host whatever else "
			 "asks for another, and %s: install the server's %s libraries",
			 pick.dir, state, pick.dir);
	else if (strcmp(pl->arch, d->arch->uname))
		say(out, size, "%s is used on %s hosts only: on this %s host it is never probed", rd->name,
			 pl->arch, d->arch->uname);
	else if (pl->env_var)
		say(out, size, "%s is probed only on a detected platform: set %s to the platform's version "
			 "(x.y.z) in the server's environment to have it probed", rd->name, pl->env_var);
}

static const ReportProcess *process_of(const Report *r, pid_t pid)
{
	for (size_t i = 0; i < r->n_processes; i++)
		if (r->processes[i].pid == pid)
			return &r->processes[i];
	return NULL;
}

static const ReportInjection *injection_of(const Report *r, pid_t pid, const char *soname)
{
	for (size_t i = 0; i < r->n_injections; i++) {
		const ReportInjection *in = &r->injections[i];
		if (in->pid == pid && in->library && !strcmp(in->library, soname) && in->status &&
		    !strcmp(in->status, "done"))
			return in;
	}
	return NULL;
}

/* A backend that loaded and then failed to initialise: what its scanner
 * mapped as the driver says whose answer the error was. */
static void next_init_failed(const Report *r, const ReportDirectory *rd, char *out, size_t size)
{
	if (!rd->n_runs)
		return;
	pid_t pid = rd->runs[rd->n_runs - 1].pid;
	const ReportProcess *p = process_of(r, pid);
	for (size_t i = 0; p && i < p->n_drivers && !*out; i++) {
		const ReportDriver *drv = &p->drivers[i];
		if (drv->kind && !strcmp(drv->kind, "stub")) {
			snprintf(out, size,
				 "%s came from %s, NVIDIA's stub library, which fails every call: take its "
				 "directory out of the scanner's search path (LD_LIBRARY_PATH, ld.so.conf) so "
				 "that the driver's own %s is found",
				 drv->library, drv->path, drv->library);
		} else if (drv->kind && !strcmp(drv->kind, "shim")) {
			const ReportInjection *in = injection_of(r, pid, drv->library);
			bool no_real = in && in->real && !*in->real;
			snprintf(out, size,
				 "%s here was the shim %s that vgpu-run injected%s: the failure is its answer; "
				 "check the shim's mode and settings, or run without --shim for the driver's own",
				 drv->library, drv->path,
				 no_real ? " (told of no real driver, it has none to forward to)" : "");
		}
	}
}

void diag_next(const Model *d, const Report *r, ReportDirectory *rd)
{
	char out[NEXT_MAX] = "";
	if (!rd->verdict || !rd->reason || !d->have_policy)
		return;
	if (!strcmp(rd->reason, "missing-dependency")) {
		next_missing(d, rd, out, sizeof(out));
	} else if (!strcmp(rd->reason, "filtered-by-env")) {
		next_filtered(d, r, rd, out, sizeof(out));
		if (!*out)
			next_platform(d, r, rd, out, sizeof(out));
	} else if (!strcmp(rd->reason, "filtered-by-platform")) {
		next_platform(d, r, rd, out, sizeof(out));
	} else if (!strcmp(rd->reason, "init-failed")) {
		next_init_failed(r, rd, out, sizeof(out));
	} else if (!strcmp(rd->reason, "scanner-crashed")) {
		const ReportEvidence *stack = NULL;
		for (size_t i = 0; i < rd->n_evidence; i++)
			if (rd->evidence[i].event && !strcmp(rd->evidence[i].event, "stack"))
				stack = &rd->evidence[i];
		if (stack)
			snprintf(out, sizeof(out), "the backtrace of the crash is evidence #%llu below",
				 (unsigned long long)stack->seq);
		else
			snprintf(out, sizeof(out), "run again with -k to have the backtrace of the crash recorded");
	} else if (!strcmp(rd->reason, "bad-library") && rd->detail) {
		snprintf(out, sizeof(out), "%.*s: the install is damaged or built for another machine; reinstall the "
			 "server", (int)strcspn(rd->detail, "\n"), rd->detail);
	} else if (!strcmp(rd->reason, "unreadable") && rd->detail) {
		snprintf(out, sizeof(out), "the server cannot list %s (%.*s): restore it, or reinstall the server",
			 rd->name, (int)strcspn(rd->detail, "\n"), rd->detail);
	} else if (!strcmp(rd->reason, "scanner-timeout") && rd->n_runs) {
		snprintf(out, sizeof(out),
			 "scanner %d was still at work here when the server gave up on it: what it wrote "
			 "until then is in the trace (-t FILE), as its \"output\" events",
			 (int)rd->runs[rd->n_runs - 1].pid);
	}
	if (*out)
		rd->next = strdup(out);
}
