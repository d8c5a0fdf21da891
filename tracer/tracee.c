/* The live-task table: a chained hash on tid that grows by doubling, so a
 * server that spawns thousands of short-lived children stays O(1) per stop
 * and its memory follows the number of live tasks, not the total seen. */
#include "tracee.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64

static size_t bucket_of(const TraceeTable *t, pid_t tid)
{
	/* Fibonacci hashing spreads sequential pids across buckets. */
	return (size_t)(((uint32_t)tid * 2654435769u) >> 7) & (t->n_buckets - 1);
}

int tracee_table_init(TraceeTable *t)
{
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->n_buckets = INITIAL_BUCKETS;
	t->count = 0;
	return 0;
}

void tracee_clear_pending(Tracee *tr)
{
	free(tr->pending.path);
	free(tr->pending.raw);
	free(tr->pending.redirected);
	memset(&tr->pending, 0, sizeof(tr->pending));
	tr->in_syscall = false;
}

static void tracee_free(Tracee *tr)
{
	tracee_clear_pending(tr);
	free(tr);
}

void tracee_table_done(TraceeTable *t)
{
	for (size_t i = 0; i < t->n_buckets && t->buckets; i++) {
		Tracee *tr = t->buckets[i];
		while (tr) {
			Tracee *next = tr->next;
			tracee_free(tr);
			tr = next;
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

Tracee *tracee_find(const TraceeTable *t, pid_t tid)
{
	for (Tracee *tr = t->buckets[bucket_of(t, tid)]; tr; tr = tr->next)
		if (tr->tid == tid)
			return tr;
	return NULL;
}

static int grow(TraceeTable *t)
{
	size_t old_n = t->n_buckets;
	Tracee **old = t->buckets;
	Tracee **nb = calloc(old_n * 2, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	t->buckets = nb;
	t->n_buckets = old_n * 2;
	for (size_t i = 0; i < old_n; i++) {
		Tracee *tr = old[i];
		while (tr) {
			Tracee *next = tr->next;
			size_t b = bucket_of(t, tr->tid);
			tr->next = nb[b];
			nb[b] = tr;
			tr = next;
		}
	}
	free(old);
	return 0;
}

static void link_entry(TraceeTable *t, Tracee *tr)
{
	size_t b = bucket_of(t, tr->tid);
	tr->next = t->buckets[b];
	t->buckets[b] = tr;
	t->count++;
}

static Tracee *unlink_entry(TraceeTable *t, pid_t tid)
{
	for (Tracee **pp = &t->buckets[bucket_of(t, tid)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->tid == tid) {
			Tracee *tr = *pp;
			*pp = tr->next;
			t->count--;
			return tr;
		}
	}
	return NULL;
}

int tracee_add(TraceeTable *t, pid_t tid, pid_t tgid, pid_t ppid, Tracee **ret)
{
	if (tracee_find(t, tid))
		return -EEXIST;
	if (t->count >= t->n_buckets * 2) {
		int r = grow(t);
		if (r < 0)
			return r;
	}
	Tracee *tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->tid = tid;
	tr->tgid = tgid;
	tr->ppid = ppid;
	link_entry(t, tr);
	*ret = tr;
	return 0;
}

void tracee_remove(TraceeTable *t, pid_t tid)
{
	Tracee *tr = unlink_entry(t, tid);
	if (tr)
		tracee_free(tr);
}

int tracee_rekey(TraceeTable *t, pid_t from, pid_t to)
{
	Tracee *tr = unlink_entry(t, from);
	if (!tr)
		return -ENOENT;
	tracee_remove(t, to);
	tr->tid = to;
	tr->tgid = to;
	link_entry(t, tr);
	return 0;
}
