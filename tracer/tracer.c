/* The Tracer object: configuration, spawning, the event sink and counters.
 * The stop -> event state machine is in loop.c. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "filter.h"
#include "tracer-internal.h"

#define OUTPUT_MAX_DEFAULT (64 * 1024)

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int strv_copy(const char *const *in, char ***ret)
{
	size_t n = 0;
	while (in && in[n])
		n++;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = strdup(in[i]);
		if (!v[i]) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	return 0;
}

Tracer *tracer_free(Tracer *t)
{
	if (!t)
		return NULL;
	waitsig_restore(t);
	tracee_table_done(&t->tracees);
	if (t->filter)
		seccomp_release(t->filter);
	if (t->launch_pipe >= 0)
		close(t->launch_pipe);
	strv_free(t->env_keep);
	free(t->scratch);
	proc_buffers_free(t->proc);
	free(t);
	return NULL;
}

int tracer_new(const TracerConfig *cfg, Tracer **ret)
{
	if (!cfg || !cfg->on_event || cfg->n_output_fds > TRACER_MAX_OUTPUT_FDS)
		return -EINVAL;
	Tracer *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->launch_pipe = -1;
	t->cfg = *cfg;
	memcpy(t->output_fds, cfg->output_fds, cfg->n_output_fds * sizeof(int));
	t->cfg.output_fds = t->output_fds;
	if (cfg->forward_signals)
		t->forward_copy = *cfg->forward_signals;
	else
		sigemptyset(&t->forward_copy);
	t->cfg.forward_signals = &t->forward_copy;
	if (!t->cfg.output_max)
		t->cfg.output_max = OUTPUT_MAX_DEFAULT;
	clock_gettime(CLOCK_MONOTONIC, &t->t0);

	int r = tracee_table_init(&t->tracees);
	if (r >= 0 && cfg->env_keep)
		r = strv_copy(cfg->env_keep, &t->env_keep);
	if (r >= 0)
		r = syscall_table_build(t->by_nr);
	if (r >= 0)
		r = filter_build(t->output_fds, cfg->n_output_fds, &t->filter);
	if (r >= 0 && !(t->scratch = malloc(t->cfg.output_max)))
		r = -ENOMEM;
	if (r >= 0)
		r = proc_buffers_new(&t->proc);
	if (r < 0) {
		tracer_free(t);
		return r;
	}
	t->cfg.env_keep = NULL;	/* use the owned copy only */
	*ret = t;
	return 0;
}

uint64_t tracer_now_ns(const Tracer *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t->t0.tv_sec) * 1000000000u +
	       (uint64_t)now.tv_nsec - (uint64_t)t->t0.tv_nsec;
}

void tracer_stamp(const Tracer *t, const Tracee *tr, TracerEvent *ev)
{
	ev->t_ns = tracer_now_ns(t);
	ev->pid = tr->tgid;
	ev->tid = tr->tid;
	ev->ppid = tr->ppid;
}

void tracer_emit(Tracer *t, const Tracee *tr, TracerEvent *ev)
{
	tracer_stamp(t, tr, ev);
	t->cfg.on_event(ev, t->cfg.userdata);
}

int tracer_spawn(Tracer *t, const char *path, char *const argv[], char *const envp[])
{
	if (t->root)
		return -EBUSY;
	/* Take the signals before forking: one sent between the fork and
	 * the first wait is then pending, not lost or fatal. */
	t->spawn_step = "cannot take the signals";
	int r = waitsig_take(t);
	if (r < 0)
		return r;
	r = launch_child(t, path, argv, envp);
	if (r < 0)
		waitsig_restore(t);
	return r;
}

const char *tracer_spawn_step(const Tracer *t)
{
	return t->spawn_step ? t->spawn_step : "ptrace";
}

void tracer_set_deadline(Tracer *t, int64_t in_ns, void (*fn)(void *userdata))
{
	if (in_ns < 0 || !fn) {
		t->deadline_fn = NULL;
		return;
	}
	t->deadline_ns = tracer_now_ns(t) + (uint64_t)in_ns;
	t->deadline_fn = fn;
}

int tracer_kill_all(Tracer *t, int sig)
{
	int n = 0;
	/* Each process once, through its leader; a leader that exited
	 * before its threads is no longer in the table, but its process
	 * still takes signals. */
	for (size_t b = 0; b < t->tracees.n_buckets; b++)
		for (Tracee *tr = t->tracees.buckets[b]; tr; tr = tr->next)
			if (tr->tid == tr->tgid || !tracee_find(&t->tracees, tr->tgid))
				n += kill(tr->tgid, sig) == 0;
	return n;
}

void tracer_get_stats(const Tracer *t, TracerStats *ret)
{
	*ret = t->stats;
}
