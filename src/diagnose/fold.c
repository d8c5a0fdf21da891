/* The diagnosis as a fold (see fold.h). */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "diagnose/fold.h"

/* ---- directories ---- */

int fold_init(Fold *f)
{
	*f = (Fold){ 0 };
	f->dir_index = json_object_new_object();
	f->accel_dirs = json_object_new_object();
	if (!f->dir_index || !f->accel_dirs) {
		fold_done(f);
		return -ENOMEM;
	}
	return 0;
}

static void dir_free(DirAcc *a)
{
	if (!a)
		return;
	free(a->path);
	for (size_t i = 0; i < a->n_runs; i++) {
		free(a->runs[i].verdict);
		free(a->runs[i].reason);
	}
	free(a->runs);
	free(a->run_seq);
	for (size_t i = 0; i < a->n_libs; i++)
		report_library_done(&a->libs[i]);
	free(a->libs);
	free(a->lib_seq);
	free(a->detail);
	for (size_t i = 0; i < a->n_evidence; i++)
		report_evidence_done(&a->evidence[i]);
	free(a->evidence);
	free(a);
}

static DirAcc *dir_new(const char *path)
{
	DirAcc *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->path = strdup(path);
	a->runs = calloc(RUNS_KEEP + 1, sizeof(*a->runs));
	a->run_seq = calloc(RUNS_KEEP + 1, sizeof(*a->run_seq));
	if (!a->path || !a->runs || !a->run_seq) {
		dir_free(a);
		return NULL;
	}
	return a;
}

static DirAcc *dir_find(const Fold *f, const char *path)
{
	json_object *v;
	return json_object_object_get_ex(f->dir_index, path, &v) ? f->dirs[json_object_get_int64(v)] : NULL;
}

DirAcc *fold_dir(Fold *f, const char *path)
{
	DirAcc *a = dir_find(f, path);
	if (a)
		return a;
	DirAcc **nd = realloc(f->dirs, (f->n_dirs + 1) * sizeof(*nd));
	if (!nd)
		return NULL;
	f->dirs = nd;
	if (!(a = dir_new(path)))
		return NULL;
	json_object_object_add(f->dir_index, path, json_object_new_int64((int64_t)f->n_dirs));
	f->dirs[f->n_dirs++] = a;
	return a;
}

int fold_probed(Fold *f, const char *dir, uint64_t exec_seq, bool shown)
{
	DirAcc *a = fold_dir(f, dir);
	if (!a)
		return -ENOMEM;
	if (!a->probed || exec_seq < a->first_probe)
		a->first_probe = exec_seq;
	a->probed = true;
	a->shown |= shown;
	return 0;
}

/* The directory part of PATH into OUT; false for none. */
static bool dir_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path || (size_t)(slash - path) >= size)
		return false;
	memcpy(out, path, (size_t)(slash - path));
	out[slash - path] = '\0';
	return true;
}

static bool is_cpu(const Model *d, const char *name)
{
	return d->policy.cpu_glob && !fnmatch(d->policy.cpu_glob, name, 0);
}

int fold_backend_open(Fold *f, const Model *d, const Proc *p, const char *path, bool ok)
{
	char dir[PATH_MAX];
	const char *b = diag_base_name(path);
	if (!d->have_policy || !diag_is_backend(d, b) || !dir_of(path, dir, sizeof(dir)))
		return 0;
	if (!is_cpu(d, b) && !json_object_object_get_ex(f->accel_dirs, dir, NULL) &&
	    json_object_object_add(f->accel_dirs, dir, NULL) < 0)
		return -ENOMEM;
	return d->policy.scanner_any ? fold_probed(f, dir, p->exec_seq, ok) : 0;
}

/* Does this directory hold an accelerator backend (then it is judged by
 * it, CPU backends beside it appear only as libraries)? */
static bool accelerator_dir(const Fold *f, const Model *d, const char *name, const char *path)
{
	if (!strcmp(name, "."))
		return false;
	json_object *files = jarray(diag_listing_entry(d, name), "files");
	for (size_t i = 0; i < jlen(files); i++) {
		const char *file = jstr_at(files, i);
		if (diag_is_backend(d, file) && !is_cpu(d, file))
			return true;
	}
	return json_object_object_get_ex(f->accel_dirs, path, NULL);
}

/* PATH's name in the report: relative to the library root ROOT. */
static const char *dir_name(const char *root, const char *path)
{
	size_t rl = root ? strlen(root) : 0;
	return !root			     ? path
	       : !strcmp(path, root)	     ? "."
	       : (!strncmp(path, root, rl) && path[rl] == '/') ? path + rl + 1
							     : path;
}

/* The directories P ran on (pointed at, or for "scanner any" opened a
 * backend in), as keys of a new object. */
static json_object *runs_of(const Model *d, const Proc *p)
{
	json_object *set = json_object_new_object();
	for (char **s = p->scans; set && s && *s; s++)
		json_object_object_add(set, *s, NULL);
	for (size_t i = 0; set && d->policy.scanner_any && i < p->n_opens; i++) {
		char dir[PATH_MAX];
		if (diag_is_backend(d, diag_base_name(p->opens[i].path)) &&
		    dir_of(p->opens[i].path, dir, sizeof(dir)))
			json_object_object_add(set, dir, NULL);
	}
	return set;
}

/* Run P (started at EXEC) goes into A's list in start order; a long list
 * keeps its first RUNS_HEAD and latest runs. */
static int run_insert(DirAcc *a, pid_t pid, uint64_t exec, const char *verdict, const char *reason)
{
	size_t at = a->n_runs;
	while (at > 0 && a->run_seq[at - 1] > exec)
		at--;
	memmove(&a->runs[at + 1], &a->runs[at], (a->n_runs - at) * sizeof(*a->runs));
	memmove(&a->run_seq[at + 1], &a->run_seq[at], (a->n_runs - at) * sizeof(*a->run_seq));
	a->runs[at] = (ReportRun){ .pid = pid, .verdict = strdup(verdict), .reason = strdup(reason) };
	a->run_seq[at] = exec;
	a->n_runs++;
	if (!a->runs[at].verdict || !a->runs[at].reason)
		return -ENOMEM;
	if (a->n_runs > RUNS_KEEP) {
		free(a->runs[RUNS_HEAD].verdict);
		free(a->runs[RUNS_HEAD].reason);
		a->n_runs--;
		memmove(&a->runs[RUNS_HEAD], &a->runs[RUNS_HEAD + 1], (a->n_runs - RUNS_HEAD) * sizeof(*a->runs));
		memmove(&a->run_seq[RUNS_HEAD], &a->run_seq[RUNS_HEAD + 1],
			(a->n_runs - RUNS_HEAD) * sizeof(*a->run_seq));
		a->runs_omitted++;
	}
	return 0;
}

/* J's library into A: one entry per path, the latest run's. */
static int keep_library(DirAcc *a, Judged *j, uint64_t exec)
{
	if (!j->have_lib)
		return 0;
	j->have_lib = false;
	for (size_t i = 0; i < a->n_libs; i++)
		if (!strcmp(a->libs[i].path, j->lib.path)) {
			if (a->lib_seq[i] > exec) {
				report_library_done(&j->lib);
				return 0;
			}
			report_library_done(&a->libs[i]);
			a->libs[i] = j->lib;
			a->lib_seq[i] = exec;
			return 0;
		}
	ReportLibrary *nl = realloc(a->libs, (a->n_libs + 1) * sizeof(*nl));
	uint64_t *ns = nl ? realloc(a->lib_seq, (a->n_libs + 1) * sizeof(*ns)) : NULL;
	if (nl)
		a->libs = nl;
	if (ns)
		a->lib_seq = ns;
	if (!nl || !ns) {
		report_library_done(&j->lib);
		return -ENOMEM;
	}
	a->libs[a->n_libs] = j->lib;
	a->lib_seq[a->n_libs++] = exec;
	return 0;
}

static void clear_last(DirAcc *a)
{
	free(a->detail);
	a->detail = NULL;
	for (size_t i = 0; i < a->n_evidence; i++)
		report_evidence_done(&a->evidence[i]);
	a->n_evidence = a->evidence_omitted = 0;
}

/* Judge run P of A and fold it in. */
static int fold_run(const Model *d, DirAcc *a, const Proc *p, bool accel)
{
	Judged j = { 0 };
	diag_judge_run(d, p, a->path, accel, &j);
	int r = run_insert(a, p->pid, p->exec_seq, j.verdict, j.reason);
	if (r >= 0)
		r = keep_library(a, &j, p->exec_seq);
	if (j.have_lib)
		report_library_done(&j.lib);
	if (r < 0)
		return r;
	if (!strcmp(j.verdict, "loaded") && (!a->loaded_by || p->exec_seq >= a->loaded_seq)) {
		a->loaded_by = p->pid;
		a->loaded_seq = p->exec_seq;
	}
	if (a->have_last && p->exec_seq < a->last_exec)
		return 0;	/* a run that started earlier ended later */
	if (a->have_last && !strcmp(j.reason, "not-reached"))
		return 0;	/* one still going does not undo what an ended one said */
	clear_last(a);
	a->have_last = true;
	a->last_exec = p->exec_seq;
	a->last_after = p->ended ? p->exit_seq : p->exec_seq;
	a->last_pid = p->pid;
	a->verdict = j.verdict;
	a->reason = j.reason;
	a->detail = *j.detail ? strdup(j.detail) : NULL;
	if (!a->evidence && !(a->evidence = calloc(EVIDENCE_MAX, sizeof(*a->evidence))))
		return -ENOMEM;
	for (size_t i = 0; i < j.n_cite; i++)
		diag_evidence_for(d, p, j.cite[i], &a->evidence[a->n_evidence++]);
	a->evidence_omitted = j.n_uncited;
	return 0;
}

/* P, a scanner that ended, loaded a backend file again in a directory
 * probed before it: the latest such scanner per file name. */
static int note_reprobes(Reprobe *rp, size_t *n, size_t max, const Fold *f, const Model *d, const Proc *p,
			 bool borrow)
{
	for (size_t k = 0; p->is_scanner && k < p->n_opens; k++) {
		const Open *o = &p->opens[k];
		char dir[PATH_MAX];
		if (!o->ok || !dir_of(o->path, dir, sizeof(dir)))
			continue;
		bool scanned = false;
		for (char **s = p->scans; s && *s && !scanned; s++)
			scanned = !strcmp(*s, dir);
		const DirAcc *a = scanned ? dir_find(f, dir) : NULL;
		const char *lib = diag_base_name(o->path);
		if (!a || !a->probed || a->first_probe >= p->exec_seq || !diag_loaded_evidence(d, p, o->path))
			continue;
		size_t i = 0;
		while (i < *n && strcmp(rp[i].lib, lib))
			i++;
		if (i == *n) {
			if (*n == max)
				continue;
			rp[i] = (Reprobe){ 0 };
			(*n)++;
		} else if (rp[i].exec_seq > p->exec_seq) {
			continue;
		}
		if (!borrow) {
			free(rp[i].lib);
			free(rp[i].exe);
		}
		rp[i] = (Reprobe){ .lib = borrow ? (char *)lib : strdup(lib), .exec_seq = p->exec_seq,
				   .pid = p->pid, .exe = borrow ? p->exe : p->exe ? strdup(p->exe) : NULL };
		if (!borrow && !rp[i].lib)
			return -ENOMEM;
	}
	return 0;
}

int fold_reduce(Fold *f, const Model *d, const Proc *p)
{
	char root[PATH_MAX];
	bool have_root = d->have_policy && diag_library_root(d, root, sizeof(root));
	int r = 0;
	json_object *dirs = d->have_policy ? runs_of(d, p) : NULL;
	if (d->have_policy && !dirs)
		r = -ENOMEM;
	/* json-c's foreach dereferences what it is given: never NULL */
	if (dirs) {
		json_object_object_foreach(dirs, path, unused)
		{
			(void)unused;
			DirAcc *a = fold_dir(f, path);
			if (!a || (r = fold_run(d, a, p, accelerator_dir(f, d, dir_name(have_root ? root : NULL, path),
									   path))) < 0) {
				r = r < 0 ? r : -ENOMEM;
				break;
			}
		}
	}
	json_object_put(dirs);
	if (r >= 0 && d->have_policy)
		r = note_reprobes(f->reprobes, &f->n_reprobes, REPROBES_MAX, f, d, p, false);
	if (r >= 0 && p->exec_seen) {
		if (!f->done && !(f->done = calloc(PROCS_KEEP + 1, sizeof(*f->done))))
			r = -ENOMEM;
		if (r >= 0) {
			f->done[f->n_done] = (ReportProcess){ 0 };	/* may hold a moved entry's copy */
			r = diag_fill_process(d, p, &f->done[f->n_done++]);
		}
		if (f->n_done > PROCS_KEEP) {
			report_process_done(&f->done[PROCS_HEAD]);
			f->n_done--;
			memmove(&f->done[PROCS_HEAD], &f->done[PROCS_HEAD + 1],
				(f->n_done - PROCS_HEAD) * sizeof(*f->done));
			f->done_omitted++;
		}
	}
	return r;
}

/* ---- rendering ---- */

static DirAcc *dir_copy(const DirAcc *from, const char *path)
{
	DirAcc *a = dir_new(from ? from->path : path);
	if (!a || !from)
		return a;
	for (size_t i = 0; i < from->n_runs; i++) {
		a->runs[i] = (ReportRun){ .pid = from->runs[i].pid, .verdict = strdup(from->runs[i].verdict),
					  .reason = strdup(from->runs[i].reason) };
		a->run_seq[i] = from->run_seq[i];
	}
	a->n_runs = from->n_runs;
	a->runs_omitted = from->runs_omitted;
	a->first_probe = from->first_probe;
	a->probed = from->probed;
	a->libs = calloc(from->n_libs + 1, sizeof(*a->libs));
	a->lib_seq = calloc(from->n_libs + 1, sizeof(*a->lib_seq));
	a->evidence = calloc(EVIDENCE_MAX, sizeof(*a->evidence));
	if (!a->libs || !a->lib_seq || !a->evidence) {
		dir_free(a);
		return NULL;
	}
	for (size_t i = 0; i < from->n_libs; i++) {
		report_library_copy(&from->libs[i], &a->libs[i]);
		a->lib_seq[i] = from->lib_seq[i];
	}
	a->n_libs = from->n_libs;
	a->have_last = from->have_last;
	a->last_exec = from->last_exec;
	a->last_after = from->last_after;
	a->last_pid = from->last_pid;
	a->verdict = from->verdict;
	a->reason = from->reason;
	a->detail = from->detail ? strdup(from->detail) : NULL;
	for (size_t i = 0; i < from->n_evidence; i++)
		report_evidence_copy(&from->evidence[i], &a->evidence[i]);
	a->n_evidence = from->n_evidence;
	a->evidence_omitted = from->evidence_omitted;
	a->loaded_by = from->loaded_by;
	a->loaded_seq = from->loaded_seq;
	return a;
}

static int add_path(json_object *set, const char *path)
{
	return json_object_object_get_ex(set, path, NULL) ? 0 : json_object_object_add(set, path, NULL);
}

typedef struct Dir {
	const char *name, *path;
} Dir;

static int dir_cmp(const void *a, const void *b)
{
	return strcmp(((const Dir *)a)->name, ((const Dir *)b)->name);
}

/* "A/B" into OUT; false when it does not fit. */
static bool join2(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s/%s", a, b);
	return n >= 0 && (size_t)n < size;
}

/* The directories of the report (contract: expected ones and the one a
 * detected platform selects, existing
 * candidates, and every directory a scanner was pointed at or opened a
 * backend in), as keys of SET. */
static int collect_dirs(const Fold *f, const Model *d, const char *root, json_object *set)
{
	char p[PATH_MAX];
	int r = 0;
	for (size_t i = 0; root && r >= 0 && i < d->policy.n_expected; i++)
		if (join2(p, sizeof(p), root, d->policy.expected[i]))
			r = add_path(set, p);
	/* the one directory a detected platform selects is expected too */
	PlatformPick pick;
	diag_platform(d, &pick);
	if (root && r >= 0 && pick.how != PLATFORM_NONE && pick.dir[0] && !strchr(pick.dir, '/') &&
	    strcmp(pick.dir, "..") && strcmp(pick.dir, ".") && join2(p, sizeof(p), root, pick.dir))
		r = add_path(set, p);
	json_object *entries = root ? jarray(d->listing, "entries") : NULL;
	for (size_t i = 0; r >= 0 && i < jlen(entries); i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		const char *name = jstr(e, "name");
		/* a dangling symlink named like a library is no directory */
		if (!name || (!diag_entry_has(e, d->policy.candidate_glob) &&
			      (!jstr(e, "error") || diag_is_backend(d, name))))
			continue;
		if (join2(p, sizeof(p), root, name))
			r = add_path(set, p);
	}
	/* every directory a scanner was pointed at; with "scanner any", one
	 * it opened a backend library in */
	for (size_t i = 0; r >= 0 && i < f->n_dirs; i++)
		if (f->dirs[i]->shown)
			r = add_path(set, f->dirs[i]->path);
	return r < 0 ? -ENOMEM : 0;
}

/* LIVE: directory -> array of the live processes that run on it. */
static json_object *live_runs(const Model *d)
{
	json_object *live = json_object_new_object();
	bool failed = false;
	for (size_t i = 0; live && !failed && i < d->n_procs; i++) {
		json_object *dirs = runs_of(d, d->procs[i]);
		failed = !dirs;
		/* json-c's foreach dereferences what it is given: never NULL */
		if (failed)
			break;
		json_object_object_foreach(dirs, path, unused)
		{
			(void)unused;
			json_object *arr;
			if (!json_object_object_get_ex(live, path, &arr) &&
			    (!(arr = json_object_new_array()) || json_object_object_add(live, path, arr) < 0)) {
				json_object_put(arr);
				failed = true;
				break;
			}
			if (json_object_array_add(arr, json_object_new_int64((int64_t)i)) < 0) {
				failed = true;
				break;
			}
		}
		json_object_put(dirs);
	}
	if (failed) {
		json_object_put(live);
		return NULL;	/* out of memory */
	}
	return live;
}

/* A directory's verdict into RD, moving A's parts. */
static void acc_to_dir(const Model *d, DirAcc *a, const char *name, const Reprobe *rp, size_t n_rp,
		       ReportDirectory *rd)
{
	Judged j = { 0 };
	if (!a->have_last) {
		diag_judge_unscanned(d, name, a->path, &j);
	} else if (a->loaded_by && !strcmp(a->verdict, "loaded") && a->n_libs && !d->policy.kept_regex) {
		/* Loaded, and later scanners were pointed at another directory
		 * holding the same backend and not at this one: dropped (Ollama
		 * keeps cuda_v13 over cuda_v12 when both cover the GPUs). */
		const char *lib = diag_base_name(a->libs[a->n_libs - 1].path);
		for (size_t i = 0; i < n_rp; i++) {
			if (strcmp(rp[i].lib, lib) || rp[i].exec_seq <= a->last_after || rp[i].pid == a->last_pid)
				continue;
			a->verdict = "skipped";
			a->reason = "dropped";
			free(a->detail);
			if (asprintf(&a->detail,
				     "%s loaded in scanner %d, but later scanners (%d) were pointed at "
				     "another directory with %s and not at this one",
				     lib, (int)a->loaded_by, (int)rp[i].pid, lib) < 0)
				a->detail = NULL;
			if (a->n_evidence < EVIDENCE_MAX)
				a->evidence[a->n_evidence++] = (ReportEvidence){
					.seq = rp[i].exec_seq, .pid = rp[i].pid, .event = strdup("exec"),
					.path = rp[i].exe ? strdup(rp[i].exe) : NULL,
				};
			else
				a->evidence_omitted++;
		}
	}
	rd->runs = a->runs;
	rd->n_runs = a->n_runs;
	rd->runs_omitted = a->runs_omitted;
	a->runs = NULL;
	a->n_runs = 0;
	rd->libraries = a->libs;
	rd->n_libraries = a->n_libs;
	a->libs = NULL;
	a->n_libs = 0;
	if (a->have_last) {
		rd->verdict = strdup(a->verdict);
		rd->reason = strdup(a->reason);
		rd->detail = TAKE_PTR(a->detail);
		rd->evidence = TAKE_PTR(a->evidence);
		rd->n_evidence = a->n_evidence;
		rd->evidence_omitted = a->evidence_omitted;
		a->n_evidence = 0;
		return;
	}
	rd->verdict = strdup(j.verdict);
	rd->reason = strdup(j.reason);
	rd->detail = *j.detail ? strdup(j.detail) : NULL;
	rd->evidence = calloc(j.n_cite ? j.n_cite : 1, sizeof(*rd->evidence));
	for (size_t i = 0; rd->evidence && i < j.n_cite; i++)
		diag_evidence_for(d, NULL, j.cite[i], &rd->evidence[rd->n_evidence++]);
	rd->evidence_omitted = j.n_uncited;
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = ((const ReportEvidence *)a)->seq, y = ((const ReportEvidence *)b)->seq;
	return x < y ? -1 : x > y;
}

int fold_directories(const Fold *f, const Model *d, Report *r)
{
	if (!d->have_policy || (d->policy.server_name && !d->server))
		return 0;
	char root[PATH_MAX];
	bool have_root = diag_library_root(d, root, sizeof(root));
	_cleanup_(json_object_putp) json_object *live = live_runs(d);
	_cleanup_(json_object_putp) json_object *set = json_object_new_object();
	/* the live scanners' re-probes join the folded ones */
	Reprobe rp[REPROBES_MAX];
	size_t n_rp = f->n_reprobes;
	memcpy(rp, f->reprobes, n_rp * sizeof(*rp));
	for (size_t i = 0; i < d->n_procs; i++)
		(void)note_reprobes(rp, &n_rp, REPROBES_MAX, f, d, d->procs[i], true);
	if (!live || !set || collect_dirs(f, d, have_root ? root : NULL, set) < 0)
		return -ENOMEM;
	size_t n = (size_t)json_object_object_length(set), k = 0;
	_cleanup_free_ Dir *dirs = calloc(n ? n : 1, sizeof(*dirs));
	r->directories = calloc(n ? n : 1, sizeof(*r->directories));
	if (!dirs || !r->directories)
		return -ENOMEM;
	json_object_object_foreach(set, path, unused)
	{
		(void)unused;
		dirs[k].path = path;
		dirs[k++].name = dir_name(have_root ? root : NULL, path);
	}
	qsort(dirs, n, sizeof(*dirs), dir_cmp);
	for (size_t i = 0; i < n; i++) {
		DirAcc *a = dir_copy(dir_find(f, dirs[i].path), dirs[i].path);
		if (!a)
			return -ENOMEM;
		json_object *procs;
		bool accel = accelerator_dir(f, d, dirs[i].name, dirs[i].path);
		if (json_object_object_get_ex(live, dirs[i].path, &procs))
			for (size_t k2 = 0; k2 < jlen(procs); k2++) {
				const Proc *p = d->procs[json_object_get_int64(json_object_array_get_idx(procs, k2))];
				(void)fold_run(d, a, p, accel);
			}
		ReportDirectory *rd = &r->directories[r->n_directories++];
		rd->name = strdup(dirs[i].name);
		rd->path = strdup(dirs[i].path);
		acc_to_dir(d, a, dirs[i].name, rp, n_rp, rd);
		dir_free(a);
	}
	diag_apply_kept(d, r);
	for (size_t i = 0; i < r->n_directories; i++) {
		ReportDirectory *rd = &r->directories[i];
		/* in the order they happened, whatever order they were cited in */
		if (rd->n_evidence > 1)
			qsort(rd->evidence, rd->n_evidence, sizeof(*rd->evidence), by_seq);
		diag_cause(&r->directories[i]);
		diag_next(d, r, &r->directories[i]);
	}
	return 0;
}

void fold_done(Fold *f)
{
	for (size_t i = 0; i < f->n_done; i++)
		report_process_done(&f->done[i]);
	free(f->done);
	for (size_t i = 0; i < f->n_dirs; i++)
		dir_free(f->dirs[i]);
	free(f->dirs);
	for (size_t i = 0; i < f->n_reprobes; i++) {
		free(f->reprobes[i].lib);
		free(f->reprobes[i].exe);
	}
	json_object_put(f->dir_index);
	json_object_put(f->accel_dirs);
	*f = (Fold){ 0 };
}
