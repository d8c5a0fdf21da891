/* The symbol and version check of backends that were not kept (see
 * symbols.h). */
#include "observe/symbols.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "observe/elf-facts.h"
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
	Lib *libs;
	size_t n_libs;
	bool truncated;		/* past LIBS_PER_PROC_MAX: no check */
	struct Proc *next;
} Proc;

struct SymbolWatch {
	const Policy *policy;
	Proc *buckets[PROC_BUCKETS];
	char **checked;		/* backend paths checked (a run checks each once) */
	size_t n_checked;
};

int symbol_watch_new(const Policy *policy, SymbolWatch **ret)
{
	SymbolWatch *sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	sw->policy = policy;
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

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static bool is_backend(const SymbolWatch *sw, const char *name)
{
	const Policy *p = sw->policy;
	if (!p || !p->backend_glob || fnmatch(p->backend_glob, name, 0))
		return false;
	for (size_t i = 0; i < p->n_not_backend; i++)
		if (!fnmatch(p->not_backend[i], name, 0))
			return false;
	return true;
}

static int remember(Proc *p, const char *path, const char *file)
{
	const char *name = base_name(path);
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

static bool mapped(const TracerMapsEvent *m, const char *file)
{
	char real[PATH_MAX];
	const char *f = realpath(file, real) ? real : file;
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
static int scope_load(const Proc *p, const TracerMapsEvent *m, Scope *s)
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
		int r = elf_symbols_file(s->files[i], &s->syms[i]);
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

/* The backend's closure as P found it: BACKEND, then each NEEDED name's
 * file, breadth first.  False when a member cannot be read whole (then
 * nothing is said). */
static bool closure_of(const Proc *p, const char *backend, const char **files, ElfFacts *facts, size_t *ret_n)
{
	size_t n = 0;
	files[n] = backend;
	if (elf_parse_file(backend, &facts[n]) < 0)
		return false;
	n++;
	bool whole = !facts[0].truncated;
	for (size_t i = 0; i < n && whole; i++)
		for (size_t k = 0; k < facts[i].n_needed; k++) {
			const char *f = provider(p, facts[i].needed[k]);
			bool known = !f;	/* not opened: the missing-dependency case, not ours */
			for (size_t j = 0; f && j < n && !known; j++)
				known = !strcmp(files[j], f);
			if (known)
				continue;
			if (n == CLOSURE_MAX || elf_parse_file(f, &facts[n]) < 0) {
				whole = false;
				break;
			}
			files[n] = f;
			whole = !facts[n++].truncated;
		}
	*ret_n = n;
	return whole;
}

static void write_symbols(JsonWriter *w, const Proc *p, const char *backend, const Scope *scope,
			  const char **files, const ElfFacts *facts, size_t n)
{
	size_t total = 0, listed = 0;
	json_key(w, "unresolved");
	json_array_begin(w);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < facts[i].n_undefined; k++) {
			if (scope_defines(scope, facts[i].undefined[k]))
				continue;
			total++;
			if (listed++ >= SYMBOLS_LIST_MAX)
				continue;
			json_object_begin(w);
			json_kv_string(w, "symbol", facts[i].undefined[k]);
			json_kv_string(w, "needed_by", files[i]);
			json_object_end(w);
		}
	json_array_end(w);
	json_kv_uint(w, "unresolved_total", total);
	total = listed = 0;
	json_key(w, "versions");
	json_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		const ElfSymbols *own = scope_symbols(scope, files[i]);
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
			json_kv_string(w, "needed_by", files[i]);
			json_object_end(w);
		}
	}
	json_array_end(w);
	json_kv_uint(w, "versions_total", total);
	(void)backend;
}

/* Check BACKEND of P: 1 with the event in W, 0 when nothing can be said. */
static int check(const Proc *p, const char *backend, const Scope *scope, const TracerEvent *ev, uint64_t seq,
		 JsonWriter *w)
{
	_cleanup_free_ const char **files = calloc(CLOSURE_MAX, sizeof(*files));
	_cleanup_free_ ElfFacts *facts = calloc(CLOSURE_MAX, sizeof(*facts));
	if (!files || !facts)
		return -ENOMEM;
	size_t n = 0;
	bool whole = closure_of(p, backend, files, facts, &n);
	/* every member's own versions must be readable too */
	for (size_t i = 0; whole && i < n; i++)
		whole = scope_symbols(scope, files[i]) != NULL;
	if (whole) {
		observe_event_begin(w, seq, ev, "symbols");
		json_kv_string(w, "path", backend);
		write_symbols(w, p, backend, scope, files, facts, n);
		json_object_end(w);
	}
	for (size_t i = 0; i < n; i++)
		elf_facts_done(&facts[i]);
	return whole ? 1 : 0;
}

static int on_end(SymbolWatch *sw, Proc *p, const TracerEvent *ev, uint64_t *seq, JsonWriter *w,
		  void (*emit)(void *), void *data)
{
	if (p->truncated)
		return 0;
	const char *due[CHECKS_PER_END];
	size_t n_due = 0;
	for (size_t i = 0; i < p->n_libs && n_due < CHECKS_PER_END && sw->n_checked < CHECKED_MAX; i++) {
		const char *f = p->libs[i].file;
		if (!is_backend(sw, p->libs[i].name) || mapped(&ev->maps, f) || checked_before(sw, f))
			continue;
		if (mark_checked(sw, f) < 0)
			return -ENOMEM;
		due[n_due++] = f;
	}
	if (!n_due)
		return 0;
	_cleanup_(scope_done) Scope scope = { 0 };
	int r = scope_load(p, &ev->maps, &scope), written = 0;
	for (size_t i = 0; r >= 0 && i < n_due; i++) {
		r = check(p, due[i], &scope, ev, *seq + 1, w);
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
		if (!(p = proc_get(sw, ev->pid)) || !(p->exe = strdup(ev->exec.exe ? ev->exec.exe : "")))
			return -ENOMEM;
	} else if (ev->kind == TRACER_EVENT_SYSCALL && s->args == TRACER_ARGS_PATH && s->path && s->has_result &&
		   !s->is_error && !strncmp(s->name, "open", 4) && path_is_library_name(base_name(s->path))) {
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
