/* Library observation (see observe.h). */
#include "observe.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* A set of paths: chained hash, grown by doubling. */
typedef struct Seen {
	char *path;
	struct Seen *next;
} Seen;

struct Observer {
	Seen **buckets;
	size_t n_buckets, count;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

int observer_new(Observer **ret)
{
	Observer *o = calloc(1, sizeof(*o));
	if (!o || !(o->buckets = calloc(64, sizeof(*o->buckets)))) {
		free(o);
		return -ENOMEM;
	}
	o->n_buckets = 64;
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
	free(o);
	return NULL;
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
			s->next = b[fnv1a(s->path) & (n - 1)];
			b[fnv1a(s->path) & (n - 1)] = s;
		}
	free(o->buckets);
	o->buckets = b;
	o->n_buckets = n;
	return 0;
}

/* 1 if PATH was added, 0 if it was there, -ENOMEM. */
static int add(Observer *o, const char *path)
{
	for (Seen *s = o->buckets[fnv1a(path) & (o->n_buckets - 1)]; s; s = s->next)
		if (strcmp(s->path, path) == 0)
			return 0;
	if (o->count >= o->n_buckets * 2 && grow(o) < 0)
		return -ENOMEM;
	Seen *s = malloc(sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	size_t b = fnv1a(path) & (o->n_buckets - 1);
	s->next = o->buckets[b];
	o->buckets[b] = s;
	o->count++;
	return 1;
}

bool observe_is_library_name(const char *name)
{
	const char *so = strstr(name, ".so");
	if (!so)
		return false;
	/* ".so" at the end, or followed by a version: ".so.1", ".so.12.4" */
	for (so += 3; *so; so++)
		if (*so != '.' && (*so < '0' || *so > '9'))
			return false;
	return true;
}

int observer_on_event(Observer *o, const TracerEvent *ev, ElfFacts *ret_facts, int *ret_error)
{
	const TracerSyscallEvent *s = &ev->sys;
	if (ev->kind != TRACER_EVENT_SYSCALL || s->args != TRACER_ARGS_PATH || !s->path ||
	    !s->has_result || s->is_error || strncmp(s->name, "open", 4) != 0)
		return 0;
	const char *base = strrchr(s->path, '/');
	if (!observe_is_library_name(base ? base + 1 : s->path))
		return 0;
	int r = add(o, s->path);
	if (r <= 0)
		return r;
	memset(ret_facts, 0, sizeof(*ret_facts));
	*ret_error = elf_parse_file(s->path, ret_facts);
	return 1;
}
