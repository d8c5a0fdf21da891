/* Unit tests: option parsing (vgpu-run's and vgpu-report's) and command
 * lookup. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vgpu-run/cli.h"
#include "vgpu-run/command.h"
#include "vgpu-report/options.h"
#include "../check-run.h"

#define ARGS(...) ((char *[]){ "vgpu-run", __VA_ARGS__, NULL })

START_TEST(test_cli_parses_options_and_command)
{
	char err[128] = "";
	Options o;
	char **a = ARGS("-v", "--trace=/tmp/t.jsonl", "-q", "--", "ollama", "serve", "-x");
	ck_assert_int_eq(cli_parse(8, a, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.action, CLI_RUN);
	ck_assert(o.verbose && o.quiet);
	ck_assert_str_eq(o.trace_path, "/tmp/t.jsonl");
	ck_assert_str_eq(o.command[0], "ollama");
	ck_assert_str_eq(o.command[2], "-x");
	ck_assert_ptr_null(o.command[3]);
	ck_assert_str_eq(o.policy, "ollama");	/* the default */
	ck_assert_ptr_null(o.report_path);
	ck_assert_int_eq(o.format, CLI_FORMAT_AUTO);
	ck_assert_int_eq(o.color, REPORT_COLOR_AUTO);

	char **c = ARGS("--color", "ls");
	ck_assert_int_eq(cli_parse(3, c, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.color, REPORT_COLOR_ALWAYS);	/* bare: always, as ls and grep */
	char **d = ARGS("--color=never", "ls");
	ck_assert_int_eq(cli_parse(3, d, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.color, REPORT_COLOR_NEVER);

	char **b = ARGS("-p", "./my.policy", "-o", "r.json", "--format=text", "ollama");
	ck_assert_int_eq(cli_parse(7, b, &o, err, sizeof(err)), 0);
	ck_assert_str_eq(o.policy, "./my.policy");
	ck_assert_str_eq(o.report_path, "r.json");
	ck_assert_int_eq(o.format, CLI_FORMAT_TEXT);
	ck_assert_ptr_null(o.metrics_path);

	char **m = ARGS("--metrics=/var/lib/prometheus/node-exporter/v.prom", "ollama");
	ck_assert_int_eq(cli_parse(3, m, &o, err, sizeof(err)), 0);
	ck_assert_str_eq(o.metrics_path, "/var/lib/prometheus/node-exporter/v.prom");
}
END_TEST

START_TEST(test_cli_stops_at_command_options)
{
	char err[128] = "";
	Options o;
	char **a = ARGS("-t", "t.jsonl", "ls", "-v");
	ck_assert_int_eq(cli_parse(5, a, &o, err, sizeof(err)), 0);
	ck_assert(!o.verbose);	/* -v belongs to ls */
	ck_assert_str_eq(o.command[0], "ls");
	ck_assert_str_eq(o.command[1], "-v");
}
END_TEST

static const struct {
	char *arg;
	const char *err;
} bad_cases[] = {
	{ "--nope", "unknown option '--nope'" },
	/* faults.md #23, #24: a long option's refusal names it, not a byte */
	{ "--no-inject=x", "option '--no-inject' takes no argument" },
	{ "--self-test=x", "option '--self-test' takes no argument" },
	{ "--verbose=1", "option '--verbose' takes no argument" },
	{ "--s", "option '--s' is ambiguous (--shim, --stack, --self-test)" },
	{ "--t", "option '--t' is ambiguous (--trace, --trace-max, --trace-pieces)" },
	{ "-Z", "unknown option '-Z'" },
	{ "-t", "option '-t' needs an argument" },
	{ "--trace=", "--trace needs a file name" },
	{ "--metrics=", "--metrics needs a file name" },
	{ "--metrics", "option '--metrics' needs an argument" },
	{ "--format=xml", "--format must be text or json, not 'xml'" },
	{ "--color=yes", "--color must be auto, always or never, not 'yes'" },
	{ "--color=", "--color must be auto, always or never, not ''" },
	{ "--policy=", "--policy needs a name or a file" },
	{ "-o", "option '-o' needs an argument" },
	{ "--trace-max=4095", "--trace-max must be a size of at least 4096 bytes (e.g. 64M), not '4095'" },
	{ "--trace-max=1Q", "--trace-max must be a size of at least 4096 bytes (e.g. 64M), not '1Q'" },
	{ "--trace-max=-8K", "--trace-max must be a size of at least 4096 bytes (e.g. 64M), not '-8K'" },
	{ "--shim=", "--shim needs a library path" },
	{ "--inject-method=ld_preload", "--inject-method must be redirect or preload, not 'ld_preload'" },
	{ "--discover-timeout=abc", "--discover-timeout must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not 'abc'" },
	{ "--discover-timeout=-1", "--discover-timeout must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '-1'" },
	{ "--discover-timeout=1x", "--discover-timeout must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '1x'" },
	{ "--discover-timeout=1e3", "--discover-timeout must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '1e3'" },
	{ "--discover-timeout= 5", "--discover-timeout must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not ' 5'" },
	{ "--kill-after=1.2.3", "--kill-after must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '1.2.3'" },
	{ "--kill-after=", "--kill-after must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not ''" },
	{ "--kill-after=.s", "--kill-after must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '.s'" },
	{ "--kill-after=5ms", "--kill-after must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '5ms'" },
	{ "--discover-timeout=300000000000d", "--discover-timeout must be a duration (a number of seconds, or with an s, m, h or d suffix: 90s, 1.5m), not '300000000000d'" },
	{ "--trace-max=17179869184G", "--trace-max must be a size of at least 4096 bytes (e.g. 64M), not '17179869184G'" },
	{ "--report-keep=x", "--report-keep must be a number from 0 to 100, not 'x'" },
	{ "--report-keep=101", "--report-keep must be a number from 0 to 100, not '101'" },
	{ "--report-keep=-1", "--report-keep must be a number from 0 to 100, not '-1'" },
	{ "--report-keep= 1", "--report-keep must be a number from 0 to 100, not ' 1'" },
	{ "--trace-pieces=0", "--trace-pieces must be a number from 1 to 100, not '0'" },
	{ "--trace-pieces=4x", "--trace-pieces must be a number from 1 to 100, not '4x'" },
	{ "--trace-pieces=99999999999999999999", "--trace-pieces must be a number from 1 to 100, not '99999999999999999999'" },
};

START_TEST(test_cli_rejects_bad_options_with_one_line)
{
	char err[160] = "";
	Options o;
	char *a[] = { "vgpu-run", bad_cases[_i].arg, NULL };
	ck_assert_int_eq(cli_parse(2, a, &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, bad_cases[_i].err);
}
END_TEST

START_TEST(test_cli_trace_max_sizes)
{
	static const struct {
		char *arg;
		uint64_t bytes;
	} sizes[] = { { "--trace-max=4096", 4096 }, { "--trace-max=64k", 65536 },
		      { "--trace-max=64M", 67108864 }, { "--trace-max=2G", 2147483648 } };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char err[128] = "";
		Options o;
		ck_assert_int_eq(cli_parse(3, ARGS(sizes[i].arg, "true"), &o, err, sizeof(err)), 0);
		ck_assert_uint_eq(o.trace_max, sizes[i].bytes);
	}
}
END_TEST

START_TEST(test_cli_report_keep_and_trace_pieces)
{
	char err[160] = "";
	Options o;
	ck_assert_int_eq(cli_parse(2, ARGS("true"), &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.report_keep, 1);	/* the previous run's report is kept */
	ck_assert_uint_eq(o.trace_pieces, 1);	/* --trace-max cuts */
	ck_assert_int_eq(cli_parse(3, ARGS("--report-keep=0", "true"), &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.report_keep, 0);
	ck_assert_int_eq(cli_parse(4, ARGS("--trace-max=64M", "--trace-pieces=8", "true"), &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.trace_pieces, 8);
	ck_assert_int_eq(cli_parse(3, ARGS("--trace-pieces=2", "true"), &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--trace-pieces needs --trace-max (the size of all pieces together)");
	ck_assert_int_eq(cli_parse(4, ARGS("--trace-max=3M", "--trace-pieces=4", "true"), &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--trace-max=3145728 leaves less than 1048576 bytes for each of the 4 pieces");
}
END_TEST

START_TEST(test_cli_discover_durations)
{
	static const struct {
		char *arg;
		uint64_t ns;
	} durations[] = { { "--discover-timeout=90", 90000000000ULL }, { "--discover-timeout=1.5m", 90000000000ULL },
			  { "--discover-timeout=2h", 7200000000000ULL }, { "--discover-timeout=0.5d", 43200000000000ULL },
			  { "--discover-timeout=.25s", 250000000ULL }, { "--discover-timeout=0", 0 } };
	char err[160] = "";
	Options o;
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		ck_assert_int_eq(cli_parse(4, ARGS("--discover-only", durations[i].arg, "true"), &o, err, sizeof(err)), 0);
		ck_assert(o.discover_timeout_set);
		ck_assert_uint_eq(o.discover_timeout_ns, durations[i].ns);
		ck_assert_uint_eq(o.kill_after_ns, 10000000000ULL);	/* the default */
	}
	ck_assert_int_eq(cli_parse(4, ARGS("--discover-only", "--kill-after=0", "true"), &o, err, sizeof(err)), 0);
	ck_assert(!o.discover_timeout_set);	/* main.c derives it from the policy */
	ck_assert_uint_eq(o.kill_after_ns, 0);
	/* both are --discover-only's */
	ck_assert_int_eq(cli_parse(3, ARGS("--kill-after=5s", "true"), &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--kill-after needs --discover-only");
	ck_assert_int_eq(cli_parse(3, ARGS("--discover-timeout=5s", "true"), &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "--discover-timeout needs --discover-only");
}
END_TEST

START_TEST(test_cli_shim_options)
{
	char err[128] = "";
	Options o;
	char **a = ARGS("-s", "shim/libcuda.so.1", "--shim=libnvidia-ml.so.1=/s/libnvidia-ml.so.1",
			"--inject-method=preload", "--no-inject", "ollama");
	ck_assert_int_eq(cli_parse(7, a, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.n_shims, 2);
	ck_assert_str_eq(o.shims[0], "shim/libcuda.so.1");
	ck_assert_str_eq(o.shims[1], "libnvidia-ml.so.1=/s/libnvidia-ml.so.1");
	ck_assert_str_eq(o.inject_method, "preload");
	ck_assert(o.no_inject);
	char **b = ARGS("-s", "a", "-s", "b", "-s", "c", "-s", "d", "-s", "e", "true");
	ck_assert_int_eq(cli_parse(12, b, &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "more than 4 --shim options");
}
END_TEST

START_TEST(test_cli_actions_and_missing_command)
{
	char err[128] = "";
	Options o;
	ck_assert_int_eq(cli_parse(2, ARGS("--help"), &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.action, CLI_HELP);
	ck_assert_int_eq(cli_parse(2, ARGS("-V"), &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.action, CLI_VERSION);
	ck_assert_int_eq(cli_parse(2, ARGS("--self-test"), &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.action, CLI_SELF_TEST);
	ck_assert_int_eq(cli_parse(2, ARGS("-q"), &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "no COMMAND given (try 'vgpu-run --help')");
}
END_TEST

START_TEST(test_cli_usage_names_every_option)
{
	static const char *const opts[] = { "--policy=NAME|FILE", "--report=FILE", "--format=text|json",
					     "--report-keep=N", "--trace-pieces=N",
					     "--trace=FILE", "--trace-max=SIZE", "--discover-only",
					     "--discover-timeout=DURATION", "--kill-after=DURATION",
					     "--shim=[SONAME=]PATH", "--inject-method=redirect|preload", "--no-inject", "--stack", "--verbose", "--quiet", "--self-test", "--help",
					     "--version" };
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		ck_assert_msg(strstr(cli_usage, opts[i]), "%s missing from --help", opts[i]);
}
END_TEST

START_TEST(test_command_resolve_path_search)
{
	char dir[] = "/tmp/vgpu-cmd-XXXXXX", p[512], out[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/noexec", dir);
	fclose(fopen(p, "w"));
	snprintf(p, sizeof(p), "%s/tool", dir);
	fclose(fopen(p, "w"));
	chmod(p, 0755);

	char path_env[600];
	snprintf(path_env, sizeof(path_env), "/nonexistent-vgpu:%s", dir);
	ck_assert_int_eq(command_resolve("tool", path_env, out, sizeof(out)), 0);
	ck_assert_str_eq(out, p);
	/* no x bit at all: not executable, even for root */
	ck_assert_int_eq(command_resolve("noexec", path_env, out, sizeof(out)), -EACCES);
	ck_assert_int_eq(command_resolve("absent", path_env, out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(command_resolve("/nonexistent-vgpu/x", path_env, out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(command_resolve("", path_env, out, sizeof(out)), -ENOENT);
	ck_assert_int_eq(command_resolve("/bin/sh", NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/bin/sh");

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(p), 0);
}
END_TEST

#define RARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

START_TEST(test_report_options_commands_and_inputs)
{
	char err[256] = "";
	ReportOptions o;
	char *a[] = { "vgpu-report", "show", "--format=json", "-p", "ggml", "t", "t.1", NULL };
	ck_assert_int_eq(report_options_parse(RARGC(a), a, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.command, REPORT_CMD_SHOW);
	ck_assert(o.json);
	ck_assert_str_eq(o.policy, "ggml");
	ck_assert_uint_eq(o.n_inputs, 2);
	ck_assert_str_eq(o.inputs[0], "t");	/* options permuted in front */
	ck_assert_str_eq(o.inputs[1], "t.1");
	ck_assert_int_eq(o.oe.gpus, -1);
	report_options_done(&o);

	char *b[] = { "vgpu-report", "check", "--expect=cuda_v12=loaded", "--expect-gpus=2",
		      "--expect=a=failed:init-failed", "--expect-device=H200", "r.json", NULL };
	ck_assert_int_eq(report_options_parse(RARGC(b), b, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.command, REPORT_CMD_CHECK);
	ck_assert_uint_eq(o.n_expects, 2);
	ck_assert_str_eq(o.expects[0], "cuda_v12=loaded");
	ck_assert_str_eq(o.expects[1], "a=failed:init-failed");
	ck_assert_int_eq(o.oe.gpus, 2);
	ck_assert_str_eq(o.oe.device, "H200");
	ck_assert_str_eq(o.inputs[0], "r.json");
	report_options_done(&o);

	char *c[] = { "vgpu-report", "--color", "diff", "a", "b", NULL };
	ck_assert_int_eq(report_options_parse(RARGC(c), c, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.command, REPORT_CMD_DIFF);
	ck_assert_int_eq(o.color, REPORT_COLOR_ALWAYS);
	ck_assert_uint_eq(o.n_inputs, 2);
	report_options_done(&o);

	/* -h and -V end the parsing: what follows them is not looked at */
	char *d[] = { "vgpu-report", "--expect=x", "-h", "--format=xml", NULL };
	ck_assert_int_eq(report_options_parse(RARGC(d), d, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.command, REPORT_CMD_HELP);
	ck_assert_uint_eq(o.n_expects, 0);
	report_options_done(&o);
	char *e[] = { "vgpu-report", "--version", NULL };
	ck_assert_int_eq(report_options_parse(RARGC(e), e, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(o.command, REPORT_CMD_VERSION);
	report_options_done(&o);
}
END_TEST

static const struct {
	char *args[5];
	const char *err;
} report_bad_cases[] = {
	{ { NULL }, "expected show, diff or check (try 'vgpu-report --help')" },
	{ { "frob", "r.json" }, "expected show, diff or check (try 'vgpu-report --help')" },
	{ { "show" }, "wrong number of inputs (try 'vgpu-report --help')" },
	{ { "diff", "a" }, "wrong number of inputs (try 'vgpu-report --help')" },
	{ { "diff", "a", "b", "c" }, "wrong number of inputs (try 'vgpu-report --help')" },
	{ { "check", "r.json" }, "check needs at least one --expect=DIR=VERDICT[:REASON], --expect-gpus or --expect-device" },
	{ { "show", "--expect-gpus=1", "r.json" }, "--expect-gpus and --expect-device are check's" },
	{ { "diff", "--expect-device=x", "a", "b" }, "--expect-gpus and --expect-device are check's" },
	{ { "--format=xml", "show", "r" }, "--format must be text or json, not 'xml'" },
	{ { "--color=yes", "show", "r" }, "--color must be auto, always or never, not 'yes'" },
	{ { "--expect-gpus=x", "check", "r" }, "--expect-gpus must be a number from 0 to 1024, not 'x'" },
	{ { "--expect-gpus=1025", "check", "r" }, "--expect-gpus must be a number from 0 to 1024, not '1025'" },
	{ { "--expect-gpus=-1", "check", "r" }, "--expect-gpus must be a number from 0 to 1024, not '-1'" },
	{ { "--expect-gpus=99999999999999999999", "check", "r" },
	  "--expect-gpus must be a number from 0 to 1024, not '99999999999999999999'" },
	{ { "--expect-device=", "check", "r" }, "--expect-device needs a regular expression" },
	{ { "show", "r", "-p" }, "option '-p' needs an argument" },
	{ { "show", "r", "--expect" }, "option '--expect' needs an argument" },
	{ { "--bogus", "show", "r" }, "unknown option '--bogus'" },
	{ { "-Z", "show", "r" }, "unknown option '-Z'" },
	{ { "--help=x" }, "option '--help' takes no argument" },
	{ { "--expect-=1", "check", "r" }, "option '--expect-' is ambiguous (--expect-gpus, --expect-device)" },
};

START_TEST(test_report_options_reject_with_one_line)
{
	char err[256] = "";
	ReportOptions o;
	char *a[7] = { "vgpu-report" };
	int n = 1;
	for (; n < 6 && report_bad_cases[_i].args[n - 1]; n++)
		a[n] = report_bad_cases[_i].args[n - 1];
	ck_assert_int_eq(report_options_parse(n, a, &o, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, report_bad_cases[_i].err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	tcase_add_test(tc, test_cli_parses_options_and_command);
	tcase_add_test(tc, test_cli_stops_at_command_options);
	tcase_add_loop_test(tc, test_cli_rejects_bad_options_with_one_line, 0,
			    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_cli_trace_max_sizes);
	tcase_add_test(tc, test_cli_actions_and_missing_command);
	tcase_add_test(tc, test_cli_shim_options);
	tcase_add_test(tc, test_cli_discover_durations);
	tcase_add_test(tc, test_cli_report_keep_and_trace_pieces);
	tcase_add_test(tc, test_cli_usage_names_every_option);
	tcase_add_test(tc, test_command_resolve_path_search);
	tcase_add_test(tc, test_report_options_commands_and_inputs);
	tcase_add_loop_test(tc, test_report_options_reject_with_one_line, 0,
			    sizeof(report_bad_cases) / sizeof(report_bad_cases[0]));
	suite_add_tcase(s, tc);
	return check_run(s);
}
