/* Command-line parsing into Options: no globals, no printing, no exit(),
 * so it can be unit-tested.  main.c prints and decides the exit status. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/report-out.h"

typedef enum CliAction {
	CLI_RUN,
	CLI_HELP,
	CLI_VERSION,
	CLI_SELF_TEST,
} CliAction;

typedef enum CliFormat {
	CLI_FORMAT_AUTO,	/* from the report file's suffix: .json or text */
	CLI_FORMAT_TEXT,
	CLI_FORMAT_JSON,
} CliFormat;

#define CLI_SHIMS_MAX 4
#define CLI_KILL_AFTER_DEFAULT_NS (10 * 1000000000ULL)
#define CLI_REPORT_KEEP_MAX 100
#define CLI_TRACE_PIECES_MAX 100
/* A rotated piece holds the header, a state snapshot and some events. */
#define CLI_TRACE_PIECE_MIN (1024 * 1024)

typedef struct Options {
	CliAction action;
	const char *trace_path;	/* -t FILE, or NULL */
	uint64_t trace_max;	/* --trace-max bytes; 0: no cap */
	unsigned trace_pieces;	/* --trace-pieces: 1, the cap cuts; more, it rotates */
	const char *policy;	/* -p NAME|FILE; default "ollama" */
	const char *report_path;	/* -o FILE ("-": stdout), or NULL */
	unsigned report_keep;	/* --report-keep: previous reports kept as FILE.N */
	const char *metrics_path;	/* --metrics FILE, or NULL */
	CliFormat format;
	ReportColor color;	/* --color: of the report printed at the end */
	bool verbose;
	bool quiet;
	bool stacks;		/* -k: backtraces at decision events */
	bool discover_only;	/* stop COMMAND once discovery is over */
	/* --discover-timeout in ns (0: none), when discover_timeout_set;
	 * else the caller derives it from the policy. */
	uint64_t discover_timeout_ns;
	bool discover_timeout_set;
	uint64_t kill_after_ns;	/* --kill-after; 0: never SIGKILL */
	/* -s/--shim values as given ("PATH" or "SONAME=PATH"), in order. */
	const char *shims[CLI_SHIMS_MAX];
	size_t n_shims;
	const char *inject_method;	/* --inject-method, or NULL: the policy's */
	bool no_inject;
	char **command;		/* points into argv; NULL-terminated */
} Options;

/* Parse ARGV.  Returns 0, or -EINVAL with a one-line reason (no trailing
 * newline, no program name) in ERR. */
int cli_parse(int argc, char **argv, Options *ret, char *err, size_t err_size);

/* The --help text. */
extern const char cli_usage[];
