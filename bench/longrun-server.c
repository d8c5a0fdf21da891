/* A server that runs for a long time, shaped like Ollama for the ollama
 * policy (bench/longrun, the long-run test): installed as ROOT/bin/ollama,
 * "ollama serve N [OPENS]" starts N runner probes one after another, each
 * "ollama runner" pointed at ROOT/lib/ollama and ROOT/lib/ollama/cuda_v13
 * (OLLAMA_LIBRARY_PATH, as Ollama does), and waits for each.  A runner
 * opens its backend library and then makes OPENS-1 (default 99) failed
 * lookups of libcuda.so.1, as the dynamic linker would, and exits.
 *
 * SIGUSR2 to the server makes it print one line "runs N" to stdout (so a
 * test can tell how far it is); it ends by printing the policy's
 * discovery line to stderr and exiting 0. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t done_runs;

static void say_runs(int sig)
{
	(void)sig;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "runs %d\n", (int)done_runs);
	(void)!write(STDOUT_FILENO, buf, (size_t)n);
}

static int runner(const char *lib, long opens)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	const char *colon = strrchr(lib, ':');
	snprintf(dir, sizeof(dir), "%s", colon ? colon + 1 : lib);
	snprintf(path, sizeof(path), "%s/libggml-cuda.so", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	for (long i = 1; i < opens; i++) {
		snprintf(path, sizeof(path), "%s/libcuda.so.1", i % 2 ? dir : "/nonexistent");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "runner")) {
		const char *lib = getenv("OLLAMA_LIBRARY_PATH");
		return runner(lib ? lib : ".", argc > 2 ? atol(argv[2]) : 100);
	}
	if (argc < 3 || strcmp(argv[1], "serve")) {
		fprintf(stderr, "usage: %s serve N [OPENS] | runner [OPENS]\n", argv[0]);
		return 2;
	}
	long n = atol(argv[2]);
	const char *opens = argc > 3 ? argv[3] : "100";
	char exe[PATH_MAX], root[PATH_MAX], env[2 * PATH_MAX + 64];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return 1;
	exe[len] = '\0';
	snprintf(root, sizeof(root), "%s", exe);
	for (int up = 0; up < 2; up++)
		*strrchr(root, '/') = '\0';
	snprintf(env, sizeof(env), "OLLAMA_LIBRARY_PATH=%s/lib/ollama:%s/lib/ollama/cuda_v13", root, root);
	signal(SIGUSR2, say_runs);
	fprintf(stderr, "msg=\"Listening on 127.0.0.1:11434 (version 0.16.3)\"\n");
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			char *child_argv[] = { exe, "runner", (char *)opens, NULL };
			char *child_env[] = { env, NULL };
			execve(exe, child_argv, child_env);
			_exit(127);
		}
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		done_runs = (sig_atomic_t)(i + 1);
	}
	fprintf(stderr, "msg=\"inference compute\" id=cpu library=cpu libdirs=ollama\n");
	return 0;
}
