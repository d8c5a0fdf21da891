/* Library observation (see observe.h). */
#include "observe/observe.h"

#include <dirent.h>
#include <fnmatch.h>
#include <signal.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/hash.h"
#include "base/path.h"
#include "observe/files.h"
#include "tracer/names.h"

/* A set of paths: chained hash, grown by doubling. */
typedef struct Seen {
	char *path;
	struct Seen *next;
} Seen;

struct Observer {
	Seen **buckets;
	size_t n_buckets, count;
	const Policy *policy;
	LdCache ldcache;
	Worker *worker;		/* every look at a tracee's file: files.h */
};

#define LISTING_FILES_MAX 256	/* names kept per subdirectory */
/* Libraries and backtrace sites remembered.  A server traced for weeks
 * meets the same few hundred libraries again and again; past this many
 * distinct ones (a hostile or runaway tracee) nothing more is recorded,
 * so the observer's memory stays bounded (about 100 bytes apiece). */
#define SEEN_MAX 65536

int observer_new(const Policy *policy, Observer **ret)
{
	Observer *o = calloc(1, sizeof(*o));
	if (!o || !(o->buckets = calloc(64, sizeof(*o->buckets)))) {
		free(o);
		return -ENOMEM;
	}
	o->n_buckets = 64;
	o->policy = policy;
	if (worker_new(&o->worker) < 0) {
		free(o->buckets);
		free(o);
		return -ENOMEM;
	}
	/* Unreadable or of an unknown format: lookups then find nothing and
	 * the trace says so (no "ldcache" in elf events). */
	(void)ldcache_load("/etc/ld.so.cache", &o->ldcache);
	*ret = o;
	return 0;
}

Observer *observer_free(Observer *o)
{
	if (!o)
		return NULL;
	for (size_t i = 0; i < o->n_buckets; i++)
		for (Seen *s = o->buckets[i], *next; s; s = next) {
			next = s->next;
			free(s->path);
			free(s);
		}
	free(o->buckets);
	ldcache_done(&o->ldcache);
	worker_free(o->worker);
	free(o);
	return NULL;
}

const Policy *observer_policy(const Observer *o)
{
	return o->policy;
}

Worker *observer_worker(const Observer *o)
{
	return o->worker;
}

const LdCache *observer_ldcache(const Observer *o)
{
	return o && o->ldcache.data ? &o->ldcache : NULL;
}

static int grow(Observer *o)
{
	size_t n = o->n_buckets * 2;
	Seen **b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_buckets; i++)
		for (Seen *s = o->buckets[i], *next; s; s = next) {
			next = s->next;
			s->next = b[hash_fnv1a_str(s->path) & (n - 1)];
			b[hash_fnv1a_str(s->path) & (n - 1)] = s;
		}
	free(o->buckets);
	o->buckets = b;
	o->n_buckets = n;
	return 0;
}

/* 1 if PATH was added, 0 if it was there (or the set is full), -ENOMEM. */
static int add(Observer *o, const char *path)
{
	for (Seen *s = o->buckets[hash_fnv1a_str(path) & (o->n_buckets - 1)]; s; s = s->next)
		if (strcmp(s->path, path) == 0)
			return 0;
	if (o->count >= SEEN_MAX)
		return 0;
	if (o->count >= o->n_buckets * 2 && grow(o) < 0)
		return -ENOMEM;
	Seen *s = malloc(sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	size_t b = hash_fnv1a_str(path) & (o->n_buckets - 1);
	s->next = o->buckets[b];
	o->buckets[b] = s;
	o->count++;
	return 1;
}

int observer_first(Observer *o, const char *key)
{
	return add(o, key);
}

bool observer_seen(const Observer *o, const char *key)
{
	for (Seen *s = o->buckets[hash_fnv1a_str(key) & (o->n_buckets - 1)]; s; s = s->next)
		if (strcmp(s->path, key) == 0)
			return true;
	return false;
}

static bool crash_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT;
}

bool observe_wants_stack(Observer *o, const TracerEvent *ev, const char **why)
{
	char key[PATH_MAX + 64];
	if (ev->kind == TRACER_EVENT_SIGNAL && crash_signal(ev->sig.signo)) {
		snprintf(key, sizeof(key), "signal:%d", (int)ev->pid);
		*why = "signal";
		return observer_first(o, key) > 0;
	}
	const TracerSyscallEvent *s = &ev->sys;
	if (ev->kind != TRACER_EVENT_SYSCALL || s->args != TRACER_ARGS_PATH || !s->path ||
	    strncmp(s->name, "open", 4) != 0)
		return false;
	const char *base = strrchr(s->path, '/');
	base = base ? base + 1 : s->path;
	if (!s->is_error && o->policy && o->policy->backend_glob &&
	    !fnmatch(o->policy->backend_glob, base, 0)) {
		snprintf(key, sizeof(key), "backend:%d:%.*s", (int)ev->pid, (int)(base - s->path), s->path);
		*why = "backend";
		return observer_first(o, key) > 0;
	}
	if (s->is_error && path_is_library_name(base)) {
		snprintf(key, sizeof(key), "lookup:%d:%s", (int)ev->pid, base);
		*why = "lookup";
		return observer_first(o, key) > 0;
	}
	return false;
}

int observer_on_event(Observer *o, const TracerEvent *ev, ElfFacts *ret_facts, int *ret_error)
{
	const TracerSyscallEvent *s = &ev->sys;
	if (ev->kind != TRACER_EVENT_SYSCALL || s->args != TRACER_ARGS_PATH || !s->path ||
	    !s->has_result || s->is_error || strncmp(s->name, "open", 4) != 0)
		return 0;
	const char *base = strrchr(s->path, '/');
	if (!path_is_library_name(base ? base + 1 : s->path))
		return 0;
	int r = add(o, s->path);
	if (r <= 0)
		return r;
	memset(ret_facts, 0, sizeof(*ret_facts));
	/* A redirected open mapped the shim: its facts stand at the path the
	 * loader asked for, which is where the loader's search found it. */
	const char *file = s->redirected ? s->redirected : s->path;
	*ret_error = files_elf_facts(o->worker, file, ret_facts);
	return 1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted entry names of DIR (at most MAX), or -errno. */
static int list_names(const char *dir, size_t max, char ***ret, size_t *ret_n)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return neg_errno();
	char **names = NULL;
	size_t n = 0;
	int r = 0;
	struct dirent *de;
	while (r >= 0 && n < max && (de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = strdup(de->d_name))) {
			names = nn ? nn : names;
			r = -ENOMEM;
			break;
		}
		names = nn;
		n++;
	}
	closedir(dp);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return r;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	*ret = names;
	*ret_n = n;
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void listing_entry(JsonWriter *w, const char *root, const char *name)
{
	char path[PATH_MAX], target[PATH_MAX], b[32];
	struct stat lst, st;
	int pn = snprintf(path, sizeof(path), "%s/%s", root, name);
	json_object_begin(w);
	json_kv_string(w, "name", name);
	if (pn < 0 || (size_t)pn >= sizeof(path)) {
		json_kv_string(w, "error", "ENAMETOOLONG");
		json_object_end(w);
		return;
	}
	if (lstat(path, &lst) < 0) {
		json_kv_string(w, "error", names_errno(errno, b, sizeof(b)));
		json_object_end(w);
		return;
	}
	if (S_ISLNK(lst.st_mode)) {
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		json_kv_string(w, "target", target);
	}
	if (stat(path, &st) < 0) {	/* a dangling or looping symlink */
		json_kv_string(w, "type", "symlink");
		json_kv_string(w, "error", names_errno(errno, b, sizeof(b)));
		json_object_end(w);
		return;
	}
	json_kv_string(w, "type", S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other");
	if (S_ISDIR(st.st_mode)) {
		char **names = NULL;
		size_t n = 0;
		int r = list_names(path, LISTING_FILES_MAX, &names, &n);
		if (r < 0) {
			json_kv_string(w, "error", names_errno(-r, b, sizeof(b)));
		} else {
			json_key(w, "files");
			json_array_begin(w);
			for (size_t i = 0; i < n; i++)
				json_string(w, names[i]);
			json_array_end(w);
			free_names(names, n);
		}
	}
	json_object_end(w);
}

/* The policy's other install places that exist and are not ROOT, with
 * their subdirectories: "installs": [{"path", "directories"}]. */
static void other_installs(char *const *installs, size_t n_installs, const char *root, JsonWriter *w)
{
	char real_root[PATH_MAX], real[PATH_MAX], sub[PATH_MAX];
	if (!n_installs)
		return;
	bool have_root = realpath(root, real_root) != NULL;
	json_key(w, "installs");
	json_array_begin(w);
	for (size_t i = 0; i < n_installs; i++) {
		const char *p = installs[i];
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode) || !realpath(p, real) ||
		    (have_root && !strcmp(real, real_root)) || !strcmp(p, root))
			continue;
		char **names = NULL;
		size_t n = 0;
		json_object_begin(w);
		json_kv_string(w, "path", p);
		json_key(w, "directories");
		json_array_begin(w);
		if (list_names(p, LISTING_FILES_MAX, &names, &n) >= 0) {
			for (size_t k = 0; k < n; k++) {
				int len = snprintf(sub, sizeof(sub), "%s/%s", p, names[k]);
				if (len > 0 && (size_t)len < sizeof(sub) && stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
					json_string(w, names[k]);
			}
			free_names(names, n);
		}
		json_array_end(w);
		json_object_end(w);
	}
	json_array_end(w);
}

void observe_event_begin(JsonWriter *w, uint64_t seq, const TracerEvent *ev, const char *what)
{
	json_reset(w);
	json_object_begin(w);
	json_kv_uint(w, "seq", seq);
	json_kv_uint(w, "t_ns", ev->t_ns);
	json_kv_string(w, "event", "observe");
	json_kv_int(w, "pid", ev->pid);
	json_kv_int(w, "tid", ev->tid);
	json_kv_string(w, "what", what);
}

/* The listing, made in the worker's thread from copies (the stuck thread
 * may outlive the run and its policy). */
typedef struct ListingJob {
	char root[PATH_MAX];
	char **installs;
	size_t n_installs;
	uint64_t seq;
	TracerEvent ev;		/* t_ns, pid, tid */
	JsonWriter w;
} ListingJob;

static void listing_job_free(void *arg)
{
	ListingJob *j = arg;
	free_names(j->installs, j->n_installs);
	json_done(&j->w);
	free(j);
}

static int listing_job_run(void *arg)
{
	ListingJob *j = arg;
	JsonWriter *w = &j->w;
	char b[32];
	observe_event_begin(w, j->seq, &j->ev, "listing");
	json_kv_string(w, "path", j->root);
	char **names = NULL;
	size_t n = 0;
	int r = list_names(j->root, LISTING_FILES_MAX, &names, &n);
	if (r < 0) {
		json_kv_string(w, "error", names_errno(-r, b, sizeof(b)));
	} else {
		json_key(w, "entries");
		json_array_begin(w);
		for (size_t i = 0; i < n; i++)
			listing_entry(w, j->root, names[i]);
		json_array_end(w);
		free_names(names, n);
	}
	other_installs(j->installs, j->n_installs, j->root, w);
	json_object_end(w);
	return 0;
}

int observer_listing(Observer *o, const TracerEvent *ev, bool is_server, uint64_t seq, JsonWriter *w)
{
	if (ev->kind != TRACER_EVENT_EXEC || !is_server)
		return 0;
	const char *lr = o->policy ? o->policy->library_root : NULL;
	if (!lr)
		return 0;
	char root[PATH_MAX], dir[PATH_MAX];
	if (*lr == '/') {
		if (path_normalize(lr, root, sizeof(root)) < 0)
			return 0;
	} else {
		snprintf(dir, sizeof(dir), "%s", ev->exec.exe);
		char *slash = strrchr(dir, '/');
		if (!slash || strncmp(lr, "exe:", 4))
			return 0;
		*slash = '\0';
		if (path_join(*dir ? dir : "/", lr + 4, root, sizeof(root)) < 0)
			return 0;
	}
	ListingJob *j = calloc(1, sizeof(*j));
	if (!j)
		return 0;
	snprintf(j->root, sizeof(j->root), "%s", root);
	j->seq = seq;
	j->ev = (TracerEvent){ .t_ns = ev->t_ns, .pid = ev->pid, .tid = ev->tid };
	json_init(&j->w);
	size_t n = o->policy->n_installs;
	if (n && !(j->installs = calloc(n + 1, sizeof(*j->installs)))) {
		listing_job_free(j);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((j->installs[j->n_installs] = strdup(o->policy->installs[i])))
			j->n_installs++;
	int ignored;	/* the job writes its own errors into its event */
	int r = worker_call(o->worker, listing_job_run, j, listing_job_free, FILES_TIMEOUT_NS, &ignored);
	if (r < 0) {
		/* the directory stalls (the stuck thread keeps the job; too
		 * many stuck is a time-out too), or no thread could look: the
		 * event says so */
		if (r != -ETIMEDOUT)
			listing_job_free(j);
		char b[32];
		observe_event_begin(w, seq, ev, "listing");
		json_kv_string(w, "path", root);
		json_kv_string(w, "error", r == -EBUSY ? "ETIMEDOUT" : names_errno(-r, b, sizeof(b)));
		json_object_end(w);
		return 1;
	}
	JsonWriter mine = *w;
	*w = j->w;
	j->w = mine;
	listing_job_free(j);
	return 1;
}
