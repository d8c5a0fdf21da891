/* The symbol and version check of backends that were not kept (see
 * symbols.h). */
#include "observe/symbols.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/hostarch.h"
#include "base/path.h"
#include "observe/elf-facts.h"
#include "observe/files.h"
#include "observe/ldcache.h"
#include "observe/observe.h"

#define LIBS_PER_PROC_MAX 1024	/* library opens remembered per process */
#define PROC_BUCKETS 256
#define CHECKED_MAX 4096	/* backend paths checked per run */
#define CLOSURE_MAX 256		/* libraries in one backend's closure */
#define CHECKS_PER_END 16	/* backends checked at one process end */

/* A library a process opened: the name it asked for, the file it got (a
 * redirected open gets the shim). */
typedef struct Lib {
	char *name;		/* basename asked for */
	char *file;
} Lib;

typedef struct Proc {
	pid_t pid;
	char *exe;
	char *cwd;		/* an empty path element means it */
	char *ld_library_path;	/* recorded at its exec; NULL: unset or ignored (AT_SECURE) */
	Lib *libs;
	size_t n_libs;
	bool truncated;		/* past LIBS_PER_PROC_MAX: no check */
	struct Proc *next;
} Proc;

struct SymbolWatch {
	const Policy *policy;
	const LdCache *ldcache;
	Worker *worker;		/* every look at a tracee's file: files.h */
	Proc *buckets[PROC_BUCKETS];
	char **checked;		/* backend paths checked (a run checks each once) */
	size_t n_checked;
};

int symbol_watch_new(const Policy *policy, const LdCache *ldcache, Worker *worker, SymbolWatch **ret)
{
	SymbolWatch *sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	sw->policy = policy;
	sw->ldcache = ldcache;
	sw->worker = worker;
	*ret = sw;
	return 0;
}

static void proc_free(Proc *p)
{
	for (size_t i = 0; i < p->n_libs; i++) {
		free(p->libs[i].name);
		free(p->libs[i].file);
	}
	free(p->libs);
	free(p->exe);
	free(p->cwd);
	free(p->ld_library_path);
	free(p);
}

SymbolWatch *symbol_watch_free(SymbolWatch *sw)
{
	if (!sw)
		return NULL;
	for (size_t i = 0; i < PROC_BUCKETS; i++)
		for (Proc *p = sw->buckets[i], *next; p; p = next) {
			next = p->next;
			proc_free(p);
		}
	for (size_t i = 0; i < sw->n_checked; i++)
		free(sw->checked[i]);
	free(sw->checked);
	free(sw);
	return NULL;
}

static Proc **slot(SymbolWatch *sw, pid_t pid)
{
	Proc **pp = &sw->buckets[(unsigned)pid % PROC_BUCKETS];
	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static Proc *proc_get(SymbolWatch *sw, pid_t pid)
{
	Proc **pp = slot(sw, pid);
	if (!*pp && (*pp = calloc(1, sizeof(**pp))))
		(*pp)->pid = pid;
	return *pp;
}

static void proc_drop(SymbolWatch *sw, pid_t pid)
{
	Proc **pp = slot(sw, pid), *p = *pp;
	if (p) {
		*pp = p->next;
		proc_free(p);
	}
}

static int remember(Proc *p, const char *path, const char *file)
{
	const char *name = path_base_name(path);
	/* a scanner opens the same files again per probe: a repeat among
	 * the last 64 is dropped, which keeps the cost of an open bounded */
	for (size_t i = p->n_libs; i-- > 0 && i + 64 >= p->n_libs;)
		if (!strcmp(p->libs[i].file, file))
			return 0;
	if (p->n_libs >= LIBS_PER_PROC_MAX) {
		p->truncated = true;
		return 0;
	}
	Lib *l = realloc(p->libs, (p->n_libs + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	p->libs = l;
	l[p->n_libs] = (Lib){ strdup(name), strdup(file) };
	if (!l[p->n_libs].name || !l[p->n_libs].file) {
		free(l[p->n_libs].name);
		free(l[p->n_libs].file);
		return -ENOMEM;
	}
	p->n_libs++;
	return 0;
}

/* The file P got for NAME (the last one opened), or NULL. */
static const char *provider(const Proc *p, const char *name)
{
	for (size_t i = p->n_libs; i-- > 0;)
		if (!strcmp(p->libs[i].name, name))
			return p->libs[i].file;
	return NULL;
}

static bool mapped(Worker *w, const TracerMapsEvent *m, const char *file)
{
	char real[PATH_MAX];
	const char *f = files_realpath(w, file, real, sizeof(real)) >= 0 ? real : file;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->files[i], f) || !strcmp(m->files[i], file))
			return true;
	return false;
}

static bool checked_before(SymbolWatch *sw, const char *file)
{
	for (size_t i = 0; i < sw->n_checked; i++)
		if (!strcmp(sw->checked[i], file))
			return true;
	return false;
}

static int mark_checked(SymbolWatch *sw, const char *file)
{
	char **c = realloc(sw->checked, (sw->n_checked + 1) * sizeof(*c));
	if (!c)
		return -ENOMEM;
	sw->checked = c;
	if (!(c[sw->n_checked] = strdup(file)))
		return -ENOMEM;
	sw->n_checked++;
	return 0;
}

/* What one check needs of every library the process opened, read once per
 * process end however many backends it checks. */
typedef struct Scope {
	const char **files;	/* the exe and each library opened */
	ElfSymbols *syms;
	bool *read_ok;
	size_t n;
} Scope;

static void scope_done(Scope *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->read_ok[i])
			elf_symbols_done(&s->syms[i]);
	free(s->files);
	free(s->syms);
	free(s->read_ok);
	*s = (Scope){ 0 };
}

static bool scope_has(const Scope *s, const char *file)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->files[i], file))
			return true;
	return false;
}

/* The exe, every library P opened, and every file it still maps (the
 * dynamic linker itself, which the kernel maps and no one opens). */
static int scope_load(const SymbolWatch *sw, const Proc *p, const TracerMapsEvent *m, Scope *s)
{
	size_t n = p->n_libs + m->n + 1;
	s->files = calloc(n, sizeof(*s->files));
	s->syms = calloc(n, sizeof(*s->syms));
	s->read_ok = calloc(n, sizeof(*s->read_ok));
	if (!s->files || !s->syms || !s->read_ok)
		return -ENOMEM;
	if (p->exe)
		s->files[s->n++] = p->exe;
	for (size_t i = 0; i < p->n_libs; i++)
		if (!scope_has(s, p->libs[i].file))
			s->files[s->n++] = p->libs[i].file;
	for (size_t i = 0; i < m->n; i++)
		if (*m->files[i] == '/' && !scope_has(s, m->files[i]))
			s->files[s->n++] = m->files[i];
	for (size_t i = 0; i < s->n; i++) {
		int r = files_elf_symbols(sw->worker, s->files[i], &s->syms[i]);
		if (r == -ENOMEM)
			return r;
		bool partial = r >= 0 && s->syms[i].truncated;
		if (partial)
			elf_symbols_done(&s->syms[i]);	/* not read whole: it says nothing */
		s->read_ok[i] = r >= 0 && !partial;
	}
	return 0;
}

static const ElfSymbols *scope_symbols(const Scope *s, const char *file)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->files[i], file))
			return s->read_ok[i] ? &s->syms[i] : NULL;
	return NULL;
}

static bool scope_defines(const Scope *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->read_ok[i] && elf_symbols_defines(&s->syms[i], name))
			return true;
	return false;
}

/* Is there a file NAME in DIR, or in the glibc-hwcaps subdirectories glibc
 * tries first?  The found path into OUT. */
static bool in_dir(Worker *w, const char *dir, const char *name, char *out, size_t size)
{
	const char *const *hwcaps = hostarch_native()->hwcaps;
	struct stat st;
	for (size_t i = 0; hwcaps[i]; i++) {
		int n = snprintf(out, size, "%s/%s%s", dir, hwcaps[i], name);
		if (n > 0 && (size_t)n < size && files_stat(w, out, &st) == 0 && S_ISREG(st.st_mode))
			return true;
	}
	return false;
}

/* A colon-separated LIST of directories ($ORIGIN: ORIGIN; empty: CWD). */
#define LIST_ELEMENTS_MAX 64	/* search path elements looked in, per list */

static bool in_list(Worker *w, const char *list, const char *origin, const char *cwd, const char *name, char *out,
		    size_t size)
{
	char dir[PATH_MAX];
	unsigned n = 0;
	for (const char *c = list; c && n++ < LIST_ELEMENTS_MAX;) {
		size_t len = strcspn(c, ":");
		if (len == 0)
			snprintf(dir, sizeof(dir), "%s", cwd);
		else if (!strncmp(c, "$ORIGIN", 7) && (len == 7 || c[7] == '/'))
			snprintf(dir, sizeof(dir), "%s%.*s", origin, (int)(len - 7), c + 7);
		else if (!strncmp(c, "${ORIGIN}", 9) && (len == 9 || c[9] == '/'))
			snprintf(dir, sizeof(dir), "%s%.*s", origin, (int)(len - 9), c + 9);
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)len, c);
		/* a relative element is relative to the process's working
		 * directory (none when it was removed), not to ours */
		char rel[PATH_MAX];
		if (dir[0] != '/' && *cwd && snprintf(rel, sizeof(rel), "%s/%s", cwd, dir) < (int)sizeof(rel))
			snprintf(dir, sizeof(dir), "%s", rel);
		if (dir[0] == '/' && in_dir(w, dir, name, out, size))
			return true;
		c = c[len] ? c + len + 1 : NULL;
	}
	return false;
}

/* Where the dynamic linker would find NAME, needed by the library FILE
 * (facts F), for process P: its RPATH (without RUNPATH), LD_LIBRARY_PATH,
 * RUNPATH, ld.so.cache, the default directories.  A name the loader never
 * got to (it stops at the first it cannot find) is established missing
 * only when none of these has it. */
static bool search(const SymbolWatch *sw, const Proc *p, const char *file, const ElfFacts *f, const char *name,
		   char *out, size_t size)
{
	char origin[PATH_MAX];
	snprintf(origin, sizeof(origin), "%s", file);
	char *slash = strrchr(origin, '/');
	if (slash)
		*slash = '\0';
	const char *cwd = p->cwd ? p->cwd : "/";
	if ((f->rpath && !f->runpath && in_list(sw->worker, f->rpath, origin, cwd, name, out, size)) ||
	    (p->ld_library_path && *p->ld_library_path && in_list(sw->worker, p->ld_library_path, origin, cwd, name, out, size)) ||
	    (f->runpath && in_list(sw->worker, f->runpath, origin, cwd, name, out, size)))
		return true;
	const char *cached = sw->ldcache ? ldcache_lookup(sw->ldcache, name) : NULL;
	struct stat st;
	if (cached && files_stat(sw->worker, cached, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(out, size, "%s", cached);
		return true;
	}
	for (const char *const *d = hostarch_native()->default_dirs; *d; d++)
		if (in_dir(sw->worker, *d, name, out, size))
			return true;
	return false;
}

/* A backend's closure: what P opened for each NEEDED name, breadth first
 * (REACHED, the first N_REACHED of FILES), then the files the loader never
 * got to that its search would find (read for their own NEEDED only).
 * Names found nowhere go to MISSING.  False when a member cannot be read
 * whole (then nothing is said). */
typedef struct Closure {
	const char *files[CLOSURE_MAX];
	char *found[CLOSURE_MAX];	/* owned copies for files not opened */
	bool reached[CLOSURE_MAX];
	ElfFacts facts[CLOSURE_MAX];
	size_t n;
	char *missing[SYMBOLS_LIST_MAX];
	size_t n_missing, missing_total;
} Closure;

static void closure_done(Closure *c)
{
	for (size_t i = 0; i < c->n; i++) {
		elf_facts_done(&c->facts[i]);
		free(c->found[i]);
	}
	for (size_t i = 0; i < c->n_missing; i++)
		free(c->missing[i]);
}

static bool closure_has(const Closure *c, const char *file)
{
	for (size_t j = 0; j < c->n; j++)
		if (!strcmp(c->files[j], file))
			return true;
	return false;
}

static int add_missing(Closure *c, const char *name)
{
	for (size_t j = 0; j < c->n_missing; j++)
		if (!strcmp(c->missing[j], name))
			return 0;
	c->missing_total++;
	if (c->n_missing == SYMBOLS_LIST_MAX)
		return 0;
	return (c->missing[c->n_missing++] = strdup(name)) ? 0 : -ENOMEM;
}

static int closure_of(const SymbolWatch *sw, const Proc *p, const char *backend, Closure *c)
{
	c->files[0] = backend;
	c->reached[0] = true;
	if (files_elf_facts(sw->worker, backend, &c->facts[0]) < 0 || c->facts[0].truncated) {
		c->n = c->facts[0].truncated ? 1 : 0;
		return 0;
	}
	c->n = 1;
	for (size_t i = 0; i < c->n; i++)
		for (size_t k = 0; k < c->facts[i].n_needed; k++) {
			const char *name = c->facts[i].needed[k], *f = c->reached[i] ? provider(p, name) : NULL;
			char where[PATH_MAX];
			if (!f && !search(sw, p, c->files[i], &c->facts[i], name, where, sizeof(where))) {
				if (add_missing(c, name) < 0)
					return -ENOMEM;
				continue;
			}
			if (closure_has(c, f ? f : where))
				continue;
			if (c->n == CLOSURE_MAX)
				return 0;
			size_t m = c->n;
			if (!f && !(c->found[m] = strdup(where)))
				return -ENOMEM;
			c->files[m] = f ? f : c->found[m];
			c->reached[m] = f != NULL;
			if (files_elf_facts(sw->worker, c->files[m], &c->facts[m]) < 0) {
				free(c->found[m]);
				c->found[m] = NULL;
				return 0;
			}
			c->n++;
			if (c->facts[m].truncated)
				return 0;
		}
	return 1;
}

/* The undefined symbols and version needs of the members P opened
 * (a load that stopped at a missing library got no further: then only
 * MISSING is said). */
static void write_symbols(JsonWriter *w, const Proc *p, const Scope *scope, const Closure *c)
{
	size_t total = 0, listed = 0;
	bool resolve = c->missing_total == 0;
	json_key(w, "missing");
	json_array_begin(w);
	for (size_t i = 0; i < c->n_missing; i++)
		json_string(w, c->missing[i]);
	json_array_end(w);
	json_kv_uint(w, "missing_total", c->missing_total);
	json_key(w, "unresolved");
	json_array_begin(w);
	for (size_t i = 0; resolve && i < c->n; i++)
		for (size_t k = 0; c->reached[i] && k < c->facts[i].n_undefined; k++) {
			if (scope_defines(scope, c->facts[i].undefined[k]))
				continue;
			total++;
			if (listed++ >= SYMBOLS_LIST_MAX)
				continue;
			json_object_begin(w);
			json_kv_string(w, "symbol", c->facts[i].undefined[k]);
			json_kv_string(w, "needed_by", c->files[i]);
			json_object_end(w);
		}
	json_array_end(w);
	json_kv_uint(w, "unresolved_total", total);
	total = listed = 0;
	json_key(w, "versions");
	json_array_begin(w);
	for (size_t i = 0; resolve && i < c->n; i++) {
		const ElfSymbols *own = c->reached[i] ? scope_symbols(scope, c->files[i]) : NULL;
		for (size_t k = 0; own && k < own->n_needs; k++) {
			const char *f = provider(p, own->needs[k].file);
			const ElfSymbols *ps = f ? scope_symbols(scope, f) : NULL;
			if (!ps || elf_symbols_has_version(ps, own->needs[k].version))
				continue;
			total++;
			if (listed++ >= SYMBOLS_LIST_MAX)
				continue;
			json_object_begin(w);
			json_kv_string(w, "version", own->needs[k].version);
			json_kv_string(w, "library", own->needs[k].file);
			json_kv_string(w, "path", f);
			json_kv_string(w, "needed_by", c->files[i]);
			json_object_end(w);
		}
	}
	json_array_end(w);
	json_kv_uint(w, "versions_total", total);
}

static void closure_freep(Closure **c)
{
	if (*c) {
		closure_done(*c);
		free(*c);
	}
}

/* Check BACKEND of P: 1 with the event in W, 0 when nothing can be said. */
static int check(const SymbolWatch *sw, const Proc *p, const char *backend, const Scope *scope,
		 const TracerEvent *ev, uint64_t seq, JsonWriter *w)
{
	_cleanup_(closure_freep) Closure *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int r = closure_of(sw, p, backend, c);
	if (r <= 0)
		return r;
	/* every member it opened must have its own versions readable too */
	for (size_t i = 0; i < c->n; i++)
		if (c->reached[i] && !scope_symbols(scope, c->files[i]))
			return 0;
	observe_event_begin(w, seq, ev, "symbols");
	json_kv_string(w, "path", backend);
	write_symbols(w, p, scope, c);
	json_object_end(w);
	return 1;
}

static int on_end(SymbolWatch *sw, Proc *p, const TracerEvent *ev, uint64_t *seq, JsonWriter *w,
		  void (*emit)(void *), void *data)
{
	/* a fork that never exec'd: its search inputs (environment, working
	 * directory) were not recorded, so nothing can be established */
	if (p->truncated || !p->exe)
		return 0;
	const char *due[CHECKS_PER_END];
	size_t n_due = 0;
	for (size_t i = 0; i < p->n_libs && n_due < CHECKS_PER_END && sw->n_checked < CHECKED_MAX; i++) {
		const char *f = p->libs[i].file;
		if (!policy_is_backend(sw->policy, p->libs[i].name) || mapped(sw->worker, &ev->maps, f) || checked_before(sw, f))
			continue;
		if (mark_checked(sw, f) < 0)
			return -ENOMEM;
		due[n_due++] = f;
	}
	if (!n_due)
		return 0;
	_cleanup_(scope_done) Scope scope = { 0 };
	int r = scope_load(sw, p, &ev->maps, &scope), written = 0;
	for (size_t i = 0; r >= 0 && i < n_due; i++) {
		r = check(sw, p, due[i], &scope, ev, *seq + 1, w);
		if (r > 0) {
			++*seq;
			written++;
			emit(data);
		}
	}
	return r < 0 ? r : written;
}

int symbol_watch_on_event(SymbolWatch *sw, const TracerEvent *ev, uint64_t *seq, JsonWriter *w,
			  void (*emit)(void *data), void *data)
{
	const TracerSyscallEvent *s = &ev->sys;
	Proc *p;
	if (ev->kind == TRACER_EVENT_EXEC) {
		proc_drop(sw, ev->pid);	/* a new image: what the old one opened is gone */
		if (!(p = proc_get(sw, ev->pid)) || !(p->exe = strdup(ev->exec.exe ? ev->exec.exe : "")) ||
		    !(p->cwd = strdup(ev->exec.cwd ? ev->exec.cwd : "/")))
			return -ENOMEM;
		for (size_t i = 0; !ev->exec.secure && i < ev->exec.envc; i++)
			if (!strncmp(ev->exec.env[i], "LD_LIBRARY_PATH=", 16)) {
				free(p->ld_library_path);	/* the last one wins, as in glibc */
				if (!(p->ld_library_path = strdup(ev->exec.env[i] + 16)))
					return -ENOMEM;
			}
	} else if (ev->kind == TRACER_EVENT_SYSCALL && s->args == TRACER_ARGS_PATH && s->path && s->has_result &&
		   !s->is_error && !strncmp(s->name, "open", 4) && path_is_library_name(path_base_name(s->path))) {
		if (!(p = proc_get(sw, ev->pid)))
			return -ENOMEM;
		return remember(p, s->path, s->redirected ? s->redirected : s->path);
	} else if (ev->kind == TRACER_EVENT_MAPS) {
		p = *slot(sw, ev->pid);
		return p ? on_end(sw, p, ev, seq, w, emit, data) : 0;
	} else if (ev->kind == TRACER_EVENT_EXIT) {
		proc_drop(sw, ev->pid);
	}
	return 0;
}
