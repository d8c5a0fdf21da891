/* --self-test (see selftest.h): run a real traced probe, then report on the
 * kernel features vgpu-run relies on, one line each. */
#include "vgpu-run/selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "vgpu-run/run.h"

typedef struct ProbeSeen {
	bool syscall;	/* the probe's openat, with ENOENT */
	bool exec;
} ProbeSeen;

static void observe(uint64_t seq, const TracerEvent *ev, void *userdata)
{
	(void)seq;
	ProbeSeen *seen = userdata;
	if (ev->kind == TRACER_EVENT_EXEC)
		seen->exec = true;
	if (ev->kind == TRACER_EVENT_SYSCALL && ev->sys.path &&
	    strcmp(ev->sys.path, SELFTEST_PROBE_PATH) == 0 && ev->sys.is_error &&
	    ev->sys.result == ENOENT)
		seen->syscall = true;
}

int selftest_probe(void)
{
	int fd = open(SELFTEST_PROBE_PATH, O_RDONLY | O_CLOEXEC);
	return fd < 0 && errno == ENOENT ? 0 : 1;
}

static void kernel_line(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;
	if (uname(&u) == 0)
		sscanf(u.release, "%u.%u", &major, &minor);
	bool bitmap = major > 5 || (major == 5 && minor >= 11);
	printf("kernel: %s: %s\n", u.release,
	       bitmap ? "ok (>= 5.11: seccomp constant-action bitmap, untraced syscalls run at native cost)"
		      : "slow (< 5.11: no seccomp constant-action bitmap, every syscall runs the filter)");
}

static void yama_line(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = -1;
	if (!f || fscanf(f, "%d", &scope) != 1) {
		printf("yama: not present (no Yama restriction on ptrace)\n");
		return;
	}
	static const char *const meaning[] = {
		"0 (classic ptrace permissions)",
		"1 (restricted: a parent may trace its descendants, enough for vgpu-run)",
		"2 (admin-only attach: needs CAP_SYS_PTRACE)",
		"3 (no attach: ptrace disabled)",
	};
	printf("yama: ptrace_scope %s\n", scope >= 0 && scope <= 3 ? meaning[scope] : "unknown");
}

int selftest_run(const char *self_exe)
{
	char *argv[] = { (char *)self_exe, (char *)SELFTEST_PROBE_ARG, NULL };
	ProbeSeen seen = { 0 };
	RunConfig cfg = { .command = argv, .observer = observe, .userdata = &seen };
	RunOutcome out = { 0 };
	char err[256] = "";

	int r = run_command(&cfg, &out, err, sizeof(err));
	/* this is the self-test: its failure sends nowhere else */
	char *see = strstr(err, " (see vgpu-run --self-test)");
	if (see)
		*see = '\0';
	bool ptrace_ok = r >= 0 && seen.exec;
	bool seccomp_ok = ptrace_ok && out.result.launch_stage == TRACER_LAUNCH_OK && seen.syscall;

	/* a resource that ran out (a pipe, a fork) says nothing of ptrace */
	bool kernel = !*err || strstr(err, ": ptrace: ") || !strstr(err, "cannot trace");
	if (ptrace_ok)
		printf("ptrace: ok (PTRACE_SEIZE of a child, fork/exec events seen)\n");
	else if (!kernel)
		printf("ptrace: not tested: %s\n", strstr(err, "': ") ? strstr(err, "': ") + 3 : err);
	else
		printf("ptrace: FAILED: %s\n", *err ? err : "no exec event from the probe");
	if (seccomp_ok)
		printf("seccomp: ok (SECCOMP_RET_TRACE filter loaded, the probe's openat stopped)\n");
	else if (!kernel)
		printf("seccomp: not tested: the probe could not be started\n");
	else if (out.result.launch_stage == TRACER_LAUNCH_FILTER)
		printf("seccomp: FAILED: cannot load the filter: %s\n", strerror(out.result.launch_errno));
	else
		printf("seccomp: FAILED: the probe's openat was not seen\n");
	kernel_line();
	yama_line();
	return ptrace_ok && seccomp_ok ? 0 : -ENOTSUP;
}
