/* Benchmark workload for bench/overhead.
 *
 * Usage: loops MODE N
 *
 * Each mode runs a tight loop of N system calls and prints exactly one
 * line, "ns_per_call=<float>", from the process that ran the loop.  Only
 * the loop itself is timed so that process start-up and tracer attach
 * cost do not leak into the per-call figure.
 *
 * getppid is used for the untraced rows because it is cheap, has no side
 * effects and is never in a tracer's filter: it measures what a seccomp
 * filter costs on syscalls the filter lets through.  openat on a missing
 * path measures the full cost of a traced syscall without touching the
 * file system cache in ways that would vary between runs.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MISSING_PATH "/nonexistent-vgpu-bench/libcuda.so.1"

static long n_calls;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(double start, double end)
{
	printf("ns_per_call=%.2f\n", (end - start) / (double)n_calls);
	fflush(stdout);
}

static void getppid_loop(void)
{
	double start = now_ns();

	/* Raw syscall: glibc could otherwise cache or inline the result. */
	for (long i = 0; i < n_calls; i++)
		syscall(SYS_getppid);
	report(start, now_ns());
}

static void *thread_main(void *arg)
{
	(void)arg;
	getppid_loop();
	return NULL;
}

static int run_thread(void)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, thread_main, NULL);

	if (err) {
		fprintf(stderr, "loops: pthread_create: %s\n", strerror(err));
		return 1;
	}
	err = pthread_join(t, NULL);
	if (err) {
		fprintf(stderr, "loops: pthread_join: %s\n", strerror(err));
		return 1;
	}
	return 0;
}

static int run_child(void)
{
	int status;
	pid_t pid;

	/* Nothing is buffered yet, but flush so the child cannot duplicate it. */
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("loops: fork");
		return 1;
	}
	if (pid == 0) {
		getppid_loop();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("loops: waitpid");
		return 1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int run_openat(void)
{
	double start = now_ns();

	for (long i = 0; i < n_calls; i++) {
		int fd = openat(AT_FDCWD, MISSING_PATH, O_RDONLY);

		/* A result other than ENOENT would mean we measured something else. */
		if (fd >= 0 || errno != ENOENT) {
			fprintf(stderr, "loops: openat %s did not fail with ENOENT\n",
				MISSING_PATH);
			exit(3);
		}
	}
	report(start, now_ns());
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: loops getppid-top|getppid-child|getppid-thread|openat-missing N\n");
	return 2;
}

int main(int argc, char **argv)
{
	char *end;

	if (argc != 3)
		return usage();
	errno = 0;
	n_calls = strtol(argv[2], &end, 10);
	if (errno || *end || end == argv[2] || n_calls <= 0)
		return usage();

	if (strcmp(argv[1], "getppid-top") == 0) {
		getppid_loop();
		return 0;
	}
	if (strcmp(argv[1], "getppid-child") == 0)
		return run_child();
	if (strcmp(argv[1], "getppid-thread") == 0)
		return run_thread();
	if (strcmp(argv[1], "openat-missing") == 0)
		return run_openat();
	return usage();
}
