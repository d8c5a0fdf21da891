/* Starting the command: fork, seize, load the filter, exec.
 *
 * The child blocks on a pipe until the parent has seized it, so the filter
 * and the execve already run traced; a launch failure (filter refused, exec
 * failed) travels back on a close-on-exec pipe.  PTRACE_SEIZE rather than
 * PTRACE_TRACEME: it sets the options atomically, makes PTRACE_LISTEN
 * (group-stop) available, and children inherit the attach mode. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "filter.h"
#include "tracer-internal.h"

#define SEIZE_OPTIONS                                                          \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK |  \
	 PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |      \
	 PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)

typedef struct LaunchFailure {
	int stage;	/* TracerLaunchStage */
	int err;	/* positive errno */
} LaunchFailure;

/* In the forked child: only async-signal-safe calls (and the libseccomp
 * load, safe because the parent is single-threaded), then exec or _exit. */
static _Noreturn void child_main(Tracer *t, int go_fd, int fail_fd, const char *path,
				 char *const argv[], char *const envp[])
{
	char c = 0;
	ssize_t n;
	do
		n = read(go_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || c != 'g')
		_exit(125);	/* the parent could not seize us */
	waitsig_restore_in_child(t);

	LaunchFailure f = { .stage = TRACER_LAUNCH_FILTER };
	int r = filter_load(t->filter);
	if (r < 0) {
		f.err = -r;
		(void)!write(fail_fd, &f, sizeof(f));
		_exit(125);
	}
	for (int fd = 0; fd <= 2; fd++)
		if (t->cfg.close_std_fds & (1u << fd))
			close(fd);
	execve(path, argv, envp);
	f.stage = TRACER_LAUNCH_EXEC;
	f.err = errno;
	unsigned char magic[4] = { 0 };
	int mfd = f.err == ENOEXEC ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
	bool elf = mfd >= 0 && read(mfd, magic, sizeof(magic)) == 4 && !memcmp(magic, "\177ELF", 4);
	if (mfd >= 0)
		close(mfd);
	/* an ELF file for another machine is an exec format error, not a
	 * script */
	if (f.err == ENOEXEC && argv[0] && !elf) {
		/* no #! line (a shell script, an empty file): run it with
		 * /bin/sh, as execvp(3), env, nohup and timeout do */
		size_t argc = 0;
		while (argv[argc])
			argc++;
		char *sh_argv[argc + 2];
		sh_argv[0] = (char *)"/bin/sh";
		sh_argv[1] = (char *)path;
		for (size_t i = 1; i <= argc; i++)
			sh_argv[i + 1] = argv[i];
		execve("/bin/sh", sh_argv, envp);
		f.err = ENOEXEC;
	}
	(void)!write(fail_fd, &f, sizeof(f));
	_exit(f.err == ENOENT ? 127 : 126);
}

int launch_child(Tracer *t, const char *path, char *const argv[], char *const envp[])
{
	int go[2], fail[2];
	t->spawn_step = "cannot create a pipe";
	if (pipe2(go, O_CLOEXEC) < 0)
		return neg_errno();
	if (pipe2(fail, O_CLOEXEC) < 0) {
		int r = neg_errno();
		close(go[0]);
		close(go[1]);
		return r;
	}

	t->spawn_step = "cannot fork";
	pid_t pid = fork();
	if (pid < 0) {
		int r = neg_errno();
		close(go[0]);
		close(go[1]);
		close(fail[0]);
		close(fail[1]);
		return r;
	}
	if (pid == 0) {
		close(go[1]);
		close(fail[0]);
		child_main(t, go[0], fail[1], path, argv, envp);
	}

	close(go[0]);
	close(fail[1]);
	_cleanup_close_ int go_w = go[1];
	_cleanup_close_ int fail_r = fail[0];

	t->spawn_step = "ptrace";
	if (ptrace(PTRACE_SEIZE, pid, 0L, (long)SEIZE_OPTIONS) < 0) {
		int r = neg_errno();
		kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		return r;
	}
	Tracee *tr;
	t->spawn_step = "out of memory";
	int r = tracee_add(&t->tracees, pid, pid, getpid(), &tr);
	if (r < 0) {
		kill(pid, SIGKILL);
		return r;
	}
	tr->attached = true;	/* seized running: no attach stop comes */
	tr->announced = true;
	t->stats.tasks++;
	t->stats.max_live_tasks = 1;

	t->spawn_step = "cannot start the child";
	if (write(go_w, "g", 1) != 1) {
		r = neg_errno();
		kill(pid, SIGKILL);
		return r;
	}
	t->root = pid;
	t->launch_pipe = TAKE_FD(fail_r);
	return pid;
}

void launch_read_failure(Tracer *t)
{
	LaunchFailure f;
	if (t->launch_pipe < 0)
		return;
	/* The child wrote before _exit(), so the data is there now; once an
	 * exec succeeded the pipe was closed empty and read() returns 0. */
	if (read(t->launch_pipe, &f, sizeof(f)) == (ssize_t)sizeof(f)) {
		t->result.launch_stage = f.stage;
		t->result.launch_errno = f.err;
	}
	close(t->launch_pipe);
	t->launch_pipe = -1;
}
