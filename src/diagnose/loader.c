/* What the dynamic linker did for one backend library, reconstructed from
 * the trace: which DT_NEEDED it looked for where, what it found, what it
 * never found.  glibc's search order (ld.so(8)): DT_RPATH (only without
 * DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH, ld.so.cache, the default
 * directories; each directory also through its glibc-hwcaps/ subdirs.  A
 * soname already loaded is matched without a syscall, and the loader
 * stops at the first dependency it cannot find. */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/path.h"
#include "diagnose/loader.h"

/* The directory a candidate path stands for: its parent, with the
 * subdirectories glibc tries inside each directory folded in:
 * glibc-hwcaps/<level>/, and the legacy ones (tls/, the platform's). */
static bool is_legacy(const HostArch *arch, const char *name)
{
	for (const char *const *l = arch->legacy; *l; l++)
		if (!strcmp(name, *l))
			return true;
	return false;
}

static void search_dir(const HostArch *arch, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s", path);
	char *slash = strrchr(out, '/');
	if (slash)
		*(slash == out ? slash + 1 : slash) = '\0';
	char *h = strstr(out, "/glibc-hwcaps/");
	if (h)
		*h = '\0';
	for (;;) {
		char *last = strrchr(out, '/');
		if (!last || last == out || !is_legacy(arch, last + 1))
			break;
		*last = '\0';
	}
}

static json_object *elf_of(json_object *elf, const char *path)
{
	json_object *e;
	return json_object_object_get_ex(elf, path, &e) ? e : NULL;
}


/* Does the colon list LIST (with $ORIGIN = ORIGIN) name directory DIR?
 * An empty element is the working directory: *ret_cwd says it exists. */
static bool list_has(const char *list, const char *origin, const char *dir, bool *ret_cwd)
{
	if (!list)
		return false;
	_cleanup_free_ char *copy = strdup(list);
	if (!copy)
		return false;
	bool found = false;
	char *p = copy;
	for (;;) {
		char *colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		if (!*p && ret_cwd)
			*ret_cwd = true;
		char exp[PATH_MAX], norm[PATH_MAX];
		if (!strncmp(p, "$ORIGIN", 7))
			snprintf(exp, sizeof(exp), "%s%s", origin, p + 7);
		else
			snprintf(exp, sizeof(exp), "%s", p);
		if (*exp == '/' && path_normalize(exp, norm, sizeof(norm)) >= 0 && !strcmp(norm, dir))
			found = true;
		if (!colon)
			break;
		p = colon + 1;
	}
	return found;
}

int loader_reconstruct(const LoaderInput *in, LoaderResult *ret)
{
	LoaderResult r = { 0 };
	char **queue = NULL, **seen = NULL;
	int rc = 0;
	json_object *lib = elf_of(in->elf, in->library);
	json_object *needed = jarray(lib, "needed");
	if (needed) {
		r.have_facts = true;
		rc = strv_push_all(&queue, needed);
	} else {
		/* No ELF facts (an older trace): every library name the process
		 * looked up after the open stands in for the DT_NEEDED list. */
		for (size_t i = 0; i < in->n_opens && rc >= 0; i++)
			if (in->opens[i].seq > in->after_seq &&
			    strcmp(in->opens[i].path, in->library))
				rc = strv_push(&queue, path_base_name(in->opens[i].path));
	}

	for (size_t qi = 0; rc >= 0 && queue && queue[qi]; qi++) {
		const char *soname = queue[qi];
		bool dup = false;
		for (char **s = seen; s && *s && !dup; s++)
			dup = !strcmp(*s, soname);
		if (dup || (rc = strv_push(&seen, soname)) < 0)
			continue;
		const Open *found = NULL;
		size_t attempts = 0;
		for (size_t i = 0; i < in->n_opens; i++) {
			const Open *o = &in->opens[i];
			if (o->seq <= in->after_seq || strcmp(path_base_name(o->path), soname))
				continue;
			attempts++;
			if (o->ok) {
				found = o;
				break;
			}
		}
		if (found) {
			json_object *dep = elf_of(in->elf, found->path);
			rc = strv_push_all(&queue, jarray(dep, "needed"));
			const char *err = jstr(dep, "error");
			json_object *cls;
			if (dep && (err || (json_object_object_get_ex(dep, "class", &cls) &&
					    json_object_get_int(cls) != 64)))
				rc = rc < 0 ? rc : strv_push(&r.bad, found->path);
			continue;
		}
		if (!attempts)
			continue;	/* already loaded, or never reached */
		if ((rc = strv_push(&r.missing, soname)) < 0)
			break;
		for (size_t i = 0; i < in->n_opens && rc >= 0; i++) {
			const Open *o = &in->opens[i];
			if (o->seq > in->after_seq && !strcmp(path_base_name(o->path), soname)) {
				rc = strv_push(&r.searched, o->path);
				if (rc >= 0 && !r.first_missing_seq)
					r.first_missing_seq = o->seq;
				r.last_missing_seq = o->seq;
			}
		}
	}
	strv_free_all(queue);
	strv_free_all(seen);
	if (rc < 0) {
		loader_result_done(&r);
		return rc;
	}
	*ret = r;
	return 0;
}

/* Append "; N. LABEL a, b" for the searched directories of one group. */
static void group(char *out, size_t size, int *n, const char *label, char *const *dirs, size_t nd,
		  bool (*in_group)(const LoaderInput *, const char *), const LoaderInput *in,
		  bool *used)
{
	char list[4096] = "";
	size_t ll = 0;
	for (size_t i = 0; i < nd; i++) {
		if (used[i] || !in_group(in, dirs[i]))
			continue;
		used[i] = true;
		ll += (size_t)snprintf(list + ll, ll < sizeof(list) ? sizeof(list) - ll : 0, "%s%s",
				       ll ? ", " : "", dirs[i]);
	}
	if (!ll)
		return;
	size_t len = strlen(out);
	snprintf(out + len, len < size ? size - len : 0, "%s%d. %s %s", *n ? "; " : "", *n + 1, label,
		 list);
	(*n)++;
}

static bool in_llp(const LoaderInput *in, const char *dir)
{
	return list_has(in->ld_library_path, "", dir, NULL);
}

static bool in_runpath(const LoaderInput *in, const char *dir)
{
	return list_has(in->runpath, in->origin, dir, NULL);
}

static bool in_cwd(const LoaderInput *in, const char *dir)
{
	return in->cwd && !strcmp(dir, in->cwd);
}

static bool in_default(const LoaderInput *in, const char *dir)
{
	for (const char *const *d = in->arch->default_dirs; *d; d++)
		if (!strcmp(dir, *d))
			return true;
	return false;
}

static bool in_other(const LoaderInput *in, const char *dir)
{
	(void)in;
	(void)dir;
	return true;
}

/* What the recorded ld.so.cache gave for the first missing soname: the
 * needing library's observe/elf event carries it ("ldcache"). */
static const char *cache_says(const LoaderInput *in, const LoaderResult *res)
{
	json_object *lib = elf_of(in->elf, in->library), *cache, *v;
	if (!res->missing || !json_object_object_get_ex(lib, "ldcache", &cache) ||
	    !json_object_object_get_ex(cache, res->missing[0], &v))
		return "not recorded";
	return json_object_is_type(v, json_type_string) ? "an entry, not loadable" : "no entry";
}

void loader_describe(const LoaderInput *in, const LoaderResult *res, char *out, size_t size)
{
	/* the distinct directories searched, in order */
	char *dirs[256];
	size_t nd = 0;
	for (char *const *s = res->searched; s && *s && nd < ELEMENTSOF(dirs); s++) {
		char d[PATH_MAX];
		search_dir(in->arch, *s, d, sizeof(d));
		bool dup = false;
		for (size_t i = 0; i < nd && !dup; i++)
			dup = !strcmp(dirs[i], d);
		if (!dup && (dirs[nd] = strdup(d)))
			nd++;
	}
	bool used[256] = { false };
	bool cwd = false;
	list_has(in->runpath, in->origin, "", &cwd);
	int n = 0;
	size_t len = (size_t)snprintf(out, size, "%s needs ", path_base_name(in->library));
	for (char *const *m = res->missing; m && *m; m++)
		len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s",
					m == res->missing ? "" : ", ", *m);
	snprintf(out + len, len < size ? size - len : 0, ", found nowhere: ");
	/* glibc: DT_RPATH (only without DT_RUNPATH) comes before
	 * LD_LIBRARY_PATH, DT_RUNPATH after it */
	if (in->runpath_is_rpath)
		group(out, size, &n, "RPATH", dirs, nd, in_runpath, in, used);
	group(out, size, &n, "LD_LIBRARY_PATH", dirs, nd, in_llp, in, used);
	if (!in->runpath_is_rpath)
		group(out, size, &n, "RUNPATH", dirs, nd, in_runpath, in, used);
	len = strlen(out);
	if (cwd)
		group(out, size, &n, "the working directory (an empty RUNPATH element)", dirs, nd, in_cwd,
		      in, used);
	len = strlen(out);
	snprintf(out + len, len < size ? size - len : 0, "%s%d. ld.so.cache: %s", n ? "; " : "",
		 n + 1, cache_says(in, res));
	n++;
	group(out, size, &n, "default directories", dirs, nd, in_default, in, used);
	group(out, size, &n, "elsewhere", dirs, nd, in_other, in, used);
	for (size_t i = 0; i < nd; i++)
		free(dirs[i]);
}

void loader_result_done(LoaderResult *r)
{
	strv_free_all(r->missing);
	strv_free_all(r->searched);
	strv_free_all(r->bad);
	memset(r, 0, sizeof(*r));
}
