/* The diagnosis's state as one trace event, and back (see diagnose.h).  A
 * rotated trace starts each piece after the first with it, so that the
 * piece alone gives the verdicts of the whole run up to its end: the
 * model's live processes, ELF facts, listing and what the server said,
 * and the fold's directories, ended processes and re-probes.  What is
 * written here is read back by the same code on untrusted input (a piece
 * may come from anywhere to vgpu-report): every field is type-checked,
 * and a malformed state is an error, never a crash. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "diagnose/snapshot.h"

/* ---- writing ---- */

static void put(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static json_object *strv(char *const *v)
{
	json_object *a = json_object_new_array();
	for (; a && v && *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static json_object *exit_obj(const ReportExit *e)
{
	if (!e->known)
		return NULL;
	json_object *o = json_object_new_object();
	put(o, "signaled", json_object_new_boolean(e->signaled));
	put(o, "code", json_object_new_int(e->code));
	put(o, "signal", str_or_null(e->signal));
	put(o, "by", str_or_null(e->by));
	put(o, "fatal_signal", str_or_null(e->fatal_signal));
	return o;
}

static json_object *evidence_obj(const ReportEvidence *e)
{
	json_object *o = json_object_new_object();
	put(o, "seq", u64(e->seq));
	put(o, "pid", json_object_new_int(e->pid));
	put(o, "syscall", str_or_null(e->syscall));
	put(o, "event", str_or_null(e->event));
	put(o, "path", str_or_null(e->path));
	put(o, "result", str_or_null(e->result));
	put(o, "text", str_or_null(e->text));
	return o;
}

static json_object *device_obj(const ReportDevice *d)
{
	json_object *o = json_object_new_object();
	ReportDevice *dm = (ReportDevice *)d;
	char **v[] = REPORT_DEVICE_STRINGS(dm);
	for (size_t i = 0; i < ELEMENTSOF(report_device_keys); i++)
		put(o, report_device_keys[i], str_or_null(*v[i]));
	put(o, "seq", u64(d->seq));
	return o;
}

static json_object *proc_obj(const Proc *p)
{
	json_object *o = json_object_new_object(), *opens = json_object_new_array(),
		    *output = json_object_new_array();
	put(o, "pid", json_object_new_int(p->pid));
	put(o, "ppid", json_object_new_int(p->ppid));
	put(o, "first_seq", u64(p->first_seq));
	put(o, "exec_seen", json_object_new_boolean(p->exec_seen));
	put(o, "start_ns", u64(p->start_ns));
	put(o, "exec_seq", u64(p->exec_seq));
	put(o, "exec_ns", u64(p->exec_ns));
	put(o, "exe", str_or_null(p->exe));
	put(o, "cwd", str_or_null(p->cwd));
	put(o, "argv", strv(p->argv));
	put(o, "env", json_object_get(p->env));
	put(o, "is_server", json_object_new_boolean(p->is_server));
	put(o, "is_scanner", json_object_new_boolean(p->is_scanner));
	put(o, "is_wrapper", json_object_new_boolean(p->is_wrapper));
	put(o, "scans", strv(p->scans));
	for (size_t i = 0; opens && i < p->n_opens; i++) {
		json_object *e = json_object_new_object();
		put(e, "seq", u64(p->opens[i].seq));
		put(e, "syscall", str_or_null(p->opens[i].syscall));
		put(e, "path", str_or_null(p->opens[i].path));
		put(e, "result", str_or_null(p->opens[i].result));
		put(e, "ok", json_object_new_boolean(p->opens[i].ok));
		json_object_array_add(opens, e);
	}
	put(o, "opens", opens);
	put(o, "opens_truncated", json_object_new_boolean(p->opens_truncated));
	for (size_t i = 0; output && i < p->n_output; i++) {
		json_object *e = json_object_new_object();
		put(e, "seq", u64(p->output[i].seq));
		put(e, "text", str_or_null(p->output[i].text));
		json_object_array_add(output, e);
	}
	put(o, "output", output);
	put(o, "fatal_signal", str_or_null(p->fatal_signal));
	put(o, "fatal_seq", u64(p->fatal_seq));
	put(o, "crash_stack_seq", u64(p->crash_stack_seq));
	put(o, "crash_stack", str_or_null(p->crash_stack));
	put(o, "killer", json_object_new_int(p->killer));
	put(o, "kill_signal", str_or_null(p->kill_signal));
	put(o, "kill_seq", u64(p->kill_seq));
	put(o, "kill_ns", u64(p->kill_ns));
	put(o, "ended", json_object_new_boolean(p->ended));
	put(o, "exit_signaled", json_object_new_boolean(p->exit_signaled));
	put(o, "exit_code", json_object_new_int(p->exit_code));
	put(o, "exit_signal", str_or_null(p->exit_signal));
	put(o, "exit_seq", u64(p->exit_seq));
	put(o, "exit_ns", u64(p->exit_ns));
	put(o, "maps", strv(p->maps));
	put(o, "inject_seq", u64(p->inject_seq));
	put(o, "inject_why", str_or_null(p->inject_why));
	return o;
}

static json_object *library_obj(const ReportLibrary *l, uint64_t seq)
{
	json_object *o = json_object_new_object();
	put(o, "path", str_or_null(l->path));
	put(o, "backend", str_or_null(l->backend));
	put(o, "outcome", str_or_null(l->outcome));
	put(o, "missing", strv(l->missing));
	put(o, "searched", strv(l->searched));
	put(o, "unresolved", strv(l->unresolved));
	put(o, "versions", strv(l->versions));
	put(o, "seq", u64(seq));
	return o;
}

static json_object *process_obj(const ReportProcess *p)
{
	json_object *o = json_object_new_object();
	put(o, "pid", json_object_new_int(p->pid));
	put(o, "ppid", json_object_new_int(p->ppid));
	put(o, "argv", strv(p->argv));
	put(o, "role", str_or_null(p->role));
	put(o, "scans", strv(p->scans));
	put(o, "wrapper", json_object_new_boolean(p->wrapper));
	put(o, "exit", exit_obj(&p->exit));
	put(o, "order", u64(p->order));
	json_object *drv = json_object_new_array();
	for (size_t i = 0; drv && i < p->n_drivers; i++) {
		json_object *d = json_object_new_object();
		put(d, "library", str_or_null(p->drivers[i].library));
		put(d, "path", str_or_null(p->drivers[i].path));
		put(d, "kind", str_or_null(p->drivers[i].kind));
		json_object_array_add(drv, d);
	}
	put(o, "drivers", drv);
	json_object *env = json_object_new_object();
	for (size_t i = 0; env && i < p->n_environment; i++)
		json_object_object_add(env, p->environment[i].name, str_or_null(p->environment[i].value));
	put(o, "environment", env);
	return o;
}

static json_object *dir_obj(const DirAcc *a)
{
	json_object *o = json_object_new_object(), *runs = json_object_new_array(),
		    *libs = json_object_new_array(), *ev = json_object_new_array();
	put(o, "path", str_or_null(a->path));
	put(o, "probed", json_object_new_boolean(a->probed));
	put(o, "shown", json_object_new_boolean(a->shown));
	put(o, "first_probe", u64(a->first_probe));
	for (size_t i = 0; runs && i < a->n_runs; i++) {
		json_object *r = json_object_new_object();
		put(r, "pid", json_object_new_int(a->runs[i].pid));
		put(r, "verdict", str_or_null(a->runs[i].verdict));
		put(r, "reason", str_or_null(a->runs[i].reason));
		put(r, "exec_seq", u64(a->run_seq[i]));
		json_object_array_add(runs, r);
	}
	put(o, "runs", runs);
	put(o, "runs_omitted", u64(a->runs_omitted));
	for (size_t i = 0; libs && i < a->n_libs; i++)
		json_object_array_add(libs, library_obj(&a->libs[i], a->lib_seq[i]));
	put(o, "libraries", libs);
	put(o, "have_last", json_object_new_boolean(a->have_last));
	put(o, "last_exec", u64(a->last_exec));
	put(o, "last_after", u64(a->last_after));
	put(o, "last_pid", json_object_new_int(a->last_pid));
	put(o, "verdict", str_or_null(a->verdict));
	put(o, "reason", str_or_null(a->reason));
	put(o, "detail", str_or_null(a->detail));
	for (size_t i = 0; ev && i < a->n_evidence; i++)
		json_object_array_add(ev, evidence_obj(&a->evidence[i]));
	put(o, "evidence", ev);
	put(o, "evidence_omitted", u64(a->evidence_omitted));
	put(o, "loaded_by", json_object_new_int(a->loaded_by));
	put(o, "loaded_seq", u64(a->loaded_seq));
	return o;
}

int diag_snapshot(const Model *m, const Fold *f, json_object *ev)
{
	json_object *procs = json_object_new_array(), *trunc = json_object_new_array(),
		    *done = json_object_new_array(), *dirs = json_object_new_array(),
		    *accel = json_object_new_array(), *rp = json_object_new_array();
	put(ev, "last_seq", u64(m->last_seq));
	put(ev, "command", json_object_new_int(m->who.command));
	put(ev, "server", json_object_new_int(m->who.server));
	put(ev, "command_exit", exit_obj(&m->command_exit));
	put(ev, "scanner_seen", json_object_new_boolean(m->scanner_seen));
	put(ev, "scanner_runs", u64(m->scanner_runs));
	put(ev, "scanner_ends", u64(m->scanner_ends));
	for (size_t i = 0; trunc && i < m->n_truncated; i++)
		json_object_array_add(trunc, json_object_new_int(m->truncated_pids[i]));
	put(ev, "truncated_pids", trunc);
	put(ev, "scanner_version", str_or_null(m->scanner_version));
	put(ev, "kept", json_object_new_string(m->kept));
	json_object *outcome = json_object_new_object(), *devs = json_object_new_array();
	put(outcome, "stated", json_object_new_boolean(m->outcome_stated));
	put(outcome, "open", json_object_new_boolean(m->outcome_open));
	put(outcome, "seq", u64(m->outcome_seq));
	put(outcome, "more", u64(m->outcome_more));
	for (size_t i = 0; devs && i < m->n_outcome; i++)
		json_object_array_add(devs, device_obj(&m->outcome[i]));
	put(outcome, "devices", devs);
	put(ev, "outcome", outcome);
	put(ev, "kept_evidence", m->kept_ev.seq ? evidence_obj(&m->kept_ev) : NULL);
	put(ev, "elf", json_object_get(m->elf));
	put(ev, "symbols", json_object_get(m->symbols));
	put(ev, "elf_dropped", u64(m->elf_dropped));
	put(ev, "listing", json_object_get(m->listing));
	put(ev, "platform", json_object_get(m->platform));
	put(ev, "injects", json_object_get(m->injects));
	put(ev, "injects_dropped", u64(m->injects_dropped));
	for (size_t i = 0; procs && i < m->n_procs; i++)
		json_object_array_add(procs, proc_obj(m->procs[i]));
	put(ev, "processes", procs);
	for (size_t i = 0; done && i < f->n_done; i++)
		json_object_array_add(done, process_obj(&f->done[i]));
	put(ev, "ended", done);
	put(ev, "ended_omitted", u64(f->done_omitted));
	for (size_t i = 0; dirs && i < f->n_dirs; i++)
		json_object_array_add(dirs, dir_obj(f->dirs[i]));
	put(ev, "directories", dirs);
	json_object_object_foreach(f->accel_dirs, path, unused)
	{
		(void)unused;
		json_object_array_add(accel, json_object_new_string(path));
	}
	put(ev, "accelerator_dirs", accel);
	for (size_t i = 0; rp && i < f->n_reprobes; i++) {
		json_object *r = json_object_new_object();
		put(r, "lib", str_or_null(f->reprobes[i].lib));
		put(r, "exec_seq", u64(f->reprobes[i].exec_seq));
		put(r, "pid", json_object_new_int(f->reprobes[i].pid));
		put(r, "exe", str_or_null(f->reprobes[i].exe));
		json_object_array_add(rp, r);
	}
	put(ev, "reprobes", rp);
	return procs && trunc && done && dirs && accel && rp ? 0 : -ENOMEM;
}

/* ---- reading ---- */

/* A reader that remembers its first problem: the state is taken whole or
 * not at all. */
typedef struct Rd {
	int error;
	const char *what;	/* the first field that was wrong */
} Rd;

static void bad(Rd *rd, const char *what)
{
	if (!rd->error) {
		rd->error = -EINVAL;
		rd->what = what;
	}
}

static json_object *get(json_object *o, const char *key, json_type type, Rd *rd)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type)) {
		bad(rd, key);
		return NULL;
	}
	return v;
}

/* An optional string: absent or null is NULL; anything else but a string
 * is an error. */
static char *ostr(json_object *o, const char *key, Rd *rd)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		bad(rd, key);
		return NULL;
	}
	char *s = strdup(json_object_get_string(v));
	if (!s && !rd->error)
		rd->error = -ENOMEM;
	return s;
}

static uint64_t gu64(json_object *o, const char *key, Rd *rd)
{
	json_object *v = get(o, key, json_type_int, rd);
	int64_t n = v ? json_object_get_int64(v) : 0;
	if (n < 0)
		bad(rd, key);
	return n < 0 ? 0 : (uint64_t)n;
}

static int gint(json_object *o, const char *key, Rd *rd)
{
	json_object *v = get(o, key, json_type_int, rd);
	int64_t n = v ? json_object_get_int64(v) : 0;
	if (n < INT32_MIN || n > INT32_MAX)
		bad(rd, key);
	return (int)n;
}

/* A process id: from 0 (none) to INT_MAX, as a report holds them. */
static pid_t gpid(json_object *o, const char *key, Rd *rd)
{
	int n = gint(o, key, rd);
	if (n < 0)
		bad(rd, key);
	return n < 0 ? 0 : n;
}

static bool gbool(json_object *o, const char *key, Rd *rd)
{
	json_object *v = get(o, key, json_type_boolean, rd);
	return v && json_object_get_boolean(v);
}

static char **gstrv(json_object *o, const char *key, Rd *rd)
{
	json_object *a = get(o, key, json_type_array, rd);
	char **v = NULL;
	for (size_t i = 0; a && !rd->error && i < json_object_array_length(a); i++) {
		const char *s = jstr_at(a, i);
		if (!s)
			bad(rd, key);
		else if (strv_push(&v, s) < 0)
			rd->error = -ENOMEM;
	}
	return v;
}

/* Verdicts and reasons are the fold's static strings: the known ones. */
static const char *const words[] = {
	"loaded", "absent", "skipped", "failed", "no-such-directory", "no-backend-library",
	"filtered-by-env", "filtered-by-platform", "never-scanned", "not-reached", "unreadable", "dropped", "bad-library",
	"init-failed", "load-error", "missing-dependency", "scanner-crashed", "scanner-timeout",
};

static const char *word(json_object *o, const char *key, Rd *rd)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	for (size_t i = 0; json_object_is_type(v, json_type_string) && i < ELEMENTSOF(words); i++)
		if (!strcmp(json_object_get_string(v), words[i]))
			return words[i];
	bad(rd, key);
	return NULL;
}

static void read_exit(json_object *o, ReportExit *e, Rd *rd)
{
	if (!o)
		return;
	if (!json_object_is_type(o, json_type_object)) {
		bad(rd, "exit");
		return;
	}
	e->known = true;
	e->signaled = gbool(o, "signaled", rd);
	e->code = gint(o, "code", rd);
	e->signal = ostr(o, "signal", rd);
	e->by = ostr(o, "by", rd);
	e->fatal_signal = ostr(o, "fatal_signal", rd);
}

static void read_evidence(json_object *o, ReportEvidence *e, Rd *rd)
{
	e->seq = gu64(o, "seq", rd);
	e->pid = gpid(o, "pid", rd);
	e->syscall = ostr(o, "syscall", rd);
	e->event = ostr(o, "event", rd);
	e->path = ostr(o, "path", rd);
	e->result = ostr(o, "result", rd);
	e->text = ostr(o, "text", rd);
}

/* json_object_object_get_ex that takes an object or null only. */
static json_object *oobj(json_object *o, const char *key, Rd *rd)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	if (!json_object_is_type(v, json_type_object))
		bad(rd, key);
	return json_object_is_type(v, json_type_object) ? v : NULL;
}

static Proc *read_proc(json_object *o, Rd *rd)
{
	Proc *p = calloc(1, sizeof(*p));
	if (!p) {
		rd->error = -ENOMEM;
		return NULL;
	}
	p->pid = gpid(o, "pid", rd);
	p->ppid = gpid(o, "ppid", rd);
	p->first_seq = gu64(o, "first_seq", rd);
	p->exec_seen = gbool(o, "exec_seen", rd);
	p->start_ns = gu64(o, "start_ns", rd);
	p->exec_seq = gu64(o, "exec_seq", rd);
	p->exec_ns = gu64(o, "exec_ns", rd);
	p->exe = ostr(o, "exe", rd);
	p->cwd = ostr(o, "cwd", rd);
	p->argv = gstrv(o, "argv", rd);
	p->env = json_object_get(oobj(o, "env", rd));
	p->is_server = gbool(o, "is_server", rd);
	p->is_scanner = gbool(o, "is_scanner", rd);
	p->is_wrapper = gbool(o, "is_wrapper", rd);
	p->scans = gstrv(o, "scans", rd);
	json_object *opens = get(o, "opens", json_type_array, rd),
		    *output = get(o, "output", json_type_array, rd);
	size_t n = opens ? json_object_array_length(opens) : 0;
	if (n > OPENS_KEEP_MAX)
		bad(rd, "opens");
	if (!rd->error && n && !(p->opens = calloc(n, sizeof(*p->opens))))
		rd->error = -ENOMEM;
	for (size_t i = 0; !rd->error && i < n; i++) {
		json_object *e = json_object_array_get_idx(opens, i);
		Open *op = &p->opens[p->n_opens++];
		op->seq = gu64(e, "seq", rd);
		op->syscall = ostr(e, "syscall", rd);
		op->path = ostr(e, "path", rd);
		op->result = ostr(e, "result", rd);
		op->ok = gbool(e, "ok", rd);
		if (!op->syscall || !op->path)
			bad(rd, "opens");
	}
	p->cap_opens = p->n_opens;
	p->opens_truncated = gbool(o, "opens_truncated", rd);
	n = output ? json_object_array_length(output) : 0;
	if (!rd->error && n && !(p->output = calloc(n, sizeof(*p->output))))
		rd->error = -ENOMEM;
	for (size_t i = 0; !rd->error && i < n; i++) {
		json_object *e = json_object_array_get_idx(output, i);
		Chunk *c = &p->output[p->n_output++];
		c->seq = gu64(e, "seq", rd);
		if (!(c->text = ostr(e, "text", rd)))
			bad(rd, "output");
		else
			p->output_bytes += strlen(c->text);
	}
	p->cap_output = p->n_output;
	if (p->output_bytes > OUTPUT_KEEP_MAX + 65536)
		bad(rd, "output");
	p->fatal_signal = ostr(o, "fatal_signal", rd);
	p->fatal_seq = gu64(o, "fatal_seq", rd);
	p->crash_stack_seq = gu64(o, "crash_stack_seq", rd);
	p->crash_stack = ostr(o, "crash_stack", rd);
	p->killer = gpid(o, "killer", rd);
	p->kill_signal = ostr(o, "kill_signal", rd);
	p->kill_seq = gu64(o, "kill_seq", rd);
	p->kill_ns = gu64(o, "kill_ns", rd);
	p->ended = gbool(o, "ended", rd);
	p->exit_signaled = gbool(o, "exit_signaled", rd);
	p->exit_code = gint(o, "exit_code", rd);
	p->exit_signal = ostr(o, "exit_signal", rd);
	if (p->exit_signaled && !p->exit_signal)
		bad(rd, "exit_signal");
	p->exit_seq = gu64(o, "exit_seq", rd);
	p->exit_ns = gu64(o, "exit_ns", rd);
	p->maps = gstrv(o, "maps", rd);
	p->inject_seq = gu64(o, "inject_seq", rd);
	p->inject_why = ostr(o, "inject_why", rd);
	return p;
}

static void read_library(json_object *o, ReportLibrary *l, uint64_t *seq, Rd *rd)
{
	if (!(l->path = ostr(o, "path", rd)))
		bad(rd, "libraries");
	l->backend = ostr(o, "backend", rd);
	l->outcome = ostr(o, "outcome", rd);
	l->missing = gstrv(o, "missing", rd);
	l->searched = gstrv(o, "searched", rd);
	if (json_object_object_get_ex(o, "unresolved", NULL))	/* optional: older states */
		l->unresolved = gstrv(o, "unresolved", rd);
	if (json_object_object_get_ex(o, "versions", NULL))
		l->versions = gstrv(o, "versions", rd);
	*seq = gu64(o, "seq", rd);
}

static void read_dir(Fold *f, json_object *o, Rd *rd)
{
	const char *path = jstr(o, "path");
	DirAcc *a = path ? fold_dir(f, path) : NULL;
	if (path && !a && !rd->error)
		rd->error = -ENOMEM;
	if (!a || a->n_runs || a->n_libs || a->have_last) {
		bad(rd, "directories");	/* a path, once */
		return;
	}
	a->probed = gbool(o, "probed", rd);
	a->shown = gbool(o, "shown", rd);
	a->first_probe = gu64(o, "first_probe", rd);
	json_object *runs = get(o, "runs", json_type_array, rd), *libs = get(o, "libraries", json_type_array, rd),
		    *ev = get(o, "evidence", json_type_array, rd);
	size_t n = runs ? json_object_array_length(runs) : 0;
	if (n > RUNS_KEEP)
		bad(rd, "runs");
	for (size_t i = 0; !rd->error && i < n; i++) {
		json_object *r = json_object_array_get_idx(runs, i);
		const char *v = word(r, "verdict", rd), *why = word(r, "reason", rd);
		a->runs[i] = (ReportRun){ .pid = gpid(r, "pid", rd), .verdict = v ? strdup(v) : NULL,
					  .reason = why ? strdup(why) : NULL };
		a->run_seq[i] = gu64(r, "exec_seq", rd);
		a->n_runs++;
		if (!a->runs[i].verdict || !a->runs[i].reason)
			bad(rd, "runs");
	}
	a->runs_omitted = gu64(o, "runs_omitted", rd);
	n = libs ? json_object_array_length(libs) : 0;
	if (!rd->error && n && (!(a->libs = calloc(n, sizeof(*a->libs))) ||
				!(a->lib_seq = calloc(n, sizeof(*a->lib_seq)))))
		rd->error = -ENOMEM;
	for (size_t i = 0; !rd->error && i < n; i++, a->n_libs++)
		read_library(json_object_array_get_idx(libs, i), &a->libs[i], &a->lib_seq[i], rd);
	a->have_last = gbool(o, "have_last", rd);
	a->last_exec = gu64(o, "last_exec", rd);
	a->last_after = gu64(o, "last_after", rd);
	a->last_pid = gpid(o, "last_pid", rd);
	a->verdict = word(o, "verdict", rd);
	a->reason = word(o, "reason", rd);
	if (a->have_last && (!a->verdict || !a->reason))
		bad(rd, "verdict");
	a->detail = ostr(o, "detail", rd);
	n = ev ? json_object_array_length(ev) : 0;
	if (n > EVIDENCE_MAX)
		bad(rd, "evidence");
	if (!rd->error && !(a->evidence = calloc(EVIDENCE_MAX, sizeof(*a->evidence))))
		rd->error = -ENOMEM;
	for (size_t i = 0; !rd->error && i < n; i++)
		read_evidence(json_object_array_get_idx(ev, i), &a->evidence[a->n_evidence++], rd);
	a->evidence_omitted = gu64(o, "evidence_omitted", rd);
	a->loaded_by = gpid(o, "loaded_by", rd);
	a->loaded_seq = gu64(o, "loaded_seq", rd);
}

int diag_restore(Model *m, Fold *f, json_object *ev, char *err, size_t err_size)
{
	Rd rd = { 0 };
	m->who.command = gpid(ev, "command", &rd);
	m->who.server = gpid(ev, "server", &rd);
	read_exit(oobj(ev, "command_exit", &rd), &m->command_exit, &rd);
	m->scanner_seen = gbool(ev, "scanner_seen", &rd);
	/* counted since: a state from before has none */
	if (json_object_object_get_ex(ev, "scanner_runs", NULL))
		m->scanner_runs = gu64(ev, "scanner_runs", &rd);
	if (json_object_object_get_ex(ev, "scanner_ends", NULL))
		m->scanner_ends = gu64(ev, "scanner_ends", &rd);
	json_object *a = get(ev, "truncated_pids", json_type_array, &rd);
	for (size_t i = 0; a && i < json_object_array_length(a) && m->n_truncated < TRUNCATED_PIDS_MAX; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > INT_MAX) {
			bad(&rd, "truncated_pids");
			break;
		}
		m->truncated_pids[m->n_truncated++] = (pid_t)json_object_get_int(v);
	}
	m->scanner_version = ostr(ev, "scanner_version", &rd);
	const char *kept = jstr(ev, "kept");
	if (!kept || strlen(kept) >= sizeof(m->kept))
		bad(&rd, "kept");
	else
		memcpy(m->kept, kept, strlen(kept) + 1);
	json_object *out = oobj(ev, "outcome", &rd);
	if (!out)
		bad(&rd, "outcome");
	else {
		m->outcome_stated = gbool(out, "stated", &rd);
		m->outcome_open = gbool(out, "open", &rd);
		m->outcome_seq = gu64(out, "seq", &rd);
		m->outcome_more = gu64(out, "more", &rd);
		json_object *devs = get(out, "devices", json_type_array, &rd);
		size_t nd = devs ? json_object_array_length(devs) : 0;
		if (nd > OUTCOME_DEVICES_MAX)
			bad(&rd, "devices");
		for (size_t i = 0; !rd.error && i < nd; i++) {
			json_object *o = json_object_array_get_idx(devs, i);
			ReportDevice *dv = &m->outcome[m->n_outcome++];
			char **v[] = REPORT_DEVICE_STRINGS(dv);
			for (size_t k = 0; k < ELEMENTSOF(report_device_keys); k++)
				*v[k] = ostr(o, report_device_keys[k], &rd);
			dv->seq = gu64(o, "seq", &rd);
		}
	}
	json_object *kev = oobj(ev, "kept_evidence", &rd);
	if (kev)
		read_evidence(kev, &m->kept_ev, &rd);
	json_object *sym = oobj(ev, "symbols", &rd);	/* optional: older states */
	if (sym && json_object_object_length(sym) > SYMBOLS_KEEP_MAX)
		bad(&rd, "symbols");
	if (sym && !rd.error) {
		json_object_put(m->symbols);
		m->symbols = json_object_get(sym);
	}
	json_object *elf = oobj(ev, "elf", &rd);
	if (elf && json_object_object_length(elf) > ELF_KEEP_MAX)
		bad(&rd, "elf");
	if (elf && !rd.error) {
		json_object_put(m->elf);
		m->elf = json_object_get(elf);
	}
	m->elf_dropped = gu64(ev, "elf_dropped", &rd);
	m->listing = json_object_get(oobj(ev, "listing", &rd));
	m->platform = json_object_get(oobj(ev, "platform", &rd));	/* optional: older states */
	json_object *inj;
	if (json_object_object_get_ex(ev, "injects", &inj) && inj) {
		if (!json_object_is_type(inj, json_type_array) || json_object_array_length(inj) > INJECTS_KEEP_MAX)
			bad(&rd, "injects");
		else
			m->injects = json_object_get(inj);
	}
	m->injects_dropped = gu64(ev, "injects_dropped", &rd);

	json_object *procs = get(ev, "processes", json_type_array, &rd);
	for (size_t i = 0; procs && !rd.error && i < json_object_array_length(procs); i++) {
		json_object *po = json_object_array_get_idx(procs, i);
		Proc *p = json_object_is_type(po, json_type_object) ? read_proc(po, &rd) : NULL;
		if (!p || rd.error || diag_proc(m, p->pid) || model_adopt(m, p) < 0) {
			bad(&rd, "processes");
			model_proc_free(p);
			break;
		}
		if (p->is_server)
			m->server = p;
	}
	json_object *done = get(ev, "ended", json_type_array, &rd);
	size_t n = done ? json_object_array_length(done) : 0;
	if (n > PROCS_KEEP)
		bad(&rd, "ended");
	if (!rd.error && n && !(f->done = calloc(PROCS_KEEP + 1, sizeof(*f->done))))
		rd.error = -ENOMEM;
	for (size_t i = 0; !rd.error && i < n; i++) {
		json_object *o = json_object_array_get_idx(done, i);
		ReportProcess *rp = &f->done[f->n_done++];
		rp->pid = gpid(o, "pid", &rd);
		rp->ppid = gpid(o, "ppid", &rd);
		rp->argv = gstrv(o, "argv", &rd);
		rp->role = ostr(o, "role", &rd);
		rp->scans = gstrv(o, "scans", &rd);
		rp->wrapper = gbool(o, "wrapper", &rd);
		read_exit(oobj(o, "exit", &rd), &rp->exit, &rd);
		rp->order = gu64(o, "order", &rd);
		json_object *env = NULL;	/* optional: states written before it */
		if (json_object_object_get_ex(o, "environment", &env) && !json_object_is_type(env, json_type_object))
			bad(&rd, "environment");
		size_t ne = json_object_is_type(env, json_type_object) ? (size_t)json_object_object_length(env) : 0;
		if (ne > 4096)
			bad(&rd, "environment");
		if (!rd.error && ne && !(rp->environment = calloc(ne, sizeof(*rp->environment))))
			rd.error = -ENOMEM;
		if (!rd.error && ne) {
			json_object_object_foreach(env, key, val)
			{
				if (!json_object_is_type(val, json_type_string)) {
					bad(&rd, "environment");
					break;
				}
				ReportEnvVar *e = &rp->environment[rp->n_environment++];
				e->name = strdup(key);
				e->value = strdup(json_object_get_string(val));
				if (!e->name || !e->value) {
					rd.error = -ENOMEM;
					break;
				}
			}
		}
		json_object *drv = NULL;	/* optional: states written before it */
		if (json_object_object_get_ex(o, "drivers", &drv) && !json_object_is_type(drv, json_type_array))
			bad(&rd, "drivers");
		size_t nd = json_object_is_type(drv, json_type_array) ? json_object_array_length(drv) : 0;
		if (nd > DRIVERS_KEEP_MAX)
			bad(&rd, "drivers");
		for (size_t k = 0; !rd.error && k < nd; k++) {
			json_object *dv = json_object_array_get_idx(drv, k);
			const char *lib = jstr(dv, "library"), *path = jstr(dv, "path");
			if (!lib || !path)
				bad(&rd, "drivers");
			else if (report_process_add_driver(rp, lib, path, jstr(dv, "kind")) < 0)
				rd.error = -ENOMEM;
		}
	}
	f->done_omitted = gu64(ev, "ended_omitted", &rd);
	json_object *dirs = get(ev, "directories", json_type_array, &rd);
	for (size_t i = 0; dirs && !rd.error && i < json_object_array_length(dirs); i++)
		read_dir(f, json_object_array_get_idx(dirs, i), &rd);
	json_object *accel = get(ev, "accelerator_dirs", json_type_array, &rd);
	for (size_t i = 0; accel && !rd.error && i < json_object_array_length(accel); i++) {
		const char *path = jstr_at(accel, i);
		if (!path)
			bad(&rd, "accelerator_dirs");
		else
			json_object_object_add(f->accel_dirs, path, NULL);
	}
	json_object *rp = get(ev, "reprobes", json_type_array, &rd);
	n = rp ? json_object_array_length(rp) : 0;
	if (n > REPROBES_MAX)
		bad(&rd, "reprobes");
	for (size_t i = 0; !rd.error && i < n; i++) {
		json_object *o = json_object_array_get_idx(rp, i);
		Reprobe *r = &f->reprobes[f->n_reprobes++];
		*r = (Reprobe){ .lib = ostr(o, "lib", &rd), .exec_seq = gu64(o, "exec_seq", &rd),
				.pid = gpid(o, "pid", &rd), .exe = ostr(o, "exe", &rd) };
		if (!r->lib)
			bad(&rd, "reprobes");
	}
	if (rd.error == -EINVAL)
		snprintf(err, err_size, "a state event with a bad '%s'", rd.what);
	else if (rd.error)
		snprintf(err, err_size, "%s", strerror(-rd.error));
	return rd.error;
}
