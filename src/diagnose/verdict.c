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

#include "base/cleanup.h"
#include "base/path.h"
#include "diagnose/loader.h"
#include "diagnose/verdict.h"



void diag_cite(Judged *j, uint64_t seq)
{
	for (size_t i = 0; i < j->n_cite; i++)
		if (j->cite[i] == seq)
			return;
	if (seq && j->n_cite < EVIDENCE_MAX)
		j->cite[j->n_cite++] = seq;
	else if (seq)
		j->n_uncited++;
}

void diag_set(Judged *j, const char *verdict, const char *reason)
{
	j->verdict = verdict;
	j->reason = reason;
}

/* Was LIB still mapped when P ended, or named by the policy's "loaded"
 * line in P's output?  Returns the evidence seq (or 1 for mappings). */
uint64_t diag_loaded_evidence(const Model *d, const Proc *p, const char *lib)
{
	for (size_t i = 0; i < p->n_output; i++) {
		char g[PATH_MAX];
		if (diag_regex_line(d, d->policy.loaded_regex, p->output[i].text, g, sizeof(g)) && !strcmp(g, lib))
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

static Window window_of(const Model *d, const Proc *p, const char *dir, uint64_t first)
{
	Window w = { first, UINT64_MAX };
	for (size_t i = 0; i < p->n_opens; i++) {
		const Open *o = &p->opens[i];
		if (o->seq > first && !diag_in_dir(o->path, dir) && diag_is_backend(d, diag_base_name(o->path))) {
			w.to = o->seq;
			break;
		}
	}
	return w;
}

/* The scanner crashed, or was killed past the probe timeout, while it was
 * on this directory (window W). */
static bool judge_process_end(const Model *d, const Proc *p, const Window *w, Judged *j)
{
	/* A crash signal that was handled and survived is no crash: it
	 * counts when the process then died of it or exited (Go's runtime
	 * exits 2 after a crash in C code). */
	bool died_of_it = p->ended && (!p->exit_signaled || !strcmp(p->exit_signal, p->fatal_signal ? p->fatal_signal : ""));
	if (p->fatal_signal && in_window(w, p->fatal_seq) && died_of_it) {
		diag_set(j, "failed", "scanner-crashed");
		if (p->exit_signaled)
			snprintf(j->detail, sizeof(j->detail), "%s delivered to scanner %d, which died of %s",
				 p->fatal_signal, (int)p->pid, p->exit_signal);
		else
			snprintf(j->detail, sizeof(j->detail),
				 "%s delivered to scanner %d, which then exited with code %d", p->fatal_signal,
				 (int)p->pid, p->exit_code);
		diag_cite(j, p->fatal_seq);
		diag_cite(j, p->crash_stack_seq);
		diag_cite(j, p->exit_seq);
		return true;
	}
	/* The parent's clock starts a little before it creates the child:
	 * a kill at 98% of the timeout after the fork is the timeout. */
	uint64_t limit = d->policy.probe_timeout_ns;
	if (limit && p->killer && p->killer == p->ppid && in_window(w, p->kill_seq) &&
	    p->kill_ns >= p->start_ns + limit / 100 * 98) {
		diag_set(j, "failed", "scanner-timeout");
		snprintf(j->detail, sizeof(j->detail),
			 "scanner %d was killed (%s) by its parent %.1f s after it started (probe timeout %.1f s)",
			 (int)p->pid, p->kill_signal, (double)(p->kill_ns - p->start_ns) / 1e9,
			 (double)limit / 1e9);
		diag_cite(j, p->kill_seq);
		return true;
	}
	return false;
}

#define SYMBOLS_READ_MAX 16	/* list items read of a symbols event (vgpu-run writes 16) */

/* A load-error explained by the symbol check of LIB (its observe/symbols
 * event SYM): the versions its closure needs that the providers lack, the
 * symbols no library in scope defines, or neither.  Fills J's detail and
 * library lists; false when SYM is not usable. */
static bool explain_load_error(const char *lib, json_object *sym, Judged *j)
{
	json_object *vers = jarray(sym, "versions"), *unres = jarray(sym, "unresolved");
	/* a load that stopped at a missing library was not checked further */
	if (!vers || !unres || jlen(jarray(sym, "missing")) || jnum(sym, "missing_total", 0))
		return false;
	size_t nv = (size_t)jnum(sym, "versions_total", 0), nu = (size_t)jnum(sym, "unresolved_total", 0);
	size_t len = 0, size = sizeof(j->detail);
	char *out = j->detail;
	out[0] = '\0';
	for (size_t i = 0; i < jlen(vers) && i < SYMBOLS_READ_MAX; i++) {
		json_object *v = json_object_array_get_idx(vers, i);
		const char *ver = jstr(v, "version"), *of = jstr(v, "library"), *path = jstr(v, "path"),
			   *by = jstr(v, "needed_by");
		if (!ver || !of || !path || !by)
			continue;
		char entry[600];
		snprintf(entry, sizeof(entry), "%s of %s", ver, of);
		(void)strv_push(&j->lib.versions, entry);
		if (len < size)
			len += (size_t)snprintf(out + len, size - len, "%s%s needs version %s of %s, which %s lacks",
						len ? "; " : "", diag_base_name(by), ver, of, path);
	}
	if (nv > jlen(vers) && len < size)
		len += (size_t)snprintf(out + len, size - len, " (%zu versions missing in all)", nv);
	/* "libggml-cuda.so needs symbol X, which no library the scanner had
	 * loaded defines (3 in all: X, Y, Z)" */
	size_t named = 0;
	for (size_t i = 0; i < jlen(unres) && i < SYMBOLS_READ_MAX; i++) {
		json_object *u = json_object_array_get_idx(unres, i);
		const char *name = jstr(u, "symbol"), *by = jstr(u, "needed_by");
		if (!name || !by)
			continue;
		(void)strv_push(&j->lib.unresolved, name);
		if (len >= size)
			continue;
		if (!named++)
			len += (size_t)snprintf(out + len, size - len,
						"%s%s needs symbol %s, which no library the scanner had loaded defines",
						len ? "; " : "", diag_base_name(by), name);
	}
	if ((named > 1 || nu > named) && len < size) {
		len += (size_t)snprintf(out + len, size - len, " (%zu in all: ", nu > named ? nu : named);
		for (size_t i = 0; len < size && i < named && j->lib.unresolved && j->lib.unresolved[i]; i++)
			len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", j->lib.unresolved[i]);
		if (len < size)
			len += (size_t)snprintf(out + len, size - len, "%s)", nu > named ? ", ..." : "");
	}
	if (!len)
		snprintf(out, size,
			 "%s and its dependencies were found, and every symbol and version they need is defined: "
			 "the load was rolled back by a failing initialiser or a backend that registered nothing",
			 diag_base_name(lib));
	return true;
}

/* The loader stops at the first library it cannot find; the symbol check
 * (SYM) searched for the rest of the closure as it would: those found
 * nowhere are missing too, said after the search. */
static void add_established_missing(json_object *sym, Judged *j)
{
	json_object *more = jarray(sym, "missing");
	size_t len = strlen(j->detail), added = 0;
	/* a trace may hold anything: its first few names only, each checked */
	for (size_t i = 0; i < jlen(more) && i < SYMBOLS_READ_MAX; i++) {
		json_object *v = json_object_array_get_idx(more, i);
		const char *name = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		if (!name || !*name)
			continue;
		bool known = false;
		for (char **m = j->lib.missing; m && *m && !known; m++)
			known = !strcmp(*m, name);
		if (!name || known || strv_push(&j->lib.missing, name) < 0)
			continue;
		if (len < sizeof(j->detail))
			len += (size_t)snprintf(j->detail + len, sizeof(j->detail) - len, "%s%s",
						added++ ? ", " : "\nalso missing (the loader stops at the first; none of "
								 "the places it searches has them): ", name);
	}
	size_t total = (size_t)jnum(sym, "missing_total", 0);
	if (added && total > jlen(more) && len < sizeof(j->detail))
		snprintf(j->detail + len, sizeof(j->detail) - len, " (%zu in all)", total);
}

static void judge_not_loaded(const Model *d, const Proc *p, const Open *o, Judged *j)
{
	json_object *elf;
	json_object_object_get_ex(d->elf, o->path, &elf);
	const char *err = jstr(elf, "error");
	json_object *cls;
	int elf_class = elf && json_object_object_get_ex(elf, "class", &cls) ? json_object_get_int(cls) : 64;
	const char *machine = jstr(elf, "machine");
	if (err || elf_class != 64 || (machine && strcmp(machine, d->arch->elf_name))) {
		diag_set(j, "failed", "bad-library");
		if (err)
			snprintf(j->detail, sizeof(j->detail), "%s: %s", diag_base_name(o->path),
				 !strcmp(err, "not-elf") ? "not an ELF file" : err);
		else
			snprintf(j->detail, sizeof(j->detail), "%s: ELF class %d, machine %s; this is %s",
				 diag_base_name(o->path), elf_class, machine ? machine : "?", d->arch->elf_name);
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
		.cwd = p->cwd, .arch = d->arch,
	};
	LoaderResult res = { 0 };
	if (loader_reconstruct(&in, &res) >= 0 && res.missing) {
		diag_set(j, "failed", "missing-dependency");
		loader_describe(&in, &res, j->detail, sizeof(j->detail));
		j->lib.outcome = strdup("failed");
		j->lib.missing = TAKE_PTR(res.missing);
		j->lib.searched = TAKE_PTR(res.searched);
		diag_cite(j, res.first_missing_seq);
		diag_cite(j, res.last_missing_seq);
		json_object *sym = NULL;
		json_object_object_get_ex(d->symbols, o->path, &sym);
		add_established_missing(sym, j);
	} else if (res.bad) {
		diag_set(j, "failed", "bad-library");
		snprintf(j->detail, sizeof(j->detail), "%s needs %s, which is not a loadable %s library",
			 diag_base_name(o->path), res.bad[0], d->arch->elf_name);
		j->lib.outcome = strdup("failed");
	} else {
		diag_set(j, "failed", "load-error");
		json_object *sym = NULL;
		json_object_object_get_ex(d->symbols, o->path, &sym);
		if (!sym || !explain_load_error(o->path, sym, j))
			snprintf(j->detail, sizeof(j->detail),
				 "%s and its dependencies were found, but the load was rolled back "
				 "(an unresolved symbol, a failing initialiser, or a backend that registered nothing)",
				 diag_base_name(o->path));
		else
			diag_cite(j, (uint64_t)jnum(sym, "seq", 0));
		j->lib.outcome = strdup("unloaded");
	}
	loader_result_done(&res);
}

/* One scanner run P of directory DIR. */
static void judge_run(const Model *d, const Proc *p, const char *dir, bool accel_dir, Judged *j)
{
	/* FIRST: any backend open here; LIB: the judged library (the first
	 * accelerator opened, or for a CPU directory the variant that stayed
	 * loaded); FAILED: an open of the judged kind that failed. */
	const Open *first = NULL, *lib = NULL, *failed = NULL;
	for (size_t i = 0; i < p->n_opens; i++) {
		const Open *o = &p->opens[i];
		const char *b = diag_base_name(o->path);
		if (!diag_in_dir(o->path, dir) || !diag_is_backend(d, b))
			continue;
		bool cpu = d->policy.cpu_glob && !fnmatch(d->policy.cpu_glob, b, 0);
		if (!first)
			first = o;
		if (cpu == accel_dir)
			continue;
		if (!o->ok && !failed)
			failed = o;
		if (o->ok && (!lib || (!accel_dir && diag_loaded_evidence(d, p, o->path))))
			lib = o;
	}
	diag_cite(j, p->exec_seq);
	diag_cite(j, p->inject_seq);	/* the shim that went into it, if any */
	if (!first) {
		diag_set(j, "skipped", "never-scanned");
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
		diag_set(j, "skipped", "never-scanned");
		snprintf(j->detail, sizeof(j->detail),
			 "scanner %d was pointed at %s but opened no backend library of its kind in it",
			 (int)p->pid, dir);
		if (failed) {
			diag_set(j, "failed", "bad-library");
			snprintf(j->detail, sizeof(j->detail), "%s: open failed: %s", diag_base_name(failed->path),
				 failed->result ? failed->result : "?");
			diag_cite(j, failed->seq);
		}
		return;
	}
	j->have_lib = true;
	j->lib.path = strdup(lib->path);
	diag_cite(j, lib->seq);
	const char *b = diag_base_name(lib->path);
	/* "libggml-cuda.so" -> "cuda", "libggml-cpu-haswell.so" -> "cpu" */
	char backend[64];
	snprintf(backend, sizeof(backend), "%s", strncmp(b, "libggml-", 8) ? b : b + 8);
	backend[strcspn(backend, "-.")] = '\0';
	j->lib.backend = strdup(backend);

	uint64_t ev = diag_loaded_evidence(d, p, lib->path);
	if (!ev) {
		judge_not_loaded(d, p, lib, j);
		return;
	}
	diag_cite(j, ev > 1 ? ev : 0);
	j->lib.outcome = strdup("loaded");
	/* the backend's own complaint comes while it initialises: here */
	for (size_t i = 0; accel_dir && i < p->n_output; i++)
		for (size_t k = 0; in_window(&w, p->output[i].seq) && k < d->policy.n_init_failed; k++)
			if (diag_regex_line(d, d->policy.init_failed[k], p->output[i].text, NULL, 0)) {
				diag_set(j, "failed", "init-failed");
				snprintf(j->detail, sizeof(j->detail), "%s loaded, but: %.*s", b,
					 (int)strcspn(p->output[i].text, "\n"), p->output[i].text);
				diag_cite(j, p->output[i].seq);
				return;
			}
	diag_set(j, "loaded", "loaded");
}

void diag_judge_run(const Model *d, const Proc *p, const char *dir, bool accel_dir, Judged *j)
{
	judge_run(d, p, dir, accel_dir, j);
	/* A run still going where the trace ends (a rewrite while the server
	 * runs, a trace cut by kill -9) has only its "loaded" to say: that a
	 * backend is not open yet, or no longer mapped, says nothing yet. */
	if (d->complete || p->ended || !strcmp(j->verdict, "loaded"))
		return;
	diag_set(j, "skipped", "not-reached");
	snprintf(j->detail, sizeof(j->detail),
		 "scanner %d was still running on %s where the trace ends (event %llu): no verdict yet",
		 (int)p->pid, dir, (unsigned long long)d->last_seq);
	j->n_cite = j->n_uncited = 0;
	diag_cite(j, p->exec_seq);
	if (j->have_lib) {
		free(j->lib.outcome);
		j->lib.outcome = NULL;
	}
}

/* filter-platform: a detected platform keeps only its directory; without
 * one, the platform's own directories (GLOB) are left out. */
static bool judge_platform(const Model *d, const PolicyFilter *f, const char *name, Judged *j)
{
	PlatformPick pick;
	diag_platform(d, &pick);
	const char *base = diag_base_name(name);
	if (pick.how != PLATFORM_NONE ? !strcmp(base, pick.dir) : fnmatch(f->glob, base, 0) != 0)
		return false;
	/* a platform named by a variable is an environment setting */
	diag_set(j, "skipped", pick.how == PLATFORM_BY_ENV ? "filtered-by-env" : "filtered-by-platform");
	snprintf(j->detail, sizeof(j->detail), "%s", pick.why);
	diag_cite(j, pick.seq);
	return true;
}

static bool judge_filters(const Model *d, const char *name, Judged *j)
{
	const Proc *server = d->server;
	for (size_t i = 0; i < d->policy.n_filters; i++) {
		const PolicyFilter *f = &d->policy.filters[i];
		if (f->kind == POLICY_FILTER_PLATFORM) {
			if (!judge_platform(d, f, name, j))
				continue;
			if (server)
				diag_cite(j, server->exec_seq);
			return true;
		}
		const char *raw = diag_env(server, f->var);
		char v[256];
		diag_env_trimmed(raw ? raw : "", v, sizeof(v));
		if (f->kind == POLICY_FILTER_SELECT && *v && strcmp(v, diag_base_name(name))) {
			diag_set(j, "skipped", "filtered-by-env");
			snprintf(j->detail, sizeof(j->detail), "%s=%s", f->var, raw);
		} else if (f->kind == POLICY_FILTER_ENABLE && !fnmatch(f->glob, diag_base_name(name), 0) &&
			   !diag_env_true(v)) {
			diag_set(j, "skipped", "filtered-by-env");
			if (raw)
				snprintf(j->detail, sizeof(j->detail), "%s=%s", f->var, raw);
			else
				snprintf(j->detail, sizeof(j->detail), "%s unset", f->var);
		} else {
			continue;
		}
		if (server)
			diag_cite(j, server->exec_seq);
		return true;
	}
	return false;
}

/* A directory no scanner ran on: why not. */
void diag_judge_unscanned(const Model *d, const char *name, const char *path, Judged *j)
{
	json_object *e = strcmp(name, ".") ? diag_listing_entry(d, name) : NULL;
	uint64_t lseq = d->listing ? (uint64_t)json_object_get_int64(
					     json_object_object_get(d->listing, "seq"))
				   : 0;
	/* a root that could not be listed (it stalled, or was refused) says
	 * nothing of what is in it: only a missing root means missing
	 * directories */
	const char *root_err = d->listing ? jstr(d->listing, "error") : NULL;
	if (root_err && strcmp(root_err, "ENOENT") && strcmp(root_err, "ENOTDIR")) {
		diag_set(j, "skipped", "unreadable");
		snprintf(j->detail, sizeof(j->detail), "%s: the library root %s could not be listed: %s", path,
			 jstr(d->listing, "path") ? jstr(d->listing, "path") : "", root_err);
		diag_cite(j, lseq);
		return;
	}
	if (d->listing && strcmp(name, ".") && !e) {
		diag_set(j, "absent", "no-such-directory");
		snprintf(j->detail, sizeof(j->detail), "%s does not exist", path);
		return;
	}
	const char *err = jstr(e, "error"), *type = jstr(e, "type");
	if (err || (type && strcmp(type, "dir"))) {
		diag_set(j, "skipped", "unreadable");
		snprintf(j->detail, sizeof(j->detail), "%s: %s%s%s", path, err ? err : "ENOTDIR",
			 jstr(e, "target") ? " (symlink to " : "", jstr(e, "target") ? jstr(e, "target") : "");
		if (jstr(e, "target"))
			strncat(j->detail, ")", sizeof(j->detail) - strlen(j->detail) - 1);
		diag_cite(j, lseq);
		return;
	}
	if (e && !diag_entry_has(e, d->policy.candidate_glob)) {
		diag_set(j, "absent", "no-backend-library");
		snprintf(j->detail, sizeof(j->detail), "%s holds no file matching %s", path,
			 d->policy.candidate_glob);
		diag_cite(j, lseq);
		return;
	}
	if (judge_filters(d, name, j))
		return;
	if (!d->complete) {
		diag_set(j, "skipped", "not-reached");
		snprintf(j->detail, sizeof(j->detail),
			 "the trace ends at event %llu, before any scanner was pointed at %s",
			 (unsigned long long)d->last_seq, path);
		return;
	}
	diag_set(j, "skipped", "never-scanned");
	snprintf(j->detail, sizeof(j->detail), "no scanner was pointed at %s and no process opened a file in it",
		 path);
	diag_cite(j, lseq);
}

