/* vgpu-run: parse the command line, run COMMAND traced, and end exactly as
 * COMMAND ended.  The only place that decides the exit status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "run.h"
#include "selftest.h"
#include "signals.h"

#define EXIT_OWN_FAILURE 125
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127

static void print_summary(const RunOutcome *o, const char *trace_path)
{
	const TracerStats *s = &o->stats;
	fprintf(stderr,
		"vgpu-run: %llu tasks, %llu stops (seccomp %llu, syscall-exit %llu, "
		"signal %llu of which SIGURG %llu, other %llu)%s%s\n",
		(unsigned long long)s->tasks, (unsigned long long)s->stops,
		(unsigned long long)s->seccomp_stops, (unsigned long long)s->exit_stops,
		(unsigned long long)s->signal_stops, (unsigned long long)s->sigurg_stops,
		(unsigned long long)s->event_stops, trace_path ? "; trace: " : "",
		trace_path ? trace_path : "");
}

/* Map how COMMAND ended to vgpu-run's own end (vgpu-run(1), EXIT STATUS). */
static int finish(const Options *o, const RunOutcome *out)
{
	const TracerResult *res = &out->result;
	if (out->trace_error)
		fprintf(stderr, "vgpu-run: writing the trace '%s' failed: %s\n", o->trace_path,
			strerror(-out->trace_error));
	switch (res->launch_stage) {
	case TRACER_LAUNCH_FILTER:
		fprintf(stderr, "vgpu-run: cannot install the seccomp filter: %s\n",
			strerror(res->launch_errno));
		return EXIT_OWN_FAILURE;
	case TRACER_LAUNCH_EXEC:
		fprintf(stderr, "vgpu-run: cannot execute '%s': %s\n", o->command[0],
			strerror(res->launch_errno));
		return res->launch_errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
	case TRACER_LAUNCH_OK:
	default:
		break;
	}
	if (!o->quiet)
		print_summary(out, o->trace_path);
	if (res->signaled) {
		fflush(NULL);
		signals_reraise(res->code);
		return 128 + res->code;
	}
	return res->code;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], SELFTEST_PROBE_ARG) == 0)
		return selftest_probe();

	Options o;
	char err[512];
	if (cli_parse(argc, argv, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "vgpu-run: %s\n", err);
		return EXIT_OWN_FAILURE;
	}
	switch (o.action) {
	case CLI_HELP:
		fputs(cli_usage, stdout);
		return 0;
	case CLI_VERSION:
		printf("vgpu-run %s\n", VGPU_VERSION);
		return 0;
	case CLI_SELF_TEST:
		return selftest_run("/proc/self/exe") < 0 ? EXIT_OWN_FAILURE : 0;
	case CLI_RUN:
	default:
		break;
	}

	RunConfig cfg = { .command = o.command, .trace_path = o.trace_path, .verbose = o.verbose };
	RunOutcome out = { 0 };
	int r = run_command(&cfg, &out, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "vgpu-run: %s\n", err);
		return r == -ENOENT ? EXIT_NOT_FOUND : r == -EACCES ? EXIT_CANNOT_EXECUTE : EXIT_OWN_FAILURE;
	}
	return finish(&o, &out);
}
