/* One traced run (see run.h).  Events are numbered here, in one place, so
 * the trace file, -v and any observer agree on seq. */
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "command.h"
#include "json.h"
#include "observe.h"
#include "trace-json.h"
#include "verbose.h"

/* Environment variables every exec event records: the loader's inputs.
 * Policies (see vgpu-run.policy(5)) will add their own. */
static const char *const default_env_keep[] = {
	"LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT", "LD_BIND_NOW", NULL,
};
static const int default_capture_fds[] = { 2 };
/* What a service manager or a user sends to stop the command. */
static const int forward_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

typedef struct Sink {
	const RunConfig *cfg;
	Observer *observer;
	FILE *trace;
	JsonWriter json;
	uint64_t seq;
	int trace_error;
} Sink;

static void sink_write(Sink *s)
{
	if (!s->trace || s->trace_error)
		return;
	if (s->json.failed) {
		s->trace_error = -ENOMEM;
		return;
	}
	/* One line per event, flushed at once: the trace is complete up to
	 * the last event even if vgpu-run is killed. */
	json_raw(&s->json, "\n");
	if (fwrite(s->json.buf, 1, s->json.len, s->trace) != s->json.len || fflush(s->trace) != 0)
		s->trace_error = -errno;
}

static void on_event(const TracerEvent *ev, void *userdata)
{
	Sink *s = userdata;
	uint64_t seq = ++s->seq;
	if (s->trace) {
		trace_json_event(&s->json, seq, ev);
		sink_write(s);
	}
	if (s->cfg->verbose)
		verbose_print(stderr, seq, ev);
	if (s->cfg->observer)
		s->cfg->observer(seq, ev, s->cfg->userdata);

	/* What vgpu-run learns from this event itself follows it at once. */
	ElfFacts facts;
	int error;
	if (s->observer && observer_on_event(s->observer, ev, &facts, &error) > 0) {
		seq = ++s->seq;
		if (s->trace) {
			trace_json_elf(&s->json, seq, ev, &facts, error);
			sink_write(s);
		}
		if (s->cfg->verbose)
			fprintf(stderr, "vgpu-run: #%llu [pid %d] observe elf %s: %s\n",
				(unsigned long long)seq, (int)ev->pid, ev->sys.path,
				error < 0 ? "no ELF facts" : facts.soname ? facts.soname : "(no soname)");
		if (error >= 0)
			elf_facts_done(&facts);
	}
}

static void write_header(Sink *s)
{
	TraceHeader h = {
		.command = s->cfg->command,
		.capture_fds = default_capture_fds,
		.n_capture_fds = ELEMENTSOF(default_capture_fds),
		.env_keep = default_env_keep,
	};
	trace_json_header(&s->json, &h);
	s->seq = 1;
	sink_write(s);
}

static int open_trace(const char *path, FILE **ret)
{
	if (strcmp(path, "-") == 0) {
		*ret = stdout;
		return 0;
	}
	/* 0600: traces hold command lines, environment values and output. */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return neg_errno();
	/* An existing file keeps its mode through O_CREAT: narrow it. */
	if (fchmod(fd, 0600) < 0 && errno != EPERM)
		return neg_errno();
	FILE *f = fdopen(fd, "w");
	if (!f)
		return neg_errno();
	TAKE_FD(fd);
	*ret = f;
	return 0;
}

int run_command(const RunConfig *cfg, RunOutcome *ret, char *err, size_t err_size)
{
	char path[PATH_MAX];
	int r = command_resolve(cfg->command[0], getenv("PATH"), path, sizeof(path));
	if (r < 0) {
		snprintf(err, err_size, "cannot run '%s': %s", cfg->command[0],
			 r == -ENOENT ? "command not found" : strerror(-r));
		/* as a shell: not found 127, found but not runnable 126 */
		return r == -ENOENT ? -ENOENT : -EACCES;
	}

	Sink sink = { .cfg = cfg };
	json_init(&sink.json);
	r = observer_new(&sink.observer);
	if (r < 0) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	if (cfg->trace_path) {
		r = open_trace(cfg->trace_path, &sink.trace);
		if (r < 0) {
			snprintf(err, err_size, "cannot open trace file '%s': %s", cfg->trace_path,
				 strerror(-r));
			json_done(&sink.json);
			observer_free(sink.observer);
			return -EIO;
		}
	}

	TracerConfig tc = {
		.output_fds = default_capture_fds,
		.n_output_fds = ELEMENTSOF(default_capture_fds),
		.env_keep = default_env_keep,
		.forward_signals = forward_signals,
		.n_forward_signals = ELEMENTSOF(forward_signals),
		.on_event = on_event,
		.userdata = &sink,
	};
	Tracer *t = NULL;
	r = tracer_new(&tc, &t);
	if (r < 0)
		snprintf(err, err_size, "cannot set up the tracer: %s", strerror(-r));
	if (r >= 0) {
		extern char **environ;
		r = tracer_spawn(t, path, cfg->command, environ);
		if (r < 0)
			snprintf(err, err_size, "cannot trace '%s': ptrace: %s (see vgpu-run --self-test)",
				 cfg->command[0], strerror(-r));
	}
	if (r >= 0) {
		/* A reader of the trace or of -v output that goes away must
		 * not kill us: EXITKILL would take the command with us.  The
		 * command keeps its own SIGPIPE disposition (already forked). */
		signal(SIGPIPE, SIG_IGN);
		/* Events are dispatched only in tracer_run(): the header,
		 * written now, is still the first line. */
		if (sink.trace)
			write_header(&sink);
		r = tracer_run(t, &ret->result);
		if (r < 0)
			snprintf(err, err_size, "tracing failed: %s", strerror(-r));
	}
	if (r >= 0) {
		tracer_get_stats(t, &ret->stats);
		if (sink.trace) {
			trace_json_stats(&sink.json, ++sink.seq, tracer_now_ns(t), &ret->stats);
			sink_write(&sink);
		}
		ret->events = sink.seq;
		ret->trace_error = sink.trace_error;
	}
	tracer_free(t);
	observer_free(sink.observer);
	if (sink.trace && sink.trace != stdout && fclose(sink.trace) != 0 && !ret->trace_error)
		ret->trace_error = -errno;
	json_done(&sink.json);
	return r < 0 ? -EIO : 0;
}
