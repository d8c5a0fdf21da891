/* Command-line parsing (see cli.h). */
#include "vgpu-run/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/args.h"

enum {
	OPT_SELF_TEST = 0x100,
	OPT_FORMAT,
	OPT_COLOR,
	OPT_DISCOVER_ONLY,
	OPT_TRACE_MAX,
	OPT_INJECT_METHOD,
	OPT_NO_INJECT,
	OPT_DISCOVER_TIMEOUT,
	OPT_KILL_AFTER,
	OPT_REPORT_KEEP,
	OPT_TRACE_PIECES,
	OPT_METRICS,
};

const char cli_usage[] =
	"Usage: vgpu-run [OPTIONS] [--] COMMAND [ARG...]\n"
	"Run COMMAND under seccomp-bpf + ptrace, follow every process and thread it\n"
	"creates, and record its file, exec and signal activity.  vgpu-run exits as\n"
	"COMMAND did.\n"
	"\n"
	"  -p, --policy=NAME|FILE  what a scanner is and what to watch (default: ollama;\n"
	"                     a value with '/' is a file, see vgpu-run.policy(5))\n"
	"  -o, --report=FILE  write the report to FILE ('-': stdout), atomically\n"
	"      --report-keep=N  keep the previous N reports as FILE.1 ... FILE.N when\n"
	"                     a run starts (default 1; 0: overwrite)\n"
	"      --format=text|json  report format (default: json for *.json, else text)\n"
	"      --metrics=FILE  write the diagnosis as Prometheus metrics to FILE\n"
	"                     (mode 0644, atomically, for node_exporter's textfile\n"
	"                     collector) whenever the report is rewritten\n"
	"      --color[=WHEN]  colour the verdicts of the report printed at the end:\n"
	"                     auto (on a terminal, unless NO_COLOR is set), always, never\n"
	"  -t, --trace=FILE   stream every event as JSON Lines to FILE (mode 0600)\n"
	"      --trace-max=SIZE  stop the trace at SIZE bytes (K, M, G suffixes) with a\n"
	"                     'truncated' line; the report still sees every event\n"
	"      --trace-pieces=N  with --trace-max: rotate the trace through N files of\n"
	"                     SIZE/N bytes (FILE, FILE.1 ... FILE.N-1), keeping the\n"
	"                     most recent events (default 1: stop at SIZE)\n"
	"      --discover-only  stop COMMAND (SIGTERM) once the policy says discovery\n"
	"                     is over, write the report, exit 0 (124: time limit\n"
	"                     passed, 125: report not written)\n"
	"      --discover-timeout=DURATION  time limit of --discover-only (number, s m h\n"
	"                     d suffix; 0: none; default from the policy's probe-timeout)\n"
	"      --kill-after=DURATION  SIGKILL what is left DURATION after the SIGTERM\n"
	"                     of --discover-only (default 10s; 0: never)\n"
	"  -s, --shim=[SONAME=]PATH  inject the shim library PATH into scanners, for\n"
	"                     the policy's soname (libcuda.so.1) or SONAME; repeatable\n"
	"                     (default: $VGPU_SHIM, then the policy's 'shim')\n"
	"      --inject-method=redirect|preload  redirect the scanner's opens of the\n"
	"                     soname to the shim, or put it in LD_PRELOAD at exec\n"
	"                     (default: the policy's)\n"
	"      --no-inject    trace and diagnose, inject nothing\n"
	"  -k, --stack        backtrace (libunwind) at decision events and crashes\n"
	"  -v, --verbose      print events live on stderr\n"
	"  -q, --quiet        no report on stderr when COMMAND ends (unless -o)\n"
	"      --self-test    check that ptrace and seccomp work here, then exit\n"
	"  -h, --help         show this help and exit\n"
	"  -V, --version      show the version and exit\n"
	"\n"
	"Signals sent to vgpu-run go on to COMMAND, except SIGCHLD, SIGUSR1 with -o or\n"
	"--metrics (rewrite them) and faults (SIGSEGV...); see vgpu-run(1), SIGNALS.\n"
	"\n"
	"Exit status: COMMAND's; its fatal signal is re-raised; 125 when vgpu-run\n"
	"failed before COMMAND started; 126 COMMAND not executable; 127 not found.\n"
	"See vgpu-run(1).\n";

static const struct option long_options[] = {
	{ "policy", required_argument, NULL, 'p' },
	{ "report", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "color", optional_argument, NULL, OPT_COLOR },
	{ "discover-only", no_argument, NULL, OPT_DISCOVER_ONLY },
	{ "discover-timeout", required_argument, NULL, OPT_DISCOVER_TIMEOUT },
	{ "kill-after", required_argument, NULL, OPT_KILL_AFTER },
	{ "trace", required_argument, NULL, 't' },
	{ "trace-max", required_argument, NULL, OPT_TRACE_MAX },
	{ "trace-pieces", required_argument, NULL, OPT_TRACE_PIECES },
	{ "report-keep", required_argument, NULL, OPT_REPORT_KEEP },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "shim", required_argument, NULL, 's' },
	{ "inject-method", required_argument, NULL, OPT_INJECT_METHOD },
	{ "no-inject", no_argument, NULL, OPT_NO_INJECT },
	{ "stack", no_argument, NULL, 'k' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "self-test", no_argument, NULL, OPT_SELF_TEST },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{}
};

/* "64M" -> 67108864.  At least 4096: room for the header line. */
static int parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		char suffix;
		unsigned shift;
	} units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 } };
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	uint64_t v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	unsigned shift = 0;
	for (size_t i = 0; *end && i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].suffix || *end == units[i].suffix + 32) {
			shift = units[i].shift;
			end++;
			break;
		}
	if (*end)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	if (v < 4096)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* A whole number from MIN to MAX, digits only. */
static int parse_count(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno || v < min || v > max)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

/* timeout(1)'s DURATION: "90", "1.5m", "2h", "0.5d" -> ns.  Seconds when
 * there is no suffix; 0 is allowed (the caller says what it means). */
static int parse_duration(const char *s, uint64_t *ret)
{
	static const struct {
		char suffix;
		double seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	/* digits and at most one '.', then the suffix: strtod alone would
	 * also take " 1", "+1", "-1", "inf", "0x10", "1e3" */
	size_t n = strspn(s, "0123456789.");
	const char *dot = memchr(s, '.', n);
	if (n == 0 || (n == 1 && dot) || (dot && memchr(dot + 1, '.', n - (size_t)(dot - s) - 1)))
		return -EINVAL;
	double v = strtod(s, NULL);
	const char *end = s + n;
	for (size_t i = 0; *end && i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].suffix) {
			v *= units[i].seconds;
			end++;
			break;
		}
	if (*end)
		return -EINVAL;
	if (v * 1e9 >= 9.2e18)		/* past int64_t ns: 292 years */
		return -ERANGE;
	*ret = (uint64_t)(v * 1e9 + 0.5);
	return 0;
}

int cli_parse(int argc, char **argv, Options *ret, char *err, size_t err_size)
{
	Options o = { .action = CLI_RUN, .policy = "ollama", .kill_after_ns = CLI_KILL_AFTER_DEFAULT_NS,
		      .report_keep = 1, .trace_pieces = 1 };
	bool timeout_given = false, kill_after_given = false;
	int c;

	/* '+': stop at COMMAND, whose options are its own.  ':': report a
	 * missing argument distinctly.  opterr = 0: we word the messages. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:o:t:s:kvqhV", long_options, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!*optarg) {
				snprintf(err, err_size, "--trace needs a file name");
				return -EINVAL;
			}
			o.trace_path = optarg;
			break;
		case 'p':
			if (!*optarg) {
				snprintf(err, err_size, "--policy needs a name or a file");
				return -EINVAL;
			}
			o.policy = optarg;
			break;
		case 'o':
			if (!*optarg) {
				snprintf(err, err_size, "--report needs a file name");
				return -EINVAL;
			}
			o.report_path = optarg;
			break;
		case OPT_METRICS:
			if (!*optarg) {
				snprintf(err, err_size, "--metrics needs a file name");
				return -EINVAL;
			}
			o.metrics_path = optarg;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "text")) {
				o.format = CLI_FORMAT_TEXT;
			} else if (!strcmp(optarg, "json")) {
				o.format = CLI_FORMAT_JSON;
			} else {
				snprintf(err, err_size, "--format must be text or json, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case OPT_COLOR:
			if (report_color_parse(optarg, &o.color) < 0) {
				snprintf(err, err_size, "--color must be auto, always or never, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case 's':
			if (!*optarg) {
				snprintf(err, err_size, "--shim needs a library path");
				return -EINVAL;
			}
			if (o.n_shims == CLI_SHIMS_MAX) {
				snprintf(err, err_size, "more than %d --shim options", CLI_SHIMS_MAX);
				return -EINVAL;
			}
			o.shims[o.n_shims++] = optarg;
			break;
		case OPT_INJECT_METHOD:
			if (strcmp(optarg, "redirect") && strcmp(optarg, "preload")) {
				snprintf(err, err_size, "--inject-method must be redirect or preload, not '%s'",
					 optarg);
				return -EINVAL;
			}
			o.inject_method = optarg;
			break;
		case OPT_NO_INJECT:
			o.no_inject = true;
			break;
		case 'k':
			o.stacks = true;
			break;
		case OPT_TRACE_MAX:
			if (parse_size(optarg, &o.trace_max) < 0) {
				snprintf(err, err_size,
					 "--trace-max must be a size of at least 4096 bytes (e.g. 64M), not '%s'",
					 optarg);
				return -EINVAL;
			}
			break;
		case OPT_TRACE_PIECES:
			if (parse_count(optarg, 1, CLI_TRACE_PIECES_MAX, &o.trace_pieces) < 0) {
				snprintf(err, err_size, "--trace-pieces must be a number from 1 to %d, not '%s'",
					 CLI_TRACE_PIECES_MAX, optarg);
				return -EINVAL;
			}
			break;
		case OPT_REPORT_KEEP:
			if (parse_count(optarg, 0, CLI_REPORT_KEEP_MAX, &o.report_keep) < 0) {
				snprintf(err, err_size, "--report-keep must be a number from 0 to %d, not '%s'",
					 CLI_REPORT_KEEP_MAX, optarg);
				return -EINVAL;
			}
			break;
		case OPT_DISCOVER_ONLY:
			o.discover_only = true;
			break;
		case OPT_DISCOVER_TIMEOUT:
		case OPT_KILL_AFTER: {
			bool timeout = c == OPT_DISCOVER_TIMEOUT;
			if (parse_duration(optarg, timeout ? &o.discover_timeout_ns : &o.kill_after_ns) < 0) {
				snprintf(err, err_size,
					 "--%s must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '%s'",
					 timeout ? "discover-timeout" : "kill-after", optarg);
				return -EINVAL;
			}
			*(timeout ? &timeout_given : &kill_after_given) = true;
			o.discover_timeout_set |= timeout;
			break;
		}
		case 'v':
			o.verbose = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case OPT_SELF_TEST:
			o.action = CLI_SELF_TEST;
			break;
		case 'h':
			o.action = CLI_HELP;
			break;
		case 'V':
			o.action = CLI_VERSION;
			break;
		case ':':
			snprintf(err, err_size, "option '%s' needs an argument", argv[optind - 1]);
			return -EINVAL;
		case '?':
			args_error(long_options, argv[optind - 1], optopt, err, err_size);
			return -EINVAL;
		default:
			snprintf(err, err_size, "cannot parse the command line");
			return -EINVAL;
		}
	}
	if (!o.discover_only && (timeout_given || kill_after_given)) {
		snprintf(err, err_size, "--%s needs --discover-only",
			 timeout_given ? "discover-timeout" : "kill-after");
		return -EINVAL;
	}
	if (o.trace_pieces > 1 && !o.trace_max) {
		snprintf(err, err_size, "--trace-pieces needs --trace-max (the size of all pieces together)");
		return -EINVAL;
	}
	if (o.trace_pieces > 1 && o.trace_max / o.trace_pieces < CLI_TRACE_PIECE_MIN) {
		snprintf(err, err_size, "--trace-max=%" PRIu64 " leaves less than %d bytes for each of the %u "
			 "pieces", o.trace_max, CLI_TRACE_PIECE_MIN, o.trace_pieces);
		return -EINVAL;
	}
	if (o.action == CLI_RUN) {
		if (optind >= argc) {
			snprintf(err, err_size, "no COMMAND given (try 'vgpu-run --help')");
			return -EINVAL;
		}
		o.command = argv + optind;
	}
	*ret = o;
	return 0;
}
