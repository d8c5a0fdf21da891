/* Live shim injection (see inject.h).
 *
 *   scanner exec ─┬─ AT_SECURE ──────────────► refused, nothing changed
 *                 ├─ redirect: VGPU_REAL_* + the shim paths on the new
 *                 │    stack; later, an open/stat/access of a path named
 *                 │    like a shim's soname runs on the shim instead ──► done
 *                 └─ preload: VGPU_REAL_* + LD_PRELOAD=shims:old ────► done
 *
 * The real driver's path is found as the dynamic linker would find it when
 * the scanner starts (LD_LIBRARY_PATH, ld.so.cache, default directories),
 * skipping the shim itself; the shim loads it by that path, and that one
 * path is never redirected, so a shim never finds itself. */
#include "inject/inject.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/hostarch.h"
#include "base/path.h"
#include "observe/files.h"
#include "observe/ldcache.h"


/* A scanner whose new program got its environment (and, for redirect,
 * the shim paths): one that could not is never kept. */
typedef struct ScannerState {
	pid_t pid;
	uint64_t shim_addr[SHIMS_MAX];	/* where the shim paths are */
	char *real[SHIMS_MAX];		/* the real library ("" none) */
	/* An open ran on the shim: from now on the real library's own path
	 * is the shim loading the driver, not the linker's search. */
	bool shim_in[SHIMS_MAX];
} ScannerState;

struct Injector {
	const ShimSet *set;
	const Policy *policy;
	bool redirect;
	struct stat shim_st[SHIMS_MAX];
	const LdCache *cache;		/* the observer's, or NULL */
	Worker *worker;			/* looks at the tracee's files: files.h */
	InjectRecordFn record;
	void *userdata;
	ScannerState *procs;		/* live scanners only */
	size_t n_procs, cap_procs;
};

int injector_new(const ShimSet *set, const Policy *policy, const LdCache *cache, Worker *worker,
		 InjectRecordFn record, void *userdata, Injector **ret)
{
	*ret = NULL;
	if (!set || set->disabled || set->n == 0)
		return 0;
	Injector *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->set = set;
	in->policy = policy;
	in->redirect = !strcmp(set->method, "redirect");
	in->record = record;
	in->userdata = userdata;
	for (size_t i = 0; i < set->n; i++)
		(void)stat(set->shims[i].path, &in->shim_st[i]);
	in->cache = cache;
	in->worker = worker;
	*ret = in;
	return 0;
}

static void state_clear(ScannerState *s)
{
	for (size_t i = 0; i < SHIMS_MAX; i++)
		free(s->real[i]);
}

Injector *injector_free(Injector *in)
{
	if (!in)
		return NULL;
	for (size_t i = 0; i < in->n_procs; i++)
		state_clear(&in->procs[i]);
	free(in->procs);
	free(in);
	return NULL;
}

bool injector_wants_paths(const Injector *in)
{
	return in && in->redirect;
}

static ScannerState *find(Injector *in, pid_t pid)
{
	for (size_t i = 0; i < in->n_procs; i++)
		if (in->procs[i].pid == pid)
			return &in->procs[i];
	return NULL;
}

void injector_on_exit(Injector *in, pid_t pid)
{
	ScannerState *s = in ? find(in, pid) : NULL;
	if (!s)
		return;
	state_clear(s);
	*s = in->procs[--in->n_procs];
}

/* A scanner by the policy: the server's executable run with the policy's
 * argv[1] (Ollama's runner), or any process with "scanner = any". */
static bool is_scanner(const Injector *in, const TracerEvent *ev, const char *server_exe, bool is_server)
{
	const Policy *p = in->policy;
	return !p || p->scanner_any ||
	       policy_scanner_exec(p, server_exe, is_server, ev->exec.exe, ev->exec.argv, ev->exec.argc);
}

/* NAME's value in EV's environment: the last entry, as the dynamic
 * linker reads it (tracer_exec_edit leaves one). */
static const char *env_of(const TracerEvent *ev, const char *name)
{
	size_t len = strlen(name);
	const char *v = NULL;
	for (size_t i = 0; i < ev->exec.envc; i++)
		if (!strncmp(ev->exec.env[i], name, len) && ev->exec.env[i][len] == '=')
			v = ev->exec.env[i] + len + 1;
	return v;
}

/* A candidate for the real library: a regular file that is not a shim. */
static bool real_candidate(const Injector *in, const char *path)
{
	struct stat st;
	if (files_stat(in->worker, path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	for (size_t i = 0; i < in->set->n; i++)
		if (st.st_dev == in->shim_st[i].st_dev && st.st_ino == in->shim_st[i].st_ino)
			return false;
	return true;
}

/* Where the dynamic linker of EV's new program would find SONAME, the
 * shims left out; "" when nowhere. */
/* Why the shim's VGPU_REAL_* variable is empty, said where it is shown. */
static const char *real_note(const char *real)
{
	return real && *real ? ""
			     : " (empty: no other library of that name on the scanner's LD_LIBRARY_PATH, in "
			       "ld.so.cache or the default directories, so the shim has no real driver to "
			       "forward to)";
}

static char *find_real(const Injector *in, const TracerEvent *ev, const char *soname)
{
	char path[PATH_MAX];
	const char *llp = env_of(ev, "LD_LIBRARY_PATH");
	_cleanup_free_ char *dirs = llp ? strdup(llp) : NULL;
	char *rest = dirs;
	const char *cwd = ev->exec.cwd && ev->exec.cwd[0] == '/' ? ev->exec.cwd : "/";
	for (char *dir; rest && (dir = strsep(&rest, ":;"));) {
		/* an empty element is the working directory; the result is
		 * normal, as the tracer's paths are, so that it compares */
		char d[PATH_MAX];
		if (path_join(cwd, dir, d, sizeof(d)) < 0 ||
		    path_join(d, soname, path, sizeof(path)) < 0)
			continue;
		if (real_candidate(in, path))
			return strdup(path);
	}
	const char *cached = in->cache ? ldcache_lookup(in->cache, soname) : NULL;
	if (cached && real_candidate(in, cached))
		return strdup(cached);
	for (const char *const *d = hostarch_native()->default_dirs; *d; d++) {
		snprintf(path, sizeof(path), "%s/%s", *d, soname);
		if (real_candidate(in, path))
			return strdup(path);
	}
	return strdup("");
}

static void record(Injector *in, const TracerEvent *ev, const Shim *sh, const char *status,
		   const char *why, const char *path, const char *real)
{
	InjectAction a = {
		.pid = ev->pid, .tid = ev->tid, .method = in->set->method, .library = sh->soname,
		.shim = sh->path, .status = status, .why = why, .path = path, .real = real,
	};
	in->record(&a, in->userdata);
}

static void refuse_all(Injector *in, const TracerEvent *ev, const char *why)
{
	for (size_t i = 0; i < in->set->n; i++)
		record(in, ev, &in->set->shims[i], "refused", why, NULL, NULL);
}

/* Is PATH an element of the LD_PRELOAD value LIST (':' or blank
 * separated)? */
static bool in_list(const char *list, const char *path)
{
	size_t len = strlen(path);
	for (const char *p = list; p && *p; p += strcspn(p, ": \t")) {
		p += strspn(p, ": \t");
		if (!strncmp(p, path, len) && (p[len] == '\0' || strchr(": \t", p[len])))
			return true;
	}
	return false;
}

/* "LD_PRELOAD=..." from OLD: with ADD, the shims in front (those not in it
 * already: a scanner's child inherits them); without, the shims taken
 * out.  NULL on ENOMEM. */
static char *preload_value(const ShimSet *set, const char *old, bool add)
{
	size_t len = strlen("LD_PRELOAD=") + (old ? strlen(old) : 0) + 2;
	for (size_t i = 0; i < set->n; i++)
		len += strlen(set->shims[i].path) + 1;
	char *v = malloc(len);
	const size_t start = strlen("LD_PRELOAD=");	/* v[start]: any element yet? */
	if (!v)
		return NULL;
	strcpy(v, "LD_PRELOAD=");
	for (size_t i = 0; add && i < set->n; i++)
		if (!in_list(old, set->shims[i].path))
			strcat(strcat(v, v[start] ? ":" : ""), set->shims[i].path);
	_cleanup_free_ char *copy = old ? strdup(old) : NULL;
	char *save = NULL;
	for (char *w = copy ? strtok_r(copy, ": \t", &save) : NULL; w; w = strtok_r(NULL, ": \t", &save)) {
		bool shim = false;
		for (size_t i = 0; i < set->n && !shim; i++)
			shim = !add && !strcmp(w, set->shims[i].path);
		if (!shim)
			strcat(strcat(v, v[start] ? ":" : ""), w);
	}
	return v;
}

/* A process that is no scanner but inherited LD_PRELOAD with a shim from
 * a scanner parent: the shim goes nowhere else, so take it out. */
static void strip_inherited(Injector *in, Tracer *t, const TracerEvent *ev)
{
	const char *old = env_of(ev, "LD_PRELOAD");
	bool has = false;
	for (size_t i = 0; old && i < in->set->n && !has; i++)
		has = in_list(old, in->set->shims[i].path);
	if (!has)
		return;
	_cleanup_free_ char *v = preload_value(in->set, old, false);
	const char *env[] = { v };
	TracerExecEdit e = { .env = env, .n_env = 1 };
	int r = v ? tracer_exec_edit(t, ev->tid, &e, NULL) : -ENOMEM;
	if (r < 0) {
		char why[256];
		snprintf(why, sizeof(why), "inherited LD_PRELOAD with the shim not taken out: %s", strerror(-r));
		refuse_all(in, ev, why);
	}
}

/* The new environment: VGPU_REAL_* for each shim, and for preload
 * LD_PRELOAD with the shims ahead of what was there. */
static int edit_env(Injector *in, Tracer *t, const TracerEvent *ev, ScannerState *s)
{
	const ShimSet *set = in->set;
	char *env[SHIMS_MAX + 1] = { 0 };
	const char *strings[SHIMS_MAX];
	size_t n_env = 0;
	int r = 0;
	for (size_t i = 0; i < set->n && r >= 0; i++) {
		if (asprintf(&env[n_env], "%s=%s", set->shims[i].real_env, s->real[i]) < 0) {
			env[n_env] = NULL;
			r = -ENOMEM;
		} else
			n_env++;
		strings[i] = set->shims[i].path;
	}
	if (r >= 0 && !in->redirect) {
		env[n_env] = preload_value(set, env_of(ev, "LD_PRELOAD"), true);
		if (!env[n_env++])
			r = -ENOMEM;
	}
	if (r >= 0) {
		TracerExecEdit e = {
			.env = (const char *const *)env, .n_env = n_env,
			.strings = in->redirect ? strings : NULL, .n_strings = in->redirect ? set->n : 0,
		};
		r = tracer_exec_edit(t, ev->tid, &e, s->shim_addr);
	}
	for (size_t i = 0; i < n_env; i++)
		free(env[i]);
	return r;
}

void injector_on_exec(Injector *in, Tracer *t, const TracerEvent *ev, const char *server_exe,
		      bool is_server)
{
	if (!in)
		return;
	injector_on_exit(in, ev->pid);	/* an earlier program of this process */
	if (!is_scanner(in, ev, server_exe, is_server)) {
		if (!in->redirect)
			strip_inherited(in, t, ev);
		return;
	}
	if (ev->exec.secure) {
		refuse_all(in, ev, "AT_SECURE program (setuid, setgid or file capabilities): not injected");
		if (!in->redirect)
			strip_inherited(in, t, ev);
		return;
	}
	if (in->n_procs == in->cap_procs) {
		size_t cap = in->cap_procs ? 2 * in->cap_procs : 16;
		ScannerState *p = realloc(in->procs, cap * sizeof(*p));
		if (!p)
			return refuse_all(in, ev, "out of memory");
		in->procs = p;
		in->cap_procs = cap;
	}
	ScannerState *s = &in->procs[in->n_procs++];
	*s = (ScannerState){ .pid = ev->pid };
	int r = 0;
	for (size_t i = 0; i < in->set->n && r >= 0; i++)
		if (!(s->real[i] = find_real(in, ev, in->set->shims[i].soname)))
			r = -ENOMEM;
	if (r >= 0)
		r = edit_env(in, t, ev, s);
	char why[PATH_MAX + 128];
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot change the environment of the new program: %s",
			 strerror(-r));
		refuse_all(in, ev, why);
		injector_on_exit(in, ev->pid);
		return;
	}
	if (in->redirect)
		return;		/* done when a scanner opens the soname */
	for (size_t i = 0; i < in->set->n; i++) {
		const Shim *sh = &in->set->shims[i];
		snprintf(why, sizeof(why), "LD_PRELOAD set at exec; %s=%s%s", sh->real_env,
			 s->real[i] ? s->real[i] : "", real_note(s->real[i]));
		record(in, ev, sh, "done", why, NULL, s->real[i] ? s->real[i] : "");
	}
}

/* What the dynamic linker does to a candidate: open it to read, stat it,
 * check it is there.  Never a write, a create, a readlink. */
static bool read_only_probe(const TracerSyscallEvent *sys)
{
	if (!strncmp(sys->name, "readlink", 8))
		return false;
	if (sys->flag_kind == TRACER_FLAGS_OPEN)
		return (sys->flags & O_ACCMODE) == O_RDONLY &&
		       !(sys->flags & (O_CREAT | O_TRUNC | O_TMPFILE | O_DIRECTORY | O_PATH));
	if (sys->flag_kind == TRACER_FLAGS_ACCESS)
		return !(sys->flags & W_OK);
	return true;	/* the stat family */
}

void injector_on_path(Injector *in, Tracer *t, const TracerEvent *ev)
{
	if (!in || !ev->sys.path)
		return;
	const char *base = path_base_name(ev->sys.path);
	size_t k = 0;
	while (k < in->set->n && strcmp(base, in->set->shims[k].soname))
		k++;
	if (k == in->set->n)
		return;		/* the common case: not a shim's soname */
	ScannerState *s = find(in, ev->pid);
	const Shim *sh = &in->set->shims[k];
	/* Not a scanner; the shim's own file; the shim loading the real one;
	 * a call that would write, or whose answer would mean something else
	 * of a library (a write through a redirect would change the shim). */
	if (!s || !strcmp(ev->sys.path, sh->path) ||
	    (s->shim_in[k] && !strcmp(ev->sys.path, s->real[k])) || !read_only_probe(&ev->sys))
		return;
	int r = tracer_redirect_path(t, ev->tid, s->shim_addr[k], sh->path);
	char why[PATH_MAX * 2 + 128];
	if (r < 0) {
		snprintf(why, sizeof(why), "%s of %s not redirected: %s", ev->sys.name, ev->sys.path,
			 r == -ESTALE ? "the program overwrote the shim path placed at exec" : strerror(-r));
		record(in, ev, sh, "refused", why, ev->sys.path, s->real[k]);
		return;
	}
	if (ev->sys.flag_kind == TRACER_FLAGS_OPEN)
		s->shim_in[k] = true;
	snprintf(why, sizeof(why), "%s of %s ran on the shim; %s=%s%s", ev->sys.name, ev->sys.path,
		 sh->real_env, s->real[k], real_note(s->real[k]));
	record(in, ev, sh, "done", why, ev->sys.path, s->real[k]);
}
