/* A call with a time limit (see worker.h).
 *
 * One thread serves the calls one at a time, so a call costs a wake-up,
 * not a thread start.  When a call passes its limit, that thread is
 * abandoned: it frees the call's argument and itself when the kernel lets
 * it go, and the next call starts a fresh thread. */
#include "base/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct Thread {
	pthread_t id;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC */
	int (*fn)(void *);
	void *arg;
	void (*free_arg)(void *);
	int result;
	bool job, done, abandoned, quit;
} Thread;

struct Worker {
	Thread *cur;
	unsigned stuck;		/* abandoned, ever */
};

/* Threads still stuck, in the whole process: the limit is on these, so
 * calls work again once a stalled file system lets its threads go. */
static _Atomic unsigned stuck_now;

static void thread_free(Thread *t)
{
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}

static void *thread_main(void *p)
{
	Thread *t = p;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->job && !t->quit)
			pthread_cond_wait(&t->cond, &t->lock);
		if (t->quit)
			break;
		pthread_mutex_unlock(&t->lock);
		int r = t->fn(t->arg);
		pthread_mutex_lock(&t->lock);
		t->result = r;
		t->done = true;
		t->job = false;
		if (t->abandoned) {
			/* the caller went on without us: what it left is
			 * ours.  Counted down first, so that whoever sees the
			 * argument freed also finds room for a new call. */
			stuck_now--;
			if (t->free_arg)
				t->free_arg(t->arg);
			break;
		}
		pthread_cond_broadcast(&t->cond);
	}
	bool own = t->abandoned;
	pthread_mutex_unlock(&t->lock);
	if (own)
		thread_free(t);
	return NULL;
}

static int thread_start(Thread **ret)
{
	Thread *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* every signal blocked in the thread: a signal meant for the caller's
	 * loop (taken synchronously there) must never land here */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = -pthread_create(&t->id, NULL, thread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		thread_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int worker_new(Worker **ret)
{
	Worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*ret = w;
	return 0;
}

void worker_free(Worker *w)
{
	if (!w)
		return;
	Thread *t = w->cur;
	if (t) {
		pthread_mutex_lock(&t->lock);
		t->quit = true;
		pthread_cond_broadcast(&t->cond);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->id, NULL);
		thread_free(t);
	}
	free(w);
}

int worker_call(Worker *w, int (*fn)(void *arg), void *arg, void (*free_arg)(void *arg), uint64_t timeout_ns,
		int *ret_result)
{
	if (!w->cur) {
		if (stuck_now >= WORKER_STUCK_MAX)
			return -EBUSY;
		int r = thread_start(&w->cur);
		if (r < 0)
			return r;
	}
	Thread *t = w->cur;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(timeout_ns / 1000000000);
	until.tv_nsec += (long)(timeout_ns % 1000000000);
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&t->lock);
	t->fn = fn;
	t->arg = arg;
	t->free_arg = free_arg;
	t->done = false;
	t->job = true;
	pthread_cond_broadcast(&t->cond);
	int e = 0;
	while (!t->done && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&t->cond, &t->lock, &until);
	if (!t->done) {
		t->abandoned = true;
		stuck_now++;	/* under the lock: the thread counts down under it */
		pthread_detach(t->id);
		pthread_mutex_unlock(&t->lock);
		w->cur = NULL;
		w->stuck++;
		return -ETIMEDOUT;
	}
	*ret_result = t->result;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

unsigned worker_stuck(const Worker *w)
{
	return w->stuck;
}
