/* The diagnosis (see diagnose.h): the model (model.h) fed event by event,
 * wired to the fold (fold.h) that judges each process as it ends, and the
 * report rendered from both at any moment. */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/line.h"
#include "base/walltime.h"
#include "config.h"
#include "diagnose/diagnose.h"
#include "diagnose/fold.h"
#include "diagnose/snapshot.h"
#include "report/json-strict.h"

struct Diagnosis {
	Model m;
	Fold f;
	size_t cut_line;	/* bytes of a last line without newline that was dropped */
	int64_t last_seq;	/* of the line read before: seq must rise */
};

/* What the model tells the fold as events arrive. */
static int on_probed(void *data, const char *dir, uint64_t exec_seq, bool shown)
{
	return fold_probed(data, dir, exec_seq, shown);
}

static int on_backend_open(void *data, const Model *m, const Proc *p, const char *path, bool ok)
{
	return fold_backend_open(data, m, p, path, ok);
}

static int on_ended(void *data, const Model *m, const Proc *p)
{
	return fold_reduce(data, m, p);
}

static const ModelHooks fold_hooks = {
	.probed = on_probed,
	.backend_open = on_backend_open,
	.ended = on_ended,
};

int diagnosis_new(Diagnosis **ret)
{
	Diagnosis *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int r = fold_init(&d->f);
	if (r < 0 || (r = model_init(&d->m, &fold_hooks, &d->f)) < 0) {
		fold_done(&d->f);
		free(d);
		return r;
	}
	*ret = d;
	return 0;
}

Diagnosis *diagnosis_free(Diagnosis *d)
{
	if (!d)
		return NULL;
	model_done(&d->m);
	fold_done(&d->f);
	free(d);
	return NULL;
}

int diagnosis_use_policy(Diagnosis *d, const char *path, char *err, size_t err_size)
{
	return model_use_policy(&d->m, path, err, err_size);
}

int diagnosis_feed(Diagnosis *d, json_object *ev, char *err, size_t err_size)
{
	const char *event = jstr(ev, "event");
	if (!event || strcmp(event, "state"))
		return model_feed(&d->m, ev, err, err_size);
	/* the state that starts a piece of a rotated trace (snapshot.c) */
	int piece_state = d->m.piece_state;
	d->m.piece_state = PIECE_STATE_NONE;
	d->m.last_seq = (uint64_t)jnum(ev, "seq", 0);
	if (piece_state == PIECE_STATE_SKIP)
		return 0;
	if (piece_state != PIECE_STATE_RESTORE) {
		snprintf(err, err_size, "a state event that does not follow a piece's header");
		return -EINVAL;
	}
	return diag_restore(&d->m, &d->f, ev, err, err_size);
}

int diagnosis_snapshot(const Diagnosis *d, json_object *ev)
{
	return diag_snapshot(&d->m, &d->f, ev);
}

static int by_order(const void *a, const void *b)
{
	uint64_t x = ((const ReportProcess *)a)->order, y = ((const ReportProcess *)b)->order;
	return x < y ? -1 : x > y;
}

/* The processes that ended (kept in their report form) and those still
 * running, in the order they appeared. */
static int fill_processes(const Fold *f, const Model *d, Report *r)
{
	r->processes = calloc(f->n_done + d->n_procs + 1, sizeof(*r->processes));
	if (!r->processes)
		return -ENOMEM;
	for (size_t i = 0; i < f->n_done; i++)
		report_process_copy(&f->done[i], &r->processes[r->n_processes++]);
	int rc = 0;
	for (size_t i = 0; rc >= 0 && i < d->n_procs; i++)
		if (d->procs[i]->exec_seen)	/* a fork that never exec'd: part of its parent */
			rc = diag_fill_process(d, d->procs[i], &r->processes[r->n_processes++]);
	qsort(r->processes, r->n_processes, sizeof(*r->processes), by_order);
	r->processes_omitted = f->done_omitted;
	r->scanner_runs = d->scanner_runs;
	r->scanner_ends = d->scanner_ends;
	return rc;
}

/* "0.16.3" within "0.13".."0.20" by major.minor. */
static bool version_in(const char *v, const char *min, const char *max)
{
	unsigned a = 0, b = 0, lo1 = 0, lo2 = 0, hi1 = 0, hi2 = 0;
	if (sscanf(v, "%u.%u", &a, &b) != 2 || sscanf(min, "%u.%u", &lo1, &lo2) != 2 ||
	    sscanf(max, "%u.%u", &hi1, &hi2) != 2)
		return false;
	unsigned x = a * 1000 + b;
	return x >= lo1 * 1000 + lo2 && x <= hi1 * 1000 + hi2;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An empty RUNPATH element makes the loader search the working directory
 * of whoever loads the library: one note per such RUNPATH value, naming
 * the directories of the backend libraries that carry it. */
static int note_empty_runpaths(const Model *d, Report *r)
{
	char **values = NULL;
	int rc = 0;
	json_object_object_foreach(d->elf, path, ev)
	{
		const char *rp = jstr(ev, "runpath");
		const char *base = strrchr(path, '/');
		size_t n = rp ? strlen(rp) : 0;
		if (!rp || !base || !diag_is_backend(d, base + 1) ||
		    !(!n || rp[0] == ':' || rp[n - 1] == ':' || strstr(rp, "::")))
			continue;
		bool seen = false;
		for (char **v = values; v && *v && !seen; v++)
			seen = !strcmp(*v, rp);
		if (!seen && (rc = strv_push(&values, rp)) < 0)
			break;
	}
	for (char **v = values; rc >= 0 && v && *v; v++) {
		char **dirs = NULL;
		json_object_object_foreach(d->elf, lib, facts)
		{
			const char *rp = jstr(facts, "runpath");
			const char *slash = strrchr(lib, '/');
			if (!rp || strcmp(rp, *v) || !slash || !diag_is_backend(d, slash + 1))
				continue;
			_cleanup_free_ char *dir = strndup(lib, (size_t)(slash - lib));
			bool seen = false;
			for (char **x = dirs; x && *x && !seen; x++)
				seen = !strcmp(*x, dir);
			if (dir && !seen && (rc = strv_push(&dirs, dir)) < 0)
				break;
		}
		size_t nd = strv_len(dirs);
		if (nd)
			qsort(dirs, nd, sizeof(*dirs), cmp_str);
		char list[2048] = "";
		for (size_t i = 0, len = 0; i < nd && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", dirs[i]);
		if (rc >= 0 && nd)
			rc = report_add_note(r,
				      "the backend libraries in %s have RUNPATH '%s': its empty element makes "
				      "the loader also search the working directory of the process loading them",
				      list, *v);
		strv_free_all(dirs);
	}
	strv_free_all(values);
	return rc;
}

static int note_truncated(Report *r, pid_t pid)
{
	return report_add_note(r, "process %d opened more than %d libraries: the diagnosis kept the first %d",
			     (int)pid, OPENS_KEEP_MAX, OPENS_KEEP_MAX);
}

static int fill_notes(const Model *d, size_t cut_line, Report *r)
{
	int rc = 0;
	if (cut_line)
		rc = report_add_note(r, "the trace's last line is cut short (%zu bytes, no newline: a full disk or a "
				     "killed writer) and was left out", cut_line);
	if (!d->have_policy)
		rc = report_add_note(r, "no policy in the trace: no directory verdicts");
	else if (d->policy.server_name && !d->server)
		rc = report_add_note(r, "no exec matched the policy's server rule (server = %s%s%s): no "
				 "directory verdicts",
			      d->policy.server_name, d->policy.server_argv1 ? " " : "",
			      d->policy.server_argv1 ? d->policy.server_argv1 : "");
	else {
		if (!d->scanner_seen)
			rc = report_add_note(r, "no scanner process was seen (policy %s)", d->policy.name);
		if (rc >= 0 && d->policy.version_regex && !r->scanner_version)
			rc = report_add_note(r, "the scanner's version was not found in the server's output");
		if (rc >= 0 && r->scanner_version && d->policy.version_min &&
		    !version_in(r->scanner_version, d->policy.version_min, d->policy.version_max))
			rc = report_add_note(r,
				      "scanner version %s is outside %s to %s, which policy %s was written "
				      "for: verdicts may not match",
				      r->scanner_version, d->policy.version_min, d->policy.version_max,
				      d->policy.name);
	}
	if (rc >= 0)
		rc = note_empty_runpaths(d, r);
	for (size_t i = 0; rc >= 0 && i < d->n_truncated; i++)
		rc = note_truncated(r, d->truncated_pids[i]);
	for (size_t i = 0; rc >= 0 && i < d->n_procs; i++)
		if (d->procs[i]->opens_truncated)
			rc = note_truncated(r, d->procs[i]->pid);
	if (rc >= 0 && d->elf_dropped)
		rc = report_add_note(r, "the ELF facts of %zu more libraries were not kept (the diagnosis keeps "
				 "those of the first %d): a verdict about them lacks their RUNPATH and NEEDED",
				 d->elf_dropped, ELF_KEEP_MAX);
	if (rc >= 0 && r->processes_omitted)
		rc = report_add_note(r, "%zu processes that ended are not listed (the report keeps the first "
				 "%d and the latest %d)",
			      r->processes_omitted, PROCS_HEAD, PROCS_KEEP - PROCS_HEAD);
	if (rc >= 0 && !d->complete && !d->cut_seq)
		rc = report_add_note(r, "the trace ends at event %llu without its stats line (the run was still "
				 "going, or vgpu-run was killed): verdicts see only what came before",
			      (unsigned long long)d->last_seq);
	if (rc >= 0 && d->lost)
		rc = report_add_note(r, "vgpu-run ran out of memory or file descriptors %llu times while tracing and "
				 "lost what it was recording then (a process's start, an exec's argv, the libraries "
				 "mapped at an end, a path): verdicts do not see it",
			      (unsigned long long)d->lost);
	if (rc >= 0 && d->cut_seq)
		rc = report_add_note(r, "the trace was cut at %llu bytes (--trace-max) before event %llu: "
				 "verdicts see only what came before",
			      (unsigned long long)d->cut_limit, (unsigned long long)d->cut_seq);
	if (rc >= 0)
		rc = diag_inject_notes(d, r);
	return rc;
}

static int fill_environment(const Model *d, Report *r)
{
	const Proc *server = d->server;
	if (!server || !server->env)
		return 0;
	size_t n = (size_t)json_object_object_length(server->env);
	r->environment = calloc(n ? n : 1, sizeof(*r->environment));
	if (!r->environment)
		return -ENOMEM;
	json_object_object_foreach(server->env, key, val)
	{
		if (!json_object_is_type(val, json_type_string))
			continue;
		r->environment[r->n_environment].name = strdup(key);
		r->environment[r->n_environment].value = strdup(json_object_get_string(val));
		r->n_environment++;
	}
	return 0;
}

/* The library root and how it was derived, and the other installs the
 * listing found (policy "installs"). */
static int fill_library_root(const Model *d, Report *r)
{
	char root[PATH_MAX];
	if (!d->have_policy || !diag_library_root(d, root, sizeof(root)))
		return 0;
	const char *rule = d->policy.library_root;
	if (!(r->root_path = strdup(root)) || !(r->root_rule = strdup(rule)))
		return -ENOMEM;
	if (!strncmp(rule, "exe:", 4) && d->server && d->server->exe && !(r->root_exe = strdup(d->server->exe)))
		return -ENOMEM;
	json_object *installs = jarray(d->listing, "installs");
	size_t n = jlen(installs);
	if (!n)
		return 0;
	if (!(r->installs = calloc(n, sizeof(*r->installs))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *in = json_object_array_get_idx(installs, i);
		const char *path = jstr(in, "path");
		if (!path)
			continue;
		ReportInstall *ri = &r->installs[r->n_installs++];
		if (!(ri->path = strdup(path)) || strv_push_all(&ri->directories, jarray(in, "directories")) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int dup_field(json_object *o, const char *key, char **to)
{
	const char *v = jstr(o, key);
	return !v || (*to = strdup(v)) ? 0 : -ENOMEM;
}

/* Where the run was (the header's host) and when: it started (header),
 * and this report is made now. */
static int fill_when_where(const Model *d, Report *r)
{
	json_object *host = NULL;
	char now[WALLTIME_MAX];
	if (d->header)
		json_object_object_get_ex(d->header, "host", &host);
	int rc = dup_field(host, "hostname", &r->hostname);
	rc = rc < 0 ? rc : dup_field(host, "arch", &r->arch);
	rc = rc < 0 ? rc : dup_field(host, "kernel", &r->kernel);
	rc = rc < 0 ? rc : dup_field(d->header, "started_at", &r->started_at);
	walltime_now(now);
	if (rc >= 0 && !(r->written_at = strdup(now)))
		rc = -ENOMEM;
	return rc;
}

int diagnosis_render(const Diagnosis *dg, Report *ret)
{
	const Model *d = &dg->m;
	Report r = { 0 };
	int rc = 0;
	r.tool_version = strdup(VGPU_VERSION);
	for (char **c = d->command; c && *c && rc >= 0; c++)
		rc = strv_push(&r.command, *c);
	if (d->have_policy) {
		r.policy_name = strdup(d->policy.name);
		r.policy_path = d->policy.path ? strdup(d->policy.path) : NULL;
	}
	/* the command's end: what vgpu-run itself ends with */
	const Proc *command = diag_proc(d, d->who.command);
	if (d->command_exit.known)
		report_exit_copy(&d->command_exit, &r.exit);
	else if (command)
		diag_fill_exit(command, &r.exit);
	if (d->scanner_version && !(r.scanner_version = strdup(d->scanner_version)))
		rc = -ENOMEM;
	if (rc >= 0)
		rc = diag_outcome_report(d, &r);
	if (rc >= 0)
		rc = fill_environment(d, &r);
	if (rc >= 0)
		rc = fill_library_root(d, &r);
	if (rc >= 0)
		rc = fill_processes(&dg->f, d, &r);
	if (rc >= 0)	/* before the directories: their next steps read them */
		rc = diag_injections(d, &r);
	if (rc >= 0)
		rc = fold_directories(&dg->f, d, &r);
	if (rc >= 0)
		rc = fill_notes(d, dg->cut_line, &r);
	r.complete = d->complete;
	rc = rc < 0 ? rc : fill_when_where(d, &r);
	r.stops = d->stops;
	r.backtraces = d->backtraces;
	r.backtrace_ms = d->backtrace_ns / 1000000;
	r.rewrites = d->rewrites;
	r.rewrite_p50_us = (d->rewrite_p50_ns + 999) / 1000;
	r.rewrite_p99_us = (d->rewrite_p99_ns + 999) / 1000;
	if (rc < 0) {
		report_done(&r);
		return rc;
	}
	*ret = r;
	return 0;
}

static void tokener_freep(json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

/* Feed the JSON Lines of F (called NAME) to D. */
static int feed_stream(Diagnosis *d, FILE *f, const char *name, char *err, size_t err_size)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int r = 0;
	bool ended;
	_cleanup_(tokener_freep) json_tokener *tok = NULL;
	while (r >= 0 && (len = line_read(f, &line, &cap, TRACE_LINE_MAX, &ended)) > 0) {
		lineno++;
		json_object *ev;
		size_t at;
		const char *what;
		int pr = json_strict_parse(&tok, line, (size_t)len, &ev, &at, &what);
		if (!ended && (pr < 0 || !json_object_is_type(ev, json_type_object)) && lineno > 1) {
			/* a last line cut short (a full disk, a killed writer):
			 * what came before stands, and the report says so */
			json_object_put(ev);
			d->cut_line = (size_t)len;
			break;
		}
		if (pr < 0) {
			snprintf(err, err_size, "%s:%u: malformed JSON at column %zu: %s", name, lineno, at + 1,
				 what);
			r = pr;
			break;
		}
		if (!json_object_is_type(ev, json_type_object)) {
			snprintf(err, err_size, "%s:%u: not a JSON object", name, lineno);
			json_object_put(ev);
			r = -EINVAL;
			break;
		}
		const char *kind = jstr(ev, "event");
		json_object *sq;
		int64_t seq = json_object_object_get_ex(ev, "seq", &sq) && json_object_is_type(sq, json_type_int)
				      ? json_object_get_int64(sq)
				      : 0;
		/* a piece's header says itself whether it follows the one
		 * before (the model checks its piece and first_seq) */
		bool header = kind && !strcmp(kind, "header");
		if (seq < 1 || (!header && seq <= d->last_seq)) {
			if (seq < 1)
				snprintf(err, err_size, "%s:%u: no seq (a positive integer)", name, lineno);
			else
				snprintf(err, err_size,
					 "%s:%u: seq %lld after %lld: events out of order or repeated", name,
					 lineno, (long long)seq, (long long)d->last_seq);
			json_object_put(ev);
			r = -EPROTO;
			break;
		}
		d->last_seq = seq;
		if (lineno == 1 && (!kind || strcmp(kind, "header"))) {
			snprintf(err, err_size, "%s:1: not a vgpu-run trace (no header)", name);
			json_object_put(ev);
			r = -EPROTO;
			break;
		}
		char e2[512] = "";
		r = diagnosis_feed(d, ev, e2, sizeof(e2));
		if (r < 0)
			snprintf(err, err_size, "%s:%u: %s", name, lineno, *e2 ? e2 : strerror(-r));
		json_object_put(ev);
	}
	if (len == -E2BIG) {
		snprintf(err, err_size, "%s:%u: a line longer than %u MiB: not a vgpu-run trace", name, lineno + 1,
			 TRACE_LINE_MAX >> 20);
		r = -EFBIG;
	} else if (len < 0 && r >= 0) {
		snprintf(err, err_size, "%s:%u: %s", name, lineno + 1, strerror((int)-len));
		r = (int)len;
	}
	if (r >= 0 && lineno == 0) {
		snprintf(err, err_size, "%s: empty trace", name);
		r = -EPROTO;
	}
	return r;
}

static int new_diagnosis(const char *policy_path, Diagnosis **ret, char *err, size_t err_size)
{
	Diagnosis *d = NULL;
	int r = diagnosis_new(&d);
	if (r >= 0 && policy_path && (r = diagnosis_use_policy(d, policy_path, err, err_size)) < 0)
		d = diagnosis_free(d);
	*ret = d;
	return r;
}

int diagnose_trace_stream(FILE *f, const char *name, const char *policy_path, Report *ret,
			  char *err, size_t err_size)
{
	Diagnosis *d;
	int r = new_diagnosis(policy_path, &d, err, err_size);
	if (r >= 0)
		r = feed_stream(d, f, name, err, err_size);
	if (r >= 0)
		r = diagnosis_render(d, ret);
	diagnosis_free(d);
	return r;
}

int diagnose_trace_streams(FILE *const *files, char *const *names, size_t n, const char *policy_path, Report *ret,
			   char *err, size_t err_size)
{
	Diagnosis *d;
	int r = new_diagnosis(policy_path, &d, err, err_size);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (d->cut_line) {	/* a cut line ends what can be read */
			snprintf(err, err_size, "%s: follows a piece whose last line is cut short", names[i]);
			r = -EPROTO;
			break;
		}
		r = feed_stream(d, files[i], names[i], err, err_size);
	}
	if (r >= 0)
		r = diagnosis_render(d, ret);
	diagnosis_free(d);
	return r;
}

int diagnose_trace_files(char *const *paths, size_t n, const char *policy_path, Report *ret, char *err,
			 size_t err_size)
{
	FILE *files[n ? n : 1];
	size_t opened = 0;
	int r = 0;
	for (; opened < n; opened++)
		if (!(files[opened] = fopen(paths[opened], "re"))) {
			r = neg_errno();
			snprintf(err, err_size, "%s: %s", paths[opened], strerror(-r));
			break;
		}
	if (r >= 0)
		r = diagnose_trace_streams(files, paths, n, policy_path, ret, err, err_size);
	for (size_t i = 0; i < opened; i++)
		fclose(files[i]);
	return r;
}

int diagnose_trace_file(const char *path, const char *policy_path, Report *ret, char *err,
			size_t err_size)
{
	return diagnose_trace_files((char *const[]){ (char *)path }, 1, policy_path, ret, err, err_size);
}
