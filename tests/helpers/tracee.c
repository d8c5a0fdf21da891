/* Test helper: one small program per tracing scenario, chosen by MODE.
 *
 * Each mode makes exactly the syscalls its live test asserts on, checks
 * what it got itself (so "the program was unharmed" is its exit status),
 * and exits 0 on success, 1 when something behaved wrongly, 2 on bad use.
 * Paths under /nonexistent-vgpu/ are probes: they fail with ENOENT. */
#include <dlfcn.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *self;

static int probe(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd < 0 && errno == ENOENT ? 0 : 1;
}

static void *thread_probe(void *arg)
{
	return (void *)(long)probe(arg);
}

/* fork, vfork+exec and a thread, each opening its own probe path. */
static int mode_fork_tree(void)
{
	int bad = 0, st;
	pid_t c = fork();
	if (c == 0)
		_exit(probe("/nonexistent-vgpu/fork-child"));
	bad |= waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st);

	c = vfork();
	if (c == 0) {
		execl(self, self, "open", "/nonexistent-vgpu/vfork-child", (char *)NULL);
		_exit(1);
	}
	bad |= waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st);

	pthread_t th;
	void *ret;
	/* no thread (no memory for its stack): nothing to join */
	if (pthread_create(&th, NULL, thread_probe, "/nonexistent-vgpu/thread") != 0)
		return 1;
	bad |= pthread_join(th, &ret) != 0 || ret != NULL;
	return bad;
}

static void *thread_exec(void *arg)
{
	(void)arg;
	execl(self, self, "open", "/nonexistent-vgpu/after-thread-exec", (char *)NULL);
	return (void *)1L;
}

/* exec from a non-leader thread: the tid changes to the process id. */
static int mode_thread_exec(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, thread_exec, NULL) != 0)
		return 1;
	for (;;)
		pause();	/* the exec ends this thread */
	return 1;	/* not reached */
}

/* Job control: a child stops itself; its parent must see the stop and be
 * able to continue it, as without a tracer. */
static int mode_selfstop(void)
{
	alarm(20);
	/* The child exits only when told: had it exited before the parent's
	 * WCONTINUED wait, that wait would report the exit instead. */
	int go[2];
	if (pipe(go) < 0)
		return 1;
	pid_t c = fork();
	if (c == 0) {
		char b;
		raise(SIGSTOP);
		_exit(read(go[0], &b, 1) == 1 ? 5 : 6);
	}
	int st;
	if (waitpid(c, &st, WUNTRACED) != c || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP)
		return 1;
	printf("stopped");
	kill(c, SIGCONT);
	if (waitpid(c, &st, WCONTINUED) != c || !WIFCONTINUED(st))
		return 1;
	printf(" continued");
	if (write(go[1], "x", 1) != 1)
		return 1;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return 1;
	printf(" exited=%d\n", WEXITSTATUS(st));
	return WEXITSTATUS(st) == 5 ? 0 : 1;
}

/* Bad pointers: an invalid address, and a string that runs off the end of
 * its mapping.  The kernel must answer EFAULT, as without a tracer. */
static int mode_badptr(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	int bad = 0;
	long r = syscall(SYS_openat, AT_FDCWD, (char *)1, O_RDONLY);
	bad |= !(r == -1 && errno == EFAULT);

	char *m = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	munmap(m + ps, ps);
	char *s = m + ps - 4;
	memcpy(s, "/abc", 4);	/* no NUL before the unmapped page */
	r = syscall(SYS_openat, AT_FDCWD, s, O_RDONLY);
	bad |= !(r == -1 && errno == EFAULT);
	return bad;
}

/* Relative paths against the cwd and against a dirfd. */
static int mode_relpath(const char *dir)
{
	if (chdir(dir) < 0)
		return 1;
	int bad = open("sub/../rel-file", O_RDONLY) != -1 || errno != ENOENT;
	int d = open("/etc", O_RDONLY | O_DIRECTORY);
	if (d < 0)
		return 1;
	int fd = openat(d, "./hostname", O_RDONLY);
	bad |= fd < 0;
	close(fd);
	fd = openat(d, "..//etc/./passwd", O_RDONLY);
	bad |= fd < 0;
	close(fd);
	close(d);
	return bad;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* Is TID blocked in syscall NR?  (/proc/TID/syscall starts with it.) */
static int blocked_in(pid_t tid, int nr)
{
	char path[64], buf[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int n = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	return n && atoi(buf) == nr && buf[0] != '-';
}

/* An open of a FIFO that blocks, is interrupted by a signal whose handler
 * has SA_RESTART, and is restarted by the kernel: one call for the
 * program, and it must be recorded once, with its final result. */
static int mode_fifo_restart(const char *dir)
{
	char fifo[512];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	if (mkfifo(fifo, 0600) < 0)
		return 1;
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	alarm(20);
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		while (!blocked_in(parent, SYS_openat))
			usleep(1000);
		kill(parent, SIGUSR1);
		usleep(50000);
		int w = open(fifo, O_WRONLY);
		_exit(w < 0);
	}
	int fd = open(fifo, O_RDONLY);
	int st;
	waitpid(c, &st, 0);
	unlink(fifo);
	return fd >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* N opens of one missing library: a long run's worth of traced calls. */
static int mode_opens(long n)
{
	for (long i = 0; i < n; i++)
		if (open("/nonexistent-vgpu/libvgpu-many.so.1", O_RDONLY) != -1 || errno != ENOENT)
			return 1;
	return 0;
}

static int mode_fstat(long n)
{
	struct stat st;
	for (long i = 0; i < n; i++)
		if (fstat(0, &st) < 0 && errno != EBADF)
			return 1;
	return 0;
}

static int mode_stderr(const char *text)
{
	if (write(2, text, strlen(text)) != (ssize_t)strlen(text))
		return 1;
	struct iovec iov[2] = { { "a", 1 }, { "b\n", 2 } };
	return writev(2, iov, 2) == 3 ? 0 : 1;
}

static int mode_kill_child(void)
{
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	printf("child=%d\n", (int)c);
	fflush(stdout);
	if (kill(c, SIGTERM) < 0)
		return 1;
	int st;
	return waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM ? 0 : 1;
}

/* Says "pid=N", then sends itself SIGKILL: a kill that never returns. */
static int mode_sigkill_self(void)
{
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	kill(getpid(), SIGKILL);
	return 1;
}

static int term_code;

static void on_term(int sig)
{
	(void)sig;
	_exit(term_code);
}

/* Says "ready <pid>" once SIGTERM is handled; exits CODE on SIGTERM. */
static int mode_catch_term(int code)
{
	term_code = code;
	signal(SIGTERM, on_term);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	alarm(30);
	for (;;)
		pause();
	return 1;	/* not reached */
}

static void on_any(int sig)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "got %d\n", sig);
	(void)!write(1, line, (size_t)n);
	_exit(100 + sig);
}

/* A handler for every signal that can have one: says "ready <pid>", then
 * opens a probe path every 50 ms (events for the tracer to write) until a
 * signal comes; says "got <n>" for it and exits 100+n.  Without CATCH
 * ("wait"): no handler, each signal has its default action. */
static int mode_signals(int catch)
{
	for (int sig = 1; catch && sig <= SIGRTMAX; sig++) {
		struct sigaction sa = { .sa_handler = on_any };
		/* the first signal only: "got" to a closed pipe raises SIGPIPE */
		sigfillset(&sa.sa_mask);
		(void)sigaction(sig, &sa, NULL);	/* EINVAL: KILL, STOP, glibc's */
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; i < 600; i++) {	/* 30 s, then give up */
		usleep(50000);
		(void)probe("/nonexistent-vgpu/tick");
	}
	return 1;
}

/* A fake server for --discover-only: says the ollama policy's
 * "discovered" line on fd 2 (pointed at /dev/null: the tracer captures it
 * at the write) unless HOW is "silent", ignores SIGTERM when HOW is
 * "deaf", and runs until a signal ends it (30 s at most). */
static int mode_fake_server(const char *how)
{
	static const char line[] = "time=now level=INFO msg=\"inference compute\" id=0 library=cpu\n";
	int null = open("/dev/null", O_WRONLY);
	if (null < 0 || dup2(null, 2) < 0)
		return 1;
	if (!strcmp(how, "deaf"))
		signal(SIGTERM, SIG_IGN);
	if (strcmp(how, "silent") && write(2, line, sizeof(line) - 1) < 0)
		return 1;
	sleep(30);
	return 1;
}

/* Print this process's NoNewPrivs flag (0 or 1) from /proc/self/status. */
static int mode_nnp(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "NoNewPrivs:", 11)) {
			printf("nnp=%d\n", atoi(line + 11));
			fclose(f);
			return 0;
		}
	return 1;
}


/* ---- Stress modes (tests/live/test-stress-live.c) ---- */

/* N children, at most BATCH alive at once, child I exiting I % 256; each
 * is reaped and checked against the code it was given.  Prints the count
 * and the sum of the codes. */
static int mode_forks(long n, long batch)
{
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	if (!pids || batch < 1)
		return 1;
	long started = 0, reaped = 0, sum = 0;
	int bad = 0;
	while (reaped < n) {
		while (started < n && started - reaped < batch) {
			pid_t c = fork();
			if (c < 0)
				return 1;
			if (c == 0)
				_exit((int)(started % 256));
			pids[started++] = c;
		}
		int st;
		pid_t c = wait(&st);
		if (c < 0)
			return 1;
		long i = 0;
		while (i < started && pids[i] != c)
			i++;
		bad |= i == started || !WIFEXITED(st) || WEXITSTATUS(st) != i % 256;
		if (i < started)
			pids[i] = 0;
		sum += WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
		reaped++;
	}
	free(pids);
	printf("forks=%ld sum=%ld\n", reaped, sum);
	return bad;
}

static pthread_barrier_t all_up;

static void *thread_wait_all(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&all_up);
	return NULL;
}

/* N threads alive at once: each waits on a barrier that opens only when
 * all N (and the main thread) are there, then exits; all are joined. */
static int mode_threads(long n)
{
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	pthread_attr_t attr;
	/* small stacks, but not below the least: 128 KiB on arm64 (64 KiB pages) */
	long least = sysconf(_SC_THREAD_STACK_MIN);
	size_t stack = least > 64 * 1024 ? (size_t)least : 64 * 1024;
	if (!th || pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, stack) ||
	    pthread_barrier_init(&all_up, NULL, (unsigned)n + 1))
		return 1;
	for (long i = 0; i < n; i++)
		if (pthread_create(&th[i], &attr, thread_wait_all, NULL))
			return 1;
	pthread_barrier_wait(&all_up);
	for (long i = 0; i < n; i++)
		if (pthread_join(th[i], NULL))
			return 1;
	free(th);
	printf("threads=%ld\n", n);
	return 0;
}

/* Re-exec itself N more times, then exit 33: one process, N+1 programs. */
static int mode_exec_chain(long n)
{
	if (n <= 0) {
		printf("chain end\n");
		return 33;
	}
	char next[32];
	snprintf(next, sizeof(next), "%ld", n - 1);
	execl("/proc/self/exe", self, "exec-chain", next, (char *)NULL);
	return 1;
}

/* P processes at once, each making N opens of its own missing library
 * (/nonexistent-vgpu/libstress-<i>.so): none starts before all exist. */
static int mode_procs_opens(long p, long n)
{
	int go[2];
	if (pipe(go) < 0)
		return 1;
	for (long i = 0; i < p; i++) {
		pid_t c = fork();
		if (c < 0)
			return 1;
		if (c == 0) {
			char b, path[64];
			close(go[1]);
			if (read(go[0], &b, 1) != 0)
				_exit(1);
			snprintf(path, sizeof(path), "/nonexistent-vgpu/libstress-%ld.so", i);
			for (long k = 0; k < n; k++)
				if (open(path, O_RDONLY) != -1 || errno != ENOENT)
					_exit(1);
			_exit(0);
		}
	}
	close(go[1]);	/* EOF: all of them go */
	int bad = 0, st;
	for (long i = 0; i < p; i++)
		bad |= wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	printf("procs=%ld opens=%ld\n", p, p * n);
	return bad;
}

static const char *errno_name(int e)
{
	return e == 0 ? "0" : e == EPERM ? "EPERM" : e == ESRCH ? "ESRCH" : e == EACCES ? "EACCES" : "other";
}

/* ptrace from inside: PTRACE_ATTACH and PTRACE_SEIZE on its own child
 * (blocked on a pipe), then the child's end, then PTRACE_TRACEME last (it
 * makes our parent our tracer when it works: nothing may come after it
 * that would stop us).  Prints what each call got. */
static int mode_ptrace(void)
{
	int go[2];
	if (pipe(go) < 0)
		return 1;
	pid_t c = fork();
	if (c == 0) {
		char b;
		close(go[1]);
		_exit(read(go[0], &b, 1) == 0 ? 7 : 8);
	}
	close(go[0]);
	int st;
	long r = ptrace(PTRACE_ATTACH, c, 0L, 0L);
	int attach = r < 0 ? errno : 0;
	if (r == 0) {
		/* ours now: its SIGSTOP, then let it go without it */
		if (waitpid(c, &st, 0) != c || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGSTOP ||
		    ptrace(PTRACE_DETACH, c, 0L, 0L) < 0)
			return 1;
	}
	r = ptrace(PTRACE_SEIZE, c, 0L, 0L);
	int seize = r < 0 ? errno : 0;
	close(go[1]);	/* the child ends: seized or not, its parent reaps it */
	if (waitpid(c, &st, 0) != c)
		return 1;
	printf("attach=%s seize=%s child=%s:%d", errno_name(attach), errno_name(seize),
	       WIFEXITED(st) ? "exited" : WIFSIGNALED(st) ? "killed" : "stopped",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? WTERMSIG(st) : WSTOPSIG(st));
	r = ptrace(PTRACE_TRACEME, 0, 0L, 0L);
	printf(" traceme=%s\n", errno_name(r < 0 ? errno : 0));
	return 0;
}

/* ptrace on our parent (vgpu-run when traced), as a root program may:
 * PTRACE_ATTACH, then PTRACE_SEIZE with the pid's high bits set (the
 * kernel truncates them), then each other thread of the parent.  One
 * that works is let go at once (its SIGSTOP is waited for and dropped),
 * so that a failing test ends instead of hanging.  Prints the errnos. */
static int ptrace_and_release(long req, pid_t pid, long arg)
{
	if (ptrace(req, arg, 0L, 0L) < 0)
		return errno;
	int st;
	if (req == PTRACE_SEIZE)
		(void)ptrace(PTRACE_INTERRUPT, pid, 0L, 0L);
	(void)waitpid(pid, &st, __WALL);
	(void)ptrace(PTRACE_DETACH, pid, 0L, 0L);
	return 0;
}

static int mode_ptrace_parent(void)
{
	pid_t pp = getppid();
	int attach = ptrace_and_release(PTRACE_ATTACH, pp, pp);
	int seize = ptrace_and_release(PTRACE_SEIZE, pp, (long)((1ull << 32) | (unsigned)pp));
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pp);
	DIR *d = opendir(dir);
	struct dirent *e;
	int worked = 0;
	while (d && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 || tid == pp)
			continue;
		worked += ptrace_and_release(PTRACE_ATTACH, tid, tid) == 0;
	}
	if (d)
		closedir(d);
	printf("parent=%s parent-seize=%s threads-attached=%d\n", errno_name(attach), errno_name(seize), worked);
	return 0;
}

/* Close every fd (0, 1 and 2 too), check that none is left, then point
 * 0, 1 and 2 at FILE (append) and fork N children in turn, child I
 * saying "child I" on fd 2, opening its own missing library and exiting
 * I + 1; ends with the sum of their codes on stdout and exit 42. */
static int mode_closefds(const char *file, long n)
{
	if (syscall(SYS_close_range, 0U, ~0U, 0) < 0)
		return 1;
	int left = 0;
	for (int fd = 0; fd < 1024; fd++)
		left += fcntl(fd, F_GETFD) >= 0;
	if (open(file, O_WRONLY | O_APPEND) != 0 || dup(0) != 1 || dup(0) != 2)
		return 1;
	printf("open fds after close_range: %d\n", left);
	fflush(stdout);
	long sum = 0;
	for (long i = 0; i < n; i++) {
		pid_t c = fork();
		if (c < 0)
			return 1;
		if (c == 0) {
			char path[64];
			dprintf(2, "child %ld\n", i);
			snprintf(path, sizeof(path), "/nonexistent-vgpu/libclosed-%ld.so", i);
			_exit(open(path, O_RDONLY) == -1 && errno == ENOENT ? (int)(i + 1) % 256 : 0);
		}
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st))
			return 1;
		sum += WEXITSTATUS(st);
	}
	printf("sum=%ld\n", sum);
	return 42;
}

int main(int argc, char **argv)
{
	self = argv[0];
	const char *mode = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : NULL;

	/* A child of the Go fixture (-child): loads $TRACEE_DLOPEN when set,
	 * and exits 0 whatever came of it, so that its output and status
	 * are the same with and without a shim. */
	if (!strcmp(mode, "fixture-child")) {
		if (getenv("TRACEE_DLOPEN"))
			(void)dlopen(getenv("TRACEE_DLOPEN"), RTLD_NOW);
		return 0;
	}
	/* Exec ARG with LD_PRELOAD given twice, empty both times: the
	 * dynamic linker reads the last, getenv() the first. */
	if (!strcmp(mode, "dup-env-exec") && arg) {
		char *const env[] = { "LD_PRELOAD=", "A=1", "LD_PRELOAD=", NULL };
		execve(arg, argv + 2, env);
		return 127;
	}
	if (!strcmp(mode, "open") && arg)
		return probe(arg);
	if (!strcmp(mode, "long-lines") && arg) {
		/* ARG lines of 64 KiB of 'a' on stderr: what a policy regex meets */
		static char line[65536 + 1];
		memset(line, 'a', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\n';
		for (int i = 0; i < atoi(arg); i++)
			if (write(2, line, sizeof(line)) != (ssize_t)sizeof(line))
				return 1;
		return 0;
	}
	if (!strcmp(mode, "open-nonblock") && arg) {
		/* a FIFO opened so, without a writer, returns at once */
		int fd = open(arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return 1;
		close(fd);
		return 0;
	}
	if (!strcmp(mode, "exit") && arg)
		return atoi(arg);
	if (!strcmp(mode, "raise") && arg) {
		signal(atoi(arg), SIG_DFL);
		raise(atoi(arg));
		return 1;
	}
	if (!strcmp(mode, "fork-tree"))
		return mode_fork_tree();
	if (!strcmp(mode, "thread-exec"))
		return mode_thread_exec();
	if (!strcmp(mode, "selfstop"))
		return mode_selfstop();
	if (!strcmp(mode, "badptr"))
		return mode_badptr();
	if (!strcmp(mode, "relpath") && arg)
		return mode_relpath(arg);
	if (!strcmp(mode, "fifo-restart") && arg)
		return mode_fifo_restart(arg);
	if (!strcmp(mode, "opens") && arg)
		return mode_opens(atol(arg));
	if (!strcmp(mode, "fstat") && arg)
		return mode_fstat(atol(arg));
	if (!strcmp(mode, "stderr") && arg)
		return mode_stderr(arg);
	if (!strcmp(mode, "kill-child"))
		return mode_kill_child();
	if (!strcmp(mode, "sigkill-self"))
		return mode_sigkill_self();
	if (!strcmp(mode, "nnp"))
		return mode_nnp();
	if (!strcmp(mode, "fake-server") && arg)
		return mode_fake_server(arg);
	if (!strcmp(mode, "catch-all"))
		return mode_signals(1);
	if (!strcmp(mode, "wait"))
		return mode_signals(0);
	if (!strcmp(mode, "catch-term") && arg)
		return mode_catch_term(atoi(arg));
	if (!strcmp(mode, "forks") && arg && argc > 3)
		return mode_forks(atol(arg), atol(argv[3]));
	if (!strcmp(mode, "threads") && arg)
		return mode_threads(atol(arg));
	if (!strcmp(mode, "exec-chain") && arg)
		return mode_exec_chain(atol(arg));
	if (!strcmp(mode, "procs-opens") && arg && argc > 3)
		return mode_procs_opens(atol(arg), atol(argv[3]));
	if (!strcmp(mode, "ptrace-parent"))
		return mode_ptrace_parent();
	if (!strcmp(mode, "ptrace"))
		return mode_ptrace();
	if (!strcmp(mode, "signal-parent") && arg) {
		/* vgpu-run is the root's parent: SIGUSR1 asks it for a report */
		if (kill(getppid(), atoi(arg)) < 0)
			return 1;
		printf("sent %d\n", atoi(arg));
		return 0;
	}
	if (!strcmp(mode, "closefds") && arg && argc > 3)
		return mode_closefds(arg, atol(argv[3]));
	fprintf(stderr, "usage: tracee MODE [ARG] (see tests/helpers/tracee.c)\n");
	return 2;
}
