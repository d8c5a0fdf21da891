/* vgpu-report's command line (see options.h). */
#include "vgpu-report/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/args.h"

static const struct option long_options[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "color", optional_argument, NULL, 'c' },
	{ "expect", required_argument, NULL, 'e' },
	{ "expect-gpus", required_argument, NULL, 'g' },
	{ "expect-device", required_argument, NULL, 'd' },
	{ "policy", required_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{},
};

/* The options of ARGV into O; the command and inputs are left to the
 * caller.  0 (with O->command HELP or VERSION when -h or -V came first),
 * -EINVAL with ERR set, or -ENOMEM. */
static int parse_options(int argc, char **argv, ReportOptions *o, char *err, size_t err_size)
{
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:hV", long_options, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				snprintf(err, err_size, "--format must be text or json, not '%s'", optarg);
				return -EINVAL;
			}
			o->json = !strcmp(optarg, "json");
			break;
		case 'c':
			if (report_color_parse(optarg, &o->color) < 0) {
				snprintf(err, err_size, "--color must be auto, always or never, not '%s'", optarg);
				return -EINVAL;
			}
			break;
		case 'e': {
			char **ne = realloc(o->expects, (o->n_expects + 1) * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			o->expects = ne;
			o->expects[o->n_expects++] = optarg;
			break;
		}
		case 'g': {
			char *end;
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || errno || n > 1024) {
				snprintf(err, err_size, "--expect-gpus must be a number from 0 to 1024, not '%s'",
					 optarg);
				return -EINVAL;
			}
			o->oe.gpus = n;
			break;
		}
		case 'd':
			if (!*optarg) {
				snprintf(err, err_size, "--expect-device needs a regular expression");
				return -EINVAL;
			}
			o->oe.device = optarg;
			break;
		case 'p':
			o->policy = optarg;
			break;
		case 'h':
			o->command = REPORT_CMD_HELP;
			return 0;
		case 'V':
			o->command = REPORT_CMD_VERSION;
			return 0;
		case ':':
			snprintf(err, err_size, "option '%s' needs an argument", argv[optind - 1]);
			return -EINVAL;
		default:
			args_error(long_options, argv[optind - 1], optopt, err, err_size);
			return -EINVAL;
		}
	}
	return 0;
}

int report_options_parse(int argc, char **argv, ReportOptions *ret, char *err, size_t err_size)
{
	ReportOptions o = { .command = REPORT_CMD_SHOW, .color = REPORT_COLOR_AUTO, .oe = { .gpus = -1 } };
	int r = parse_options(argc, argv, &o, err, err_size);
	if (r < 0 || o.command == REPORT_CMD_HELP || o.command == REPORT_CMD_VERSION) {
		free(o.expects);
		o.expects = NULL;
		o.n_expects = 0;
		if (r == 0)
			*ret = o;
		return r;
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	int nargs = argc - optind - 1;
	int want = !cmd ? -1 : !strcmp(cmd, "diff") ? 2 : (!strcmp(cmd, "show") || !strcmp(cmd, "check")) ? 1 : -1;
	if (want < 0 || nargs < want || (want == 2 && nargs != want)) {
		snprintf(err, err_size, "%s (try 'vgpu-report --help')",
			 want < 0 ? "expected show, diff or check" : "wrong number of inputs");
		r = -EINVAL;
	} else if (!strcmp(cmd, "check") && o.n_expects == 0 && o.oe.gpus < 0 && !o.oe.device) {
		snprintf(err, err_size, "check needs at least one --expect=DIR=VERDICT[:REASON], "
			 "--expect-gpus or --expect-device");
		r = -EINVAL;
	} else if (strcmp(cmd, "check") && (o.oe.gpus >= 0 || o.oe.device)) {
		snprintf(err, err_size, "--expect-gpus and --expect-device are check's");
		r = -EINVAL;
	}
	if (r < 0) {
		free(o.expects);
		return r;
	}
	o.command = !strcmp(cmd, "show") ? REPORT_CMD_SHOW : !strcmp(cmd, "diff") ? REPORT_CMD_DIFF : REPORT_CMD_CHECK;
	o.inputs = argv + optind + 1;
	o.n_inputs = (size_t)nargs;
	*ret = o;
	return 0;
}

void report_options_done(ReportOptions *o)
{
	free(o->expects);
	o->expects = NULL;
	o->n_expects = 0;
}
