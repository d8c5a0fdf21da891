/* Injections in the report: the trace's inject events as they are, and a
 * note saying why nothing was injected when nothing was.  The header's
 * "inject" object says what the run was configured with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose/evidence.h"

static char *dup_or_null(json_object *ev, const char *key)
{
	const char *s = jstr(ev, key);
	return s ? strdup(s) : NULL;
}

int diag_injections(const Model *d, Report *r)
{
	size_t n = jlen(d->injects);
	if (!n)
		return 0;
	r->injections = calloc(n, sizeof(*r->injections));
	if (!r->injections)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *ev = json_object_array_get_idx(d->injects, i);
		ReportInjection *in = &r->injections[r->n_injections++];
		in->pid = jpid(ev, "pid");
		in->seq = (uint64_t)jnum(ev, "seq", 0);
		in->method = dup_or_null(ev, "method");
		in->library = dup_or_null(ev, "library");
		in->shim = dup_or_null(ev, "shim");
		in->status = dup_or_null(ev, "status");
		in->why = dup_or_null(ev, "why");
		in->path = dup_or_null(ev, "path");
		in->real = dup_or_null(ev, "real");
	}
	return 0;
}

int diag_inject_notes(const Model *d, Report *r)
{
	json_object *cfg = NULL, *disabled = NULL;
	if (d->header)
		json_object_object_get_ex(d->header, "inject", &cfg);
	json_object *shims = jarray(cfg, "shims");
	if (!jlen(shims))
		return report_add_note(r, "no shim configured: nothing injected");
	bool off = json_object_object_get_ex(cfg, "disabled", &disabled) &&
		   json_object_get_boolean(disabled);
	const char *method = jstr(cfg, "method");
	int rc = 0;
	for (size_t i = 0; i < jlen(shims) && rc >= 0; i++) {
		json_object *s = json_object_array_get_idx(shims, i);
		const char *lib = jstr(s, "library"), *path = jstr(s, "shim");
		if (!lib || !path)
			continue;
		if (off)
			rc = report_add_note(r, "--no-inject: shim %s for %s was not injected", path, lib);
		else if (!diag_injection_done(d, 0, lib))
			rc = report_add_note(r, "shim %s for %s (%s) was injected nowhere: %s", path, lib,
					   method ? method : "?",
					   method && !strcmp(method, "preload")
						   ? "no scanner started"
						   : "no scanner opened a file of that name");
	}
	if (rc >= 0 && d->injects_dropped)
		rc = report_add_note(r, "%zu more inject events than the %d the report lists",
				   d->injects_dropped, INJECTS_KEEP_MAX);
	return rc;
}
