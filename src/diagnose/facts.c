/* What the model answers (see model.h): processes by pid, the policy's
 * view of file names, the library root, the listing, the policy's
 * regexes (compiled once), and a process as the report lists it. */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "diagnose/model.h"

struct DiagRegexes {
	size_t n;
	struct {
		const char *src;	/* a policy string: its address is the key */
		regex_t rx;
		bool ok;
	} e[POLICY_LIST_MAX + 8];
};

const char *diag_base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Does the policy call the file named NAME a backend library? */
bool diag_is_backend(const Model *d, const char *name)
{
	return policy_is_backend(&d->policy, name);
}

/* Is FILE directly inside DIR? */
bool diag_in_dir(const char *file, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(file, dir, n) && file[n] == '/' && !strchr(file + n + 1, '/');
}

/* The library root: the policy's exe-relative or absolute directory. */
bool diag_library_root(const Model *d, char *out, size_t size)
{
	const char *lr = d->policy.library_root;
	const Proc *server = d->server;
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
json_object *diag_listing_entry(const Model *d, const char *name)
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
bool diag_entry_has(json_object *e, const char *glob)
{
	json_object *files = jarray(e, "files");
	for (size_t i = 0; glob && i < jlen(files); i++)
		if (jstr_at(files, i) && !fnmatch(glob, jstr_at(files, i), 0))
			return true;
	return false;
}

Proc *diag_proc(const Model *d, pid_t pid)
{
	char key[16];
	json_object *v;
	snprintf(key, sizeof(key), "%d", (int)pid);
	if (!json_object_object_get_ex(d->by_pid, key, &v))
		return NULL;
	return d->procs[json_object_get_int64(v)];
}

const char *diag_env(const Proc *p, const char *name)
{
	return p ? jstr(p->env, name) : NULL;
}

int strv_push_all(char ***v, json_object *arr)
{
	for (size_t i = 0; i < jlen(arr); i++) {
		const char *s = jstr_at(arr, i);
		if (s && strv_push(v, s) < 0)
			return -ENOMEM;
	}
	return 0;
}

DiagRegexes *diag_regexes_new(void)
{
	return calloc(1, sizeof(DiagRegexes));
}

void diag_regexes_reset(DiagRegexes *c)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (c->e[i].ok)
			regfree(&c->e[i].rx);
	if (c)
		c->n = 0;
}

DiagRegexes *diag_regexes_free(DiagRegexes *c)
{
	diag_regexes_reset(c);
	free(c);
	return NULL;
}

static regex_t *compiled(const Model *d, const char *re)
{
	DiagRegexes *c = d->rx;
	size_t i = 0;
	while (c && i < c->n && c->e[i].src != re)
		i++;
	if (!c || i == ELEMENTSOF(c->e))
		return NULL;
	if (i == c->n) {
		c->e[i].src = re;
		c->e[i].ok = !regcomp(&c->e[i].rx, re, REG_EXTENDED | REG_NEWLINE);
		c->n++;
	}
	return c->e[i].ok ? &c->e[i].rx : NULL;
}

bool diag_regex_line(const Model *d, const char *re, const char *text, char *group1, size_t size)
{
	regex_t *rx = re ? compiled(d, re) : NULL;
	regmatch_t m[2];
	if (!rx || policy_regexec(rx, text, 2, m))
		return false;
	if (group1) {
		int n = m[1].rm_so >= 0 ? (int)(m[1].rm_eo - m[1].rm_so) : 0;
		snprintf(group1, size, "%.*s", n, text + (n ? m[1].rm_so : 0));
		group1[strcspn(group1, "\n")] = '\0';
	}
	return true;
}

/* Who sent the signal that ended P. */
static const char *killed_by(const Proc *p)
{
	if (!p->killer)
		return "unknown";
	return p->killer == p->ppid ? "parent" : p->killer == p->pid ? "self" : "other";
}

int diag_fill_exit(const Proc *p, ReportExit *e)
{
	e->known = p->ended;
	if (!p->ended)
		return 0;
	e->signaled = p->exit_signaled;
	e->code = p->exit_code;
	if (p->exit_signaled) {
		e->signal = strdup(p->exit_signal);
		e->by = strdup(killed_by(p));
	} else if (p->fatal_signal) {
		e->fatal_signal = strdup(p->fatal_signal);
	}
	return 0;
}

json_object *diag_injection_done(const Model *d, pid_t pid, const char *soname)
{
	for (size_t i = 0; i < jlen(d->injects); i++) {
		json_object *ev = json_object_array_get_idx(d->injects, i);
		const char *lib = jstr(ev, "library"), *status = jstr(ev, "status");
		if ((!pid || jnum(ev, "pid", 0) == pid) && lib && !strcmp(lib, soname) && status &&
		    !strcmp(status, "done"))
			return ev;
	}
	return NULL;
}

/* Which file P mapped for each library the policy's shims stand for: the
 * shim vgpu-run injected (preload, or a redirected open), else the last
 * successful open of that name; NVIDIA's stub library lives in a "stubs"
 * directory of the CUDA toolkit (the path, or the file behind its
 * symlinks, as the ELF observation recorded it) and fails every call. */
static int fill_drivers(const Model *d, const Proc *p, ReportProcess *rp)
{
	int r = 0;
	for (size_t i = 0; r >= 0 && i < d->policy.n_inject_sonames && i < DRIVERS_KEEP_MAX; i++) {
		const char *soname = d->policy.inject_sonames[i], *shim = jstr(diag_injection_done(d, p->pid, soname), "shim");
		if (shim) {
			r = report_process_add_driver(rp, soname, shim, "shim");
			continue;
		}
		const Open *last = NULL;
		for (size_t k = 0; k < p->n_opens; k++)
			if (p->opens[k].ok && !strcmp(diag_base_name(p->opens[k].path), soname))
				last = &p->opens[k];
		json_object *facts = NULL;
		if (last)
			json_object_object_get_ex(d->elf, last->path, &facts);
		const char *real = jstr(facts, "realpath");
		if (last)
			r = report_process_add_driver(rp, soname, last->path,
						      strstr(last->path, "/stubs/") || (real && strstr(real, "/stubs/"))
							      ? "stub"
							      : NULL);
	}
	return r;
}

/* A scanner's recorded variables that differ from the server's: what the
 * server set for this probe (LD_LIBRARY_PATH, OLLAMA_LIBRARY_PATH, ...). */
static int fill_scanner_env(const Model *d, const Proc *p, ReportProcess *rp)
{
	if (!p->env)
		return 0;
	size_t n = (size_t)json_object_object_length(p->env);
	if (!n || !(rp->environment = calloc(n, sizeof(*rp->environment))))
		return n ? -ENOMEM : 0;
	json_object_object_foreach(p->env, key, val)
	{
		const char *mine = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;
		const char *theirs = d->server ? diag_env(d->server, key) : NULL;
		if (!mine || (theirs && !strcmp(mine, theirs)))
			continue;
		ReportEnvVar *e = &rp->environment[rp->n_environment];
		if (!(e->name = strdup(key)) || !(e->value = strdup(mine))) {
			free(e->name);
			return -ENOMEM;
		}
		rp->n_environment++;
	}
	return 0;
}

int diag_fill_process(const Model *d, const Proc *p, ReportProcess *rp)
{
	rp->pid = p->pid;
	rp->ppid = p->ppid;
	rp->order = p->first_seq;
	rp->wrapper = p->is_wrapper;
	rp->role = strdup(p->is_server ? "server" : p->is_scanner ? "scanner" : "other");
	int r = rp->role ? 0 : -ENOMEM;
	for (char **a = p->argv; r >= 0 && a && *a; a++)
		r = strv_push(&rp->argv, *a);
	for (char **s = p->scans; r >= 0 && s && *s; s++)
		r = strv_push(&rp->scans, *s);
	diag_fill_exit(p, &rp->exit);
	if (r >= 0 && d->have_policy)
		r = fill_drivers(d, p, rp);
	if (r >= 0 && p->is_scanner && p != d->server)
		r = fill_scanner_env(d, p, rp);
	return r;
}

size_t diag_regex_groups(const Model *d, const char *re, const char *text, char (*groups)[512], size_t max)
{
	regex_t *rx = re ? compiled(d, re) : NULL;
	regmatch_t m[10];
	if (!rx || max > 9 || policy_regexec(rx, text, max + 1, m))
		return 0;
	size_t n = 0;
	for (; n < max && n < rx->re_nsub; n++) {
		int len = m[n + 1].rm_so >= 0 ? (int)(m[n + 1].rm_eo - m[n + 1].rm_so) : 0;
		snprintf(groups[n], 512, "%.*s", len, text + (len ? m[n + 1].rm_so : 0));
		groups[n][strcspn(groups[n], "\n")] = '\0';
	}
	return n;
}

/* Trim spaces and quotes, as Ollama's envconfig does. */
void diag_env_trimmed(const char *v, char *out, size_t size)
{
	while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
		v++;
	snprintf(out, size, "%s", v);
	size_t n = strlen(out);
	while (n && strchr(" \t\r\n\"'", out[n - 1]))
		out[--n] = '\0';
}

bool diag_env_true(const char *raw)
{
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
	char v[256];
	diag_env_trimmed(raw ? raw : "", v, sizeof(v));
	if (!*v)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		if (!strcmp(v, no[i]))
			return false;
	return true;
}
