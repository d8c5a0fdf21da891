/* Unit tests: calls with a time limit (base/worker.h).  A stuck call is
 * made with a job that waits on a pipe until the test writes to it, as a
 * read on a stalled file system would wait. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/worker.h"
#include "../check-run.h"

#define MS 1000000ull

#define LONG (30000 * MS)	/* for calls that end at once: any machine load */

static atomic_int ran, freed;

static int returns_arg(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return *(int *)arg;
}

static void count_free(void *arg)
{
	(void)arg;
	atomic_fetch_add(&freed, 1);
}

/* Waits until the pipe whose read end ARG points to is readable. */
static int waits(void *arg)
{
	struct pollfd p = { *(int *)arg, POLLIN, 0 };
	(void)poll(&p, 1, 10000);
	return 7;
}

static void wait_freed(int n)
{
	for (int i = 0; i < 1000 && atomic_load(&freed) < n; i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
}

/* A job's own error is its result, not the worker's: -EAGAIN and
 * -ETIMEDOUT from the job come back as results of a call that ran. */
START_TEST(test_worker_job_errors_are_results)
{
	Worker *w;
	ck_assert_int_eq(worker_new(&w), 0);
	static const int values[] = { 0, 5, -EAGAIN, -ETIMEDOUT, -EBUSY };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int v = values[i], result = 12345;
		atomic_store(&freed, 0);
		ck_assert_int_eq(worker_call(w, returns_arg, &v, count_free, LONG, &result), 0);
		ck_assert_int_eq(result, values[i]);
		ck_assert_int_eq(atomic_load(&freed), 0);	/* ARG stays the caller's */
	}
	ck_assert_uint_eq(worker_stuck(w), 0);
	worker_free(w);
}
END_TEST

/* A call past its limit: -ETIMEDOUT, the stuck thread frees ARG once it
 * is let go, and the next call runs on a fresh thread. */
START_TEST(test_worker_stuck_call_times_out_and_frees_later)
{
	Worker *w;
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(worker_new(&w), 0);
	atomic_store(&freed, 0);
	int *arg = malloc(sizeof(*arg)), result = 12345;
	*arg = fds[0];
	ck_assert_int_eq(worker_call(w, waits, arg, count_free, 50 * MS, &result), -ETIMEDOUT);
	ck_assert_int_eq(result, 12345);
	ck_assert_uint_eq(worker_stuck(w), 1);
	ck_assert_int_eq(atomic_load(&freed), 0);

	int v = 3;
	ck_assert_int_eq(worker_call(w, returns_arg, &v, NULL, LONG, &result), 0);
	ck_assert_int_eq(result, 3);

	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	wait_freed(1);
	ck_assert_int_eq(atomic_load(&freed), 1);
	free(arg);
	worker_free(w);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* WORKER_STUCK_MAX threads stuck: -EBUSY without running the job, until
 * one stuck thread is let go. */
START_TEST(test_worker_refuses_past_stuck_max_until_one_ends)
{
	Worker *w;
	int fds[WORKER_STUCK_MAX][2], result;
	ck_assert_int_eq(worker_new(&w), 0);
	atomic_store(&freed, 0);
	for (int i = 0; i < WORKER_STUCK_MAX; i++) {
		ck_assert_int_eq(pipe(fds[i]), 0);
		ck_assert_int_eq(worker_call(w, waits, &fds[i][0], count_free, 20 * MS, &result), -ETIMEDOUT);
	}
	atomic_store(&ran, 0);
	int v = 1;
	ck_assert_int_eq(worker_call(w, returns_arg, &v, count_free, LONG, &result), -EBUSY);
	ck_assert_int_eq(atomic_load(&ran), 0);
	ck_assert_int_eq(atomic_load(&freed), 0);

	ck_assert_int_eq(write(fds[3][1], "x", 1), 1);	/* one of them goes */
	wait_freed(1);
	ck_assert_int_eq(atomic_load(&freed), 1);
	ck_assert_int_eq(worker_call(w, returns_arg, &v, NULL, LONG, &result), 0);
	ck_assert_int_eq(result, 1);
	ck_assert_int_eq(atomic_load(&ran), 1);
	ck_assert_uint_eq(worker_stuck(w), WORKER_STUCK_MAX);

	for (int i = 0; i < WORKER_STUCK_MAX; i++)
		ck_assert_int_eq(write(fds[i][1], "x", 1), 1);
	wait_freed(WORKER_STUCK_MAX);
	ck_assert_int_eq(atomic_load(&freed), WORKER_STUCK_MAX);
	worker_free(w);
	for (int i = 0; i < WORKER_STUCK_MAX; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("worker");
	tcase_add_test(tc, test_worker_job_errors_are_results);
	tcase_add_test(tc, test_worker_stuck_call_times_out_and_frees_later);
	tcase_add_test(tc, test_worker_refuses_past_stuck_max_until_one_ends);
	suite_add_tcase(s, tc);
	return check_run(s);
}
