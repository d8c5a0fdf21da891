/* The report writer thread (see report-writer.h). */
#include "report/report-writer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/output.h"
#include "report/report-out.h"

struct ReportWriter {
	const char *path;
	const char *what;	/* "report", "metrics": for the message */
	mode_t mode;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	char *pending;		/* the newest text not yet taken */
	size_t pending_len;
	bool stop;
	int last_error;		/* said once per distinct error */
	int result;
};

/* The time NS from now, on the clock the condition variable waits by. */
static struct timespec after(uint64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns += (uint64_t)ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

static void *writer_main(void *arg)
{
	ReportWriter *w = arg;
	struct timespec next = after(0);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->pending && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		/* At most one write per interval: the texts posted meanwhile
		 * replace one another, the newest goes in when it ends (or at
		 * once when the writer is stopped: the run's last report). */
		while (w->pending && !w->stop &&
		       pthread_cond_timedwait(&w->wake, &w->lock, &next) != ETIMEDOUT)
			;
		if (!w->pending)
			break;
		char *text = w->pending;
		size_t len = w->pending_len;
		w->pending = NULL;
		pthread_mutex_unlock(&w->lock);
		int rc = report_write_buffer(text, len, w->path, false, w->mode);
		free(text);
		if (rc < 0 && rc != w->last_error)
			eprintf("vgpu-run: cannot write the %s '%s': %s\n", w->what, w->path, strerror(-rc));
		next = after(REPORT_WRITER_INTERVAL_NS);
		pthread_mutex_lock(&w->lock);
		w->last_error = rc < 0 ? rc : 0;
		w->result = rc;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int report_writer_new(const char *path, const char *what, mode_t mode, ReportWriter **ret)
{
	ReportWriter *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = path;
	w->what = what;
	w->mode = mode;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* Every signal stays the event loop's: the thread starts with all
	 * of them blocked. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -rc;
	}
	*ret = w;
	return 0;
}

void report_writer_post(ReportWriter *w, char *text, size_t len)
{
	pthread_mutex_lock(&w->lock);
	free(w->pending);
	w->pending = text;
	w->pending_len = len;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

int report_writer_free(ReportWriter *w)
{
	if (!w)
		return 0;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	int rc = w->result;
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}
