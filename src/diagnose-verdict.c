/* One verdict per backend library directory (contract section 2), one
 * function per family of reasons, applied to each scanner run of the
 * directory; the directory takes its last run's verdict (or "dropped"). */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "diagnose-loader.h"
#include "path.h"

#define EVIDENCE_MAX 8

const char *diag_base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}


/* Does the policy call the file named NAME a backend library? */
static bool is_backend(const Diagnosis *d, const char *name)
{
	if (!name || !d->policy.backend_glob || fnmatch(d->policy.backend_glob, name, 0))
		return false;
	for (size_t i = 0; i < d->policy.n_not_backend; i++)
		if (!fnmatch(d->policy.not_backend[i], name, 0))
			return false;
	return true;
}

/* Is FILE directly inside DIR? */
static bool in_dir(const char *file, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(file, dir, n) && file[n] == '/' && !strchr(file + n + 1, '/');
}

/* The verdict of one run (or of a directory without runs). */
typedef struct Judged {
	const char *verdict, *reason;
	char detail[DETAIL_MAX];
	ReportLibrary lib;
	bool have_lib;
	uint64_t cite[EVIDENCE_MAX];	/* seqs of the events that justify it */
	size_t n_cite;
} Judged;

static void cite(Judged *j, uint64_t seq)
{
	for (size_t i = 0; i < j->n_cite; i++)
		if (j->cite[i] == seq)
			return;
	if (seq && j->n_cite < EVIDENCE_MAX)
		j->cite[j->n_cite++] = seq;
}

static void set(Judged *j, const char *verdict, const char *reason)
{
	j->verdict = verdict;
	j->reason = reason;
}

/* The library root: the policy's exe-relative or absolute directory. */
static bool library_root(const Diagnosis *d, char *out, size_t size)
{
	const char *lr = d->policy.library_root;
	Proc *server = diag_proc(d, d->root_pid);
	if (!lr)
		return false;
	if (*lr == '/')
		return path_normalize(lr, out, size) >= 0;
	if (strncmp(lr, "exe:", 4) || !server || !server->exe)
		return false;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", server->exe);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return path_join(dir, lr + 4, out, size) >= 0;
}

/* The listing entry named NAME (a subdirectory of the root), or NULL. */
static json_object *listing_entry(const Diagnosis *d, const char *name)
{
	json_object *entries = jarray(d->listing, "entries");
	for (size_t i = 0; i < jlen(entries); i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		if (jstr(e, "name") && !strcmp(jstr(e, "name"), name))
			return e;
	}
	return NULL;
}

/* Does the listing entry hold a file matching GLOB? */
static bool entry_has(json_object *e, const char *glob)
{
	json_object *files = jarray(e, "files");
	for (size_t i = 0; glob && i < jlen(files); i++)
		if (jstr_at(files, i) && !fnmatch(glob, jstr_at(files, i), 0))
			return true;
	return false;
}

bool diag_regex_line(const char *re, const char *text, char *group1, size_t size)
{
	regex_t rx;
	regmatch_t m[2];
	if (!re || regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE))
		return false;
	bool hit = !regexec(&rx, text, 2, m, 0);
	if (hit && group1) {
		int n = m[1].rm_so >= 0 ? (int)(m[1].rm_eo - m[1].rm_so) : 0;
		snprintf(group1, size, "%.*s", n, text + (n ? m[1].rm_so : 0));
		group1[strcspn(group1, "\n")] = '\0';
	}
	regfree(&rx);
	return hit;
}

/* Was LIB still mapped when P ended, or named by the policy's "loaded"
 * line in P's output?  Returns the evidence seq (or 1 for mappings). */
static uint64_t loaded_evidence(const Diagnosis *d, const Proc *p, const char *lib)
{
	for (size_t i = 0; i < p->n_output; i++) {
		char g[PATH_MAX];
		if (diag_regex_line(d->policy.loaded_regex, p->output[i].text, g, sizeof(g)) && !strcmp(g, lib))
			return p->output[i].seq;
	}
	for (char **m = p->maps; m && *m; m++)
		if (!strcmp(*m, lib))
			return 1;
	return 0;
}

/* The part of P's life spent on one directory: from its first backend
 * open there to its first backend open in another directory (Ollama's
 * runner loads its directories one after the other, the root first). */
typedef struct Window {
	uint64_t from, to;	/* seqs; to = UINT64_MAX: to the end */
} Window;

static bool in_window(const Window *w, uint64_t seq)
{
	return seq >= w->from && seq < w->to;
}

static Window window_of(const Diagnosis *d, const Proc *p, const char *dir, uint64_t first)
{
	Window w = { first, UINT64_MAX };
	for (size_t i = 0; i < p->n_opens; i++) {
		const Open *o = &p->opens[i];
		if (o->seq > first && !in_dir(o->path, dir) && is_backend(d, diag_base_name(o->path))) {
			w.to = o->seq;
			break;
		}
	}
	return w;
}

/* The scanner crashed, or was killed past the probe timeout, while it was
 * on this directory (window W). */
static bool judge_process_end(const Diagnosis *d, const Proc *p, const Window *w, Judged *j)
{
	/* A crash signal that was handled and survived is no crash: it
	 * counts when the process then died of it or exited (Go's runtime
	 * exits 2 after a crash in C code). */
	bool died_of_it = p->ended && (!p->exit_signaled || !strcmp(p->exit_signal, p->fatal_signal ? p->fatal_signal : ""));
	if (p->fatal_signal && in_window(w, p->fatal_seq) && died_of_it) {
		set(j, "failed", "scanner-crashed");
		if (p->exit_signaled)
			snprintf(j->detail, sizeof(j->detail), "%s delivered to scanner %d, which died of %s",
				 p->fatal_signal, (int)p->pid, p->exit_signal);
		else
			snprintf(j->detail, sizeof(j->detail),
				 "%s delivered to scanner %d, which then exited with code %d", p->fatal_signal,
				 (int)p->pid, p->exit_code);
		cite(j, p->fatal_seq);
		cite(j, p->crash_stack_seq);
		cite(j, p->exit_seq);
		return true;
	}
	/* The parent's clock starts a little before it creates the child:
	 * a kill at 98% of the timeout after the fork is the timeout. */
	uint64_t limit = d->policy.probe_timeout_ns;
	if (limit && p->killer && p->killer == p->ppid && in_window(w, p->kill_seq) &&
	    p->kill_ns >= p->start_ns + limit / 100 * 98) {
		set(j, "failed", "scanner-timeout");
		snprintf(j->detail, sizeof(j->detail),
			 "scanner %d was killed (%s) by its parent %.1f s after it started (probe timeout %.1f s)",
			 (int)p->pid, p->kill_signal, (double)(p->kill_ns - p->start_ns) / 1e9,
			 (double)limit / 1e9);
		cite(j, p->kill_seq);
		return true;
	}
	return false;
}

static void judge_not_loaded(const Diagnosis *d, const Proc *p, const Open *o, Judged *j)
{
	json_object *elf;
	json_object_object_get_ex(d->elf, o->path, &elf);
	const char *err = jstr(elf, "error");
	json_object *cls;
	int elf_class = elf && json_object_object_get_ex(elf, "class", &cls) ? json_object_get_int(cls) : 64;
	const char *machine = jstr(elf, "machine");
	if (err || elf_class != 64 || (machine && strcmp(machine, "x86-64"))) {
		set(j, "failed", "bad-library");
		if (err)
			snprintf(j->detail, sizeof(j->detail), "%s: %s", diag_base_name(o->path),
				 !strcmp(err, "not-elf") ? "not an ELF file" : err);
		else
			snprintf(j->detail, sizeof(j->detail), "%s: ELF class %d, machine %s; this is x86-64",
				 diag_base_name(o->path), elf_class, machine ? machine : "?");
		j->lib.outcome = strdup("failed");
		return;
	}

	char origin[PATH_MAX];
	snprintf(origin, sizeof(origin), "%s", o->path);
	char *slash = strrchr(origin, '/');
	if (slash)
		*slash = '\0';
	LoaderInput in = {
		.library = o->path, .after_seq = o->seq, .opens = p->opens, .n_opens = p->n_opens,
		.elf = d->elf, .ld_library_path = diag_env(p, "LD_LIBRARY_PATH"),
		.runpath = jstr(elf, "runpath") ? jstr(elf, "runpath") : jstr(elf, "rpath"),
		.runpath_is_rpath = !jstr(elf, "runpath") && jstr(elf, "rpath"), .origin = origin,
		.cwd = p->cwd,
	};
	LoaderResult res = { 0 };
	if (loader_reconstruct(&in, &res) >= 0 && res.missing) {
		set(j, "failed", "missing-dependency");
		loader_describe(&in, &res, j->detail, sizeof(j->detail));
		j->lib.outcome = strdup("failed");
		j->lib.missing = TAKE_PTR(res.missing);
		j->lib.searched = TAKE_PTR(res.searched);
		cite(j, res.first_missing_seq);
		cite(j, res.last_missing_seq);
	} else if (res.bad) {
		set(j, "failed", "bad-library");
		snprintf(j->detail, sizeof(j->detail), "%s needs %s, which is not a loadable x86-64 library",
			 diag_base_name(o->path), res.bad[0]);
		j->lib.outcome = strdup("failed");
	} else {
		set(j, "failed", "load-error");
		snprintf(j->detail, sizeof(j->detail),
			 "%s and its dependencies were found, but the load was rolled back "
			 "(an unresolved symbol, a failing initialiser, or a backend that registered nothing)",
			 diag_base_name(o->path));
		j->lib.outcome = strdup("unloaded");
	}
	loader_result_done(&res);
}

/* One scanner run P of directory DIR. */
static void judge_run(const Diagnosis *d, const Proc *p, const char *dir, bool accel_dir, Judged *j)
{
	/* FIRST: any backend open here; LIB: the judged library (the first
	 * accelerator opened, or for a CPU directory the variant that stayed
	 * loaded); FAILED: an open of the judged kind that failed. */
	const Open *first = NULL, *lib = NULL, *failed = NULL;
	for (size_t i = 0; i < p->n_opens; i++) {
		const Open *o = &p->opens[i];
		const char *b = diag_base_name(o->path);
		if (!in_dir(o->path, dir) || !is_backend(d, b))
			continue;
		bool cpu = d->policy.cpu_glob && !fnmatch(d->policy.cpu_glob, b, 0);
		if (!first)
			first = o;
		if (cpu == accel_dir)
			continue;
		if (!o->ok && !failed)
			failed = o;
		if (o->ok && (!lib || (!accel_dir && loaded_evidence(d, p, o->path))))
			lib = o;
	}
	cite(j, p->exec_seq);
	cite(j, p->inject_seq);	/* the shim that went into it, if any */
	if (!first) {
		set(j, "skipped", "never-scanned");
		if (p->ended && (p->fatal_signal || p->exit_signaled))
			snprintf(j->detail, sizeof(j->detail),
				 "scanner %d was pointed at %s but ended (%s) before it opened anything there",
				 (int)p->pid, dir, p->fatal_signal ? p->fatal_signal : p->exit_signal);
		else
			snprintf(j->detail, sizeof(j->detail),
				 "scanner %d was pointed at %s but opened no backend library in it", (int)p->pid,
				 dir);
		return;
	}
	Window w = window_of(d, p, dir, first->seq);
	if (judge_process_end(d, p, &w, j))
		return;
	if (!lib) {
		set(j, "skipped", "never-scanned");
		snprintf(j->detail, sizeof(j->detail),
			 "scanner %d was pointed at %s but opened no backend library of its kind in it",
			 (int)p->pid, dir);
		if (failed) {
			set(j, "failed", "bad-library");
			snprintf(j->detail, sizeof(j->detail), "%s: open failed: %s", diag_base_name(failed->path),
				 failed->result ? failed->result : "?");
			cite(j, failed->seq);
		}
		return;
	}
	j->have_lib = true;
	j->lib.path = strdup(lib->path);
	cite(j, lib->seq);
	const char *b = diag_base_name(lib->path);
	/* "libggml-cuda.so" -> "cuda", "libggml-cpu-haswell.so" -> "cpu" */
	char backend[64];
	snprintf(backend, sizeof(backend), "%s", strncmp(b, "libggml-", 8) ? b : b + 8);
	backend[strcspn(backend, "-.")] = '\0';
	j->lib.backend = strdup(backend);

	uint64_t ev = loaded_evidence(d, p, lib->path);
	if (!ev) {
		judge_not_loaded(d, p, lib, j);
		return;
	}
	cite(j, ev > 1 ? ev : 0);
	j->lib.outcome = strdup("loaded");
	/* the backend's own complaint comes while it initialises: here */
	for (size_t i = 0; accel_dir && i < p->n_output; i++)
		for (size_t k = 0; in_window(&w, p->output[i].seq) && k < d->policy.n_init_failed; k++)
			if (diag_regex_line(d->policy.init_failed[k], p->output[i].text, NULL, 0)) {
				set(j, "failed", "init-failed");
				snprintf(j->detail, sizeof(j->detail), "%s loaded, but: %.*s", b,
					 (int)strcspn(p->output[i].text, "\n"), p->output[i].text);
				cite(j, p->output[i].seq);
				return;
			}
	set(j, "loaded", "loaded");
}

/* Trim spaces and quotes, as Ollama's envconfig does. */
static void trimmed(const char *v, char *out, size_t size)
{
	while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
		v++;
	snprintf(out, size, "%s", v);
	size_t n = strlen(out);
	while (n && strchr(" \t\r\n\"'", out[n - 1]))
		out[--n] = '\0';
}

/* Go's strconv.ParseBool as Ollama uses it: a value it rejects is true. */
static bool env_true(const char *v)
{
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	if (!v || !*v)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (!strcmp(v, no[i]))
			return false;
	return true;
}

static bool judge_filters(const Diagnosis *d, const char *name, Judged *j)
{
	Proc *server = diag_proc(d, d->root_pid);
	for (size_t i = 0; i < d->policy.n_filters; i++) {
		const PolicyFilter *f = &d->policy.filters[i];
		const char *raw = diag_env(server, f->var);
		char v[256];
		trimmed(raw ? raw : "", v, sizeof(v));
		if (f->kind == POLICY_FILTER_SELECT && *v && strcmp(v, diag_base_name(name))) {
			set(j, "skipped", "filtered-by-env");
			snprintf(j->detail, sizeof(j->detail), "%s=%s", f->var, raw);
		} else if (f->kind == POLICY_FILTER_ENABLE && !fnmatch(f->glob, diag_base_name(name), 0) &&
			   !env_true(v)) {
			set(j, "skipped", "filtered-by-env");
			if (raw)
				snprintf(j->detail, sizeof(j->detail), "%s=%s", f->var, raw);
			else
				snprintf(j->detail, sizeof(j->detail), "%s unset", f->var);
		} else {
			continue;
		}
		if (server)
			cite(j, server->exec_seq);
		return true;
	}
	return false;
}

/* A directory no scanner ran on: why not. */
static void judge_unscanned(const Diagnosis *d, const char *name, const char *path, Judged *j)
{
	json_object *e = strcmp(name, ".") ? listing_entry(d, name) : NULL;
	uint64_t lseq = d->listing ? (uint64_t)json_object_get_int64(
					     json_object_object_get(d->listing, "seq"))
				   : 0;
	if (d->listing && strcmp(name, ".") && !e) {
		set(j, "absent", "no-such-directory");
		snprintf(j->detail, sizeof(j->detail), "%s does not exist", path);
		return;
	}
	const char *err = jstr(e, "error"), *type = jstr(e, "type");
	if (err || (type && strcmp(type, "dir"))) {
		set(j, "skipped", "unreadable");
		snprintf(j->detail, sizeof(j->detail), "%s: %s%s%s", path, err ? err : "ENOTDIR",
			 jstr(e, "target") ? " (symlink to " : "", jstr(e, "target") ? jstr(e, "target") : "");
		if (jstr(e, "target"))
			strncat(j->detail, ")", sizeof(j->detail) - strlen(j->detail) - 1);
		cite(j, lseq);
		return;
	}
	if (e && !entry_has(e, d->policy.candidate_glob)) {
		set(j, "absent", "no-backend-library");
		snprintf(j->detail, sizeof(j->detail), "%s holds no file matching %s", path,
			 d->policy.candidate_glob);
		cite(j, lseq);
		return;
	}
	if (judge_filters(d, name, j))
		return;
	set(j, "skipped", "never-scanned");
	snprintf(j->detail, sizeof(j->detail), "no scanner was pointed at %s and no process opened a file in it",
		 path);
	cite(j, lseq);
}

typedef struct Dir {
	char *name, *path;
} Dir;

/* "A/B" into OUT; false when it does not fit. */
static bool join2(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s/%s", a, b);
	return n >= 0 && (size_t)n < size;
}

static int add_dir(Dir **dirs, size_t *n, const char *root, const char *path)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*dirs)[i].path, path))
			return 0;
	Dir *nd = realloc(*dirs, (*n + 1) * sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	*dirs = nd;
	size_t rl = root ? strlen(root) : 0;
	const char *name = !root ? path
			   : !strcmp(path, root) ? "."
			   : (!strncmp(path, root, rl) && path[rl] == '/') ? path + rl + 1 : path;
	nd[*n].name = strdup(name);
	nd[*n].path = strdup(path);
	if (!nd[*n].name || !nd[*n].path)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int dir_cmp(const void *a, const void *b)
{
	return strcmp(((const Dir *)a)->name, ((const Dir *)b)->name);
}

/* Is P a run of DIR: pointed at it, or (policy "scanner any") opened a
 * backend library in it? */
static bool runs_on(const Diagnosis *d, const Proc *p, const char *dir)
{
	for (char **s = p->scans; s && *s; s++)
		if (!strcmp(*s, dir))
			return true;
	if (!d->policy.scanner_any)
		return false;
	for (size_t i = 0; i < p->n_opens; i++)
		if (in_dir(p->opens[i].path, dir) &&
		    is_backend(d, diag_base_name(p->opens[i].path)))
			return true;
	return false;
}

/* The directories of the report (contract: expected ones, existing
 * candidates, and every directory a scanner was pointed at or opened a
 * backend in). */
static int collect_dirs(const Diagnosis *d, const char *root, Dir **ret, size_t *ret_n)
{
	Dir *dirs = NULL;
	size_t n = 0;
	char p[PATH_MAX];
	int r = 0;
	for (size_t i = 0; root && r >= 0 && i < d->policy.n_expected; i++) {
		if (join2(p, sizeof(p), root, d->policy.expected[i]))
			r = add_dir(&dirs, &n, root, p);
	}
	json_object *entries = root ? jarray(d->listing, "entries") : NULL;
	for (size_t i = 0; r >= 0 && i < jlen(entries); i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		const char *name = jstr(e, "name");
		/* a dangling symlink named like a library is no directory */
		if (!name || (!entry_has(e, d->policy.candidate_glob) &&
			      (!jstr(e, "error") || is_backend(d, name))))
			continue;
		if (join2(p, sizeof(p), root, name))
			r = add_dir(&dirs, &n, root, p);
	}
	for (size_t i = 0; r >= 0 && i < d->n_procs; i++) {
		const Proc *pr = &d->procs[i];
		for (char **s = pr->scans; r >= 0 && s && *s; s++)
			r = add_dir(&dirs, &n, root, *s);
		for (size_t k = 0; r >= 0 && d->policy.scanner_any && k < pr->n_opens; k++) {
			const Open *o = &pr->opens[k];
			if (!o->ok || !is_backend(d, diag_base_name(o->path)))
				continue;
			snprintf(p, sizeof(p), "%s", o->path);
			char *slash = strrchr(p, '/');
			if (!slash || slash == p)
				continue;	/* not an absolute path in a directory */
			*slash = '\0';
			r = add_dir(&dirs, &n, root, p);
		}
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++) {
			free(dirs[i].name);
			free(dirs[i].path);
		}
		free(dirs);
		return r;
	}
	qsort(dirs, n, sizeof(*dirs), dir_cmp);
	*ret = dirs;
	*ret_n = n;
	return 0;
}

/* Does this directory hold an accelerator backend (then it is judged by
 * it, CPU backends beside it appear only as libraries)? */
static bool accelerator_dir(const Diagnosis *d, const char *name, const char *path)
{
	json_object *files = jarray(listing_entry(d, name), "files");
	for (size_t i = 0; i < jlen(files); i++) {
		const char *f = jstr_at(files, i);
		if (is_backend(d, f) &&
		    (!d->policy.cpu_glob || fnmatch(d->policy.cpu_glob, f, 0)))
			return true;
	}
	for (size_t i = 0; i < d->n_procs; i++)
		for (size_t k = 0; k < d->procs[i].n_opens; k++) {
			const char *f = d->procs[i].opens[k].path;
			if (in_dir(f, path) && is_backend(d, diag_base_name(f)) &&
			    (!d->policy.cpu_glob || fnmatch(d->policy.cpu_glob, diag_base_name(f), 0)))
				return true;
		}
	return false;
}

static void judged_to_dir(const Diagnosis *d, Judged *j, ReportDirectory *rd)
{
	rd->verdict = strdup(j->verdict);
	rd->reason = strdup(j->reason);
	rd->detail = *j->detail ? strdup(j->detail) : NULL;
	rd->evidence = calloc(j->n_cite ? j->n_cite : 1, sizeof(*rd->evidence));
	for (size_t i = 0; rd->evidence && i < j->n_cite; i++)
		diag_evidence_for(d, j->cite[i], &rd->evidence[rd->n_evidence++]);
}

static void lib_done(ReportLibrary *l)
{
	free(l->path);
	free(l->backend);
	free(l->outcome);
	strv_free_all(l->missing);
	strv_free_all(l->searched);
	memset(l, 0, sizeof(*l));
}

/* Move J's library into RD: one entry per path, the latest run's. */
static void keep_library(ReportDirectory *rd, Judged *j)
{
	if (!j->have_lib)
		return;
	j->have_lib = false;
	for (size_t i = 0; i < rd->n_libraries; i++)
		if (!strcmp(rd->libraries[i].path, j->lib.path)) {
			lib_done(&rd->libraries[i]);
			rd->libraries[i] = j->lib;
			return;
		}
	ReportLibrary *nl = realloc(rd->libraries, (rd->n_libraries + 1) * sizeof(*nl));
	if (!nl) {
		lib_done(&j->lib);
		return;
	}
	rd->libraries = nl;
	rd->libraries[rd->n_libraries++] = j->lib;
}

/* Was directory DIR probed by a scanner that started before P? */
static bool probed_before(const Diagnosis *d, const Proc *p, const char *dir)
{
	for (size_t i = 0; i < d->n_procs; i++)
		if (d->procs[i].exec_seq < p->exec_seq && runs_on(d, &d->procs[i], dir))
			return true;
	return false;
}

/* A scanner started after LAST ended that re-probed another directory
 * holding LIB (a backend file name), loaded it there, and was not pointed
 * at DIR; or NULL.  A re-probe, not a
 * first probe: Ollama's first pass probes every directory once, in
 * random order; only later probes (verification, refresh, model loads)
 * show which directories survived its overlap filter. */
static const Proc *dropped_for(const Diagnosis *d, const Proc *last, const char *dir, const char *lib)
{
	for (size_t i = 0; i < d->n_procs; i++) {
		const Proc *p = &d->procs[i];
		/* after LAST ended: not a parallel verification probe */
		uint64_t after = last->ended ? last->exit_seq : last->exec_seq;
		if (p->exec_seq <= after || !p->is_scanner || runs_on(d, p, dir))
			continue;
		for (char **s = p->scans; s && *s; s++) {
			char f[PATH_MAX];
			if (!join2(f, sizeof(f), *s, lib) || !probed_before(d, p, *s))
				continue;
			for (size_t k = 0; k < p->n_opens; k++)
				if (p->opens[k].ok && !strcmp(p->opens[k].path, f) && loaded_evidence(d, p, f))
					return p;
		}
	}
	return NULL;
}

/* Judge one directory into RD. */
static void judge_dir(const Diagnosis *d, const Dir *dir, ReportDirectory *rd)
{
	bool accel = strcmp(dir->name, ".") && accelerator_dir(d, dir->name, dir->path);
	Judged last = { 0 };
	const Proc *last_proc = NULL;
	pid_t loaded_by = 0;
	rd->runs = calloc(d->n_procs ? d->n_procs : 1, sizeof(*rd->runs));
	for (size_t i = 0; rd->runs && i < d->n_procs; i++) {
		const Proc *p = &d->procs[i];
		if (!runs_on(d, p, dir->path))
			continue;
		Judged j = { 0 };
		judge_run(d, p, dir->path, accel, &j);
		rd->runs[rd->n_runs].pid = p->pid;
		rd->runs[rd->n_runs].verdict = strdup(j.verdict);
		rd->runs[rd->n_runs].reason = strdup(j.reason);
		rd->n_runs++;
		if (!strcmp(j.verdict, "loaded"))
			loaded_by = p->pid;
		keep_library(rd, &j);
		last = j;
		last_proc = p;
	}
	if (!last_proc) {
		judge_unscanned(d, dir->name, dir->path, &last);
	} else if (loaded_by && !strcmp(last.verdict, "loaded") && rd->n_libraries) {
		/* Loaded, and later scanners were pointed at another directory
		 * holding the same backend and not at this one: dropped (Ollama
		 * keeps cuda_v13 over cuda_v12 when both cover the GPUs). */
		const char *lib = diag_base_name(rd->libraries[rd->n_libraries - 1].path);
		const Proc *later = d->policy.kept_regex ? NULL : dropped_for(d, last_proc, dir->path, lib);
		if (later) {
			set(&last, "skipped", "dropped");
			snprintf(last.detail, sizeof(last.detail),
				 "%s loaded in scanner %d, but later scanners (%d) were pointed at another "
				 "directory with %s and not at this one",
				 lib, (int)loaded_by, (int)later->pid, lib);
			cite(&last, later->exec_seq);
		}
	}
	judged_to_dir(d, &last, rd);
}

int diag_directories(Diagnosis *d, Report *r)
{
	char root[PATH_MAX];
	bool have_root = library_root(d, root, sizeof(root));
	Dir *dirs = NULL;
	size_t n = 0;
	if (!d->have_policy)
		return 0;
	/* A listing of another directory (the root of a wrapper's exe) says
	 * nothing about this root. */
	const char *lp = jstr(d->listing, "path");
	if (d->listing && (!have_root || !lp || strcmp(lp, root))) {
		json_object_put(d->listing);
		d->listing = NULL;
	}
	int rc = collect_dirs(d, have_root ? root : NULL, &dirs, &n);
	if (rc < 0)
		return rc;
	r->directories = calloc(n ? n : 1, sizeof(*r->directories));
	if (!r->directories)
		rc = -ENOMEM;
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		ReportDirectory *rd = &r->directories[r->n_directories++];
		rd->name = strdup(dirs[i].name);
		rd->path = strdup(dirs[i].path);
		judge_dir(d, &dirs[i], rd);
	}
	if (rc >= 0)
		diag_apply_kept(d, r);
	for (size_t i = 0; i < n; i++) {
		free(dirs[i].name);
		free(dirs[i].path);
	}
	free(dirs);
	return rc;
}
