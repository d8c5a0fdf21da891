/* libFuzzer target for the two command lines, vgpu-run's (cli_parse) and
 * vgpu-report's (report_options_parse): arguments come from users, scripts
 * and service files.  The input is split at NUL bytes into up to 64
 * arguments after the program's name, and each parser gets its own copy
 * of the vector (getopt_long permutes it; its state is reset by both).
 * Each parses, with what the programs rely on after a success, or refuses
 * with a reason; nothing may crash, leak or hang. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vgpu-report/options.h"
#include "vgpu-run/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARGS_MAX 64

static void run_cli(int argc, char **argv)
{
	Options o;
	char err[1024] = "";
	int k = cli_parse(argc, argv, &o, err, sizeof(err));
	if (k == 0) {
		if (!o.policy || o.n_shims > CLI_SHIMS_MAX || o.trace_pieces < 1 ||
		    o.trace_pieces > CLI_TRACE_PIECES_MAX || o.report_keep > CLI_REPORT_KEEP_MAX ||
		    (o.trace_max && o.trace_max < 4096) ||
		    (o.trace_pieces > 1 && o.trace_max / o.trace_pieces < CLI_TRACE_PIECE_MIN))
			abort();
		if (o.action == CLI_RUN && (!o.command || !o.command[0]))
			abort();
		for (size_t i = 0; i < o.n_shims; i++)
			if (!o.shims[i] || !*o.shims[i])
				abort();
	} else if (k != -EINVAL || !*err) {
		abort();
	}
}

static void run_report(int argc, char **argv)
{
	ReportOptions o;
	char err[1024] = "";
	int k = report_options_parse(argc, argv, &o, err, sizeof(err));
	if (k == 0) {
		switch (o.command) {
		case REPORT_CMD_SHOW:
			if (o.n_inputs < 1 || o.oe.gpus >= 0 || o.oe.device)
				abort();
			break;
		case REPORT_CMD_DIFF:
			if (o.n_inputs != 2 || o.oe.gpus >= 0 || o.oe.device)
				abort();
			break;
		case REPORT_CMD_CHECK:
			if (o.n_inputs < 1 || (o.n_expects == 0 && o.oe.gpus < 0 && !o.oe.device) ||
			    o.oe.gpus > 1024 || (o.oe.device && !*o.oe.device))
				abort();
			break;
		case REPORT_CMD_HELP:
		case REPORT_CMD_VERSION:
			break;
		default:
			abort();
		}
		for (size_t i = 0; i < o.n_inputs; i++)
			if (!o.inputs[i])
				abort();
		report_options_done(&o);
	} else if (!(k == -EINVAL && *err) && k != -ENOMEM) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	char *argv[ARGS_MAX + 2], *copy[ARGS_MAX + 2];
	int argc = 0;
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "vgpu";
	for (size_t at = 0; at < size && argc <= ARGS_MAX; at += strlen(buf + at) + 1)
		argv[argc++] = buf + at;
	argv[argc] = NULL;

	memcpy(copy, argv, sizeof(argv));
	run_cli(argc, copy);
	memcpy(copy, argv, sizeof(argv));
	run_report(argc, copy);
	free(buf);
	return 0;
}
