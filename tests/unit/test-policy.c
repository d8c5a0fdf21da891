/* Unit tests: policy files (parser, shipped policies, malformed fixtures)
 * and the -p NAME|FILE lookup.  SOURCE_ROOT names the source tree (meson
 * sets it; "." otherwise). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "../check-run.h"

#define MINIMAL "name = x\nbackend-file = libggml-*.so\nscanner = any\n"

static const char *source_root(void)
{
	const char *s = getenv("SOURCE_ROOT");
	return s && *s ? s : ".";
}

static int parse_str(const char *text, Policy *p, char *err, size_t err_size)
{
	return policy_parse("t.policy", text, strlen(text), p, err, err_size);
}

static void load_shipped(const char *name, Policy *p)
{
	char path[4096], err[512] = "";
	snprintf(path, sizeof(path), "%s/policies/%s.policy", source_root(), name);
	ck_assert_msg(policy_load_file(path, p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(p->path, path);
}

static void assert_list(char *const *list, size_t n, const char *const *want, size_t n_want)
{
	ck_assert_uint_eq(n, n_want);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(list[i], want[i]);
}

#define ASSERT_LIST(list, n, ...)                                                        \
	do {                                                                             \
		static const char *const w_[] = { __VA_ARGS__ };                         \
		assert_list((list), (n), w_, sizeof(w_) / sizeof(w_[0]));                \
	} while (0)

START_TEST(test_policy_ollama_shipped_values)
{
	Policy p;
	load_shipped("ollama", &p);
	ck_assert_str_eq(p.name, "ollama");
	ck_assert_str_eq(p.version_min, "0.13");
	ck_assert_str_eq(p.version_max, "0.20");
	ck_assert_str_eq(p.version_regex, "Listening on .* \\(version ([0-9]+\\.[0-9]+[^)]*)\\)");
	ck_assert_str_eq(p.library_root, "exe:../lib/ollama");
	ASSERT_LIST(p.expected, p.n_expected, "cuda_v12", "cuda_v13", "vulkan", "rocm");
	ck_assert_str_eq(p.candidate_glob, "*ggml-*");
	ck_assert_str_eq(p.backend_glob, "libggml-*.so");
	ck_assert_str_eq(p.cpu_glob, "libggml-cpu*.so");
	ck_assert(!p.scanner_any);
	ck_assert_str_eq(p.scanner_argv1, "runner");
	ck_assert_str_eq(p.scanner_dirs_env, "OLLAMA_LIBRARY_PATH");
	/* in Ollama's order: requested, JetPack, Vulkan */
	ck_assert_uint_eq(p.n_filters, 3);
	ck_assert_int_eq(p.filters[0].kind, POLICY_FILTER_SELECT);
	ck_assert_str_eq(p.filters[0].var, "OLLAMA_LLM_LIBRARY");
	ck_assert_ptr_null(p.filters[0].glob);
	ck_assert_int_eq(p.filters[1].kind, POLICY_FILTER_PLATFORM);
	ck_assert_ptr_null(p.filters[1].var);
	ck_assert_str_eq(p.filters[1].glob, "cuda_jetpack*");
	ck_assert_int_eq(p.filters[2].kind, POLICY_FILTER_ENABLE);
	ck_assert_str_eq(p.filters[2].var, "OLLAMA_VULKAN");
	ck_assert_str_eq(p.filters[2].glob, "*vulkan*");
	ck_assert_str_eq(p.platform.arch, "aarch64");
	ck_assert_str_eq(p.platform.env_var, "JETSON_JETPACK");
	ck_assert_str_eq(p.platform.env_dir, "cuda_jetpack%s");
	ck_assert_str_eq(p.platform.file, "/etc/nv_tegra_release");
	ck_assert_str_eq(p.platform.file_regex, "[[:blank:]]R([0-9]+)[[:blank:]]");
	ASSERT_LIST(p.platform.file_map, p.platform.n_file_map, "35=cuda_jetpack5", "36=cuda_jetpack6");
	ASSERT_LIST(p.record_env, p.n_record_env, "OLLAMA_*", "GGML_*", "CUDA_VISIBLE_DEVICES",
		    "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL",
		    "HSA_OVERRIDE_GFX_VERSION", "JETSON_JETPACK", "LD_LIBRARY_PATH", "LD_PRELOAD");
	ck_assert_uint_eq(p.n_capture_fds, 1);
	ck_assert_int_eq(p.capture_fds[0], 2);
	ck_assert_uint_eq(p.probe_timeout_ns, 30000000000ULL);
	ASSERT_LIST(p.init_failed, p.n_init_failed,
		    "ggml_cuda_init: failed to initialize (CUDA|ROCm|MUSA): .*",
		    "ggml_vulkan: No devices found");
	ck_assert_str_eq(p.loaded_regex, "load_backend: loaded .* backend from (.*)");
	ASSERT_LIST(p.inject_sonames, p.n_inject_sonames, "libcuda.so.1");
	ck_assert_str_eq(p.inject_method, "redirect");
	ASSERT_LIST(p.ships, p.n_ships, "cuda_v12 libcudart.so.12 libcublas.so.12 libcublasLt.so.12",
		    "cuda_v13 libcudart.so.13 libcublas.so.13 libcublasLt.so.13");
	ck_assert(policy_ships(&p, "cuda_v12", "libcublasLt.so.12"));
	ck_assert(!policy_ships(&p, "cuda_v12", "libcudart.so.13"));
	ck_assert(!policy_ships(&p, "cuda_v1", "libcudart.so.12"));	/* a prefix is no directory */
	ck_assert(!policy_ships(&p, "vulkan", "libvulkan.so.1"));
	ASSERT_LIST(p.installs, p.n_installs, "/usr/local/lib/ollama", "/usr/lib/ollama");
	ck_assert_ptr_nonnull(strstr(p.text, "name = ollama\n"));
	policy_done(&p);
}
END_TEST

START_TEST(test_policy_ggml_shipped_values)
{
	Policy p;
	load_shipped("ggml", &p);
	ck_assert_str_eq(p.name, "ggml");
	ck_assert_ptr_null(p.version_min);
	ck_assert_ptr_null(p.version_max);
	ck_assert_ptr_null(p.version_regex);
	ck_assert_ptr_null(p.library_root);
	ck_assert_uint_eq(p.n_expected, 0);
	ck_assert_str_eq(p.candidate_glob, "*ggml-*");
	ck_assert_str_eq(p.backend_glob, "libggml-*.so");
	ck_assert_str_eq(p.cpu_glob, "libggml-cpu*.so");
	ck_assert(p.scanner_any);
	ck_assert_ptr_null(p.scanner_argv1);
	ck_assert_ptr_null(p.scanner_dirs_env);
	ck_assert_uint_eq(p.n_filters, 0);
	ASSERT_LIST(p.record_env, p.n_record_env, "GGML_*", "CUDA_VISIBLE_DEVICES",
		    "LD_LIBRARY_PATH", "LD_PRELOAD");
	ck_assert_uint_eq(p.n_capture_fds, 2);
	ck_assert_int_eq(p.capture_fds[0], 2);
	ck_assert_int_eq(p.capture_fds[1], 1);
	ck_assert_uint_eq(p.probe_timeout_ns, 0);
	ASSERT_LIST(p.init_failed, p.n_init_failed,
		    "ggml_cuda_init: failed to initialize (CUDA|ROCm|MUSA): .*",
		    "ggml_vulkan: No devices found");
	ck_assert_str_eq(p.loaded_regex, "load_backend: loaded .* backend from (.*)");
	ASSERT_LIST(p.inject_sonames, p.n_inject_sonames, "libcuda.so.1");
	ck_assert_str_eq(p.inject_method, "redirect");
	policy_done(&p);
}
END_TEST

/* Each fixture is valid but for one defect.  Whole-file errors (a missing
 * required key) are reported on line 0. */
static const struct {
	const char *file;
	const char *err;	/* after "PATH:" */
} fixtures[] = {
	{ "unknown-key", "4: unknown key 'scaner'" },
	{ "duplicate-key", "4: duplicate key 'name'" },
	{ "missing-equals", "2: missing '='" },
	{ "empty-value", "2: backend-file: empty value" },
	{ "bad-regex", "4: version-regex: Unmatched ( or \\(" },
	{ "regex-without-group", "4: loaded: needs a group ( ) that captures the library's path" },
	{ "bad-duration", "4: probe-timeout: '30 seconds' is not a duration (use 30s, 500ms, 2m)" },
	{ "bad-fd", "4: capture-fd: '-1' is not a file descriptor" },
	{ "fd-too-large", "4: capture-fd: '1024' is not a file descriptor" },
	{ "too-many-fds", "5: capture-fd: more than 8 descriptors" },
	{ "missing-name", "0: missing required key 'name'" },
	{ "missing-scanner", "0: missing required key 'scanner'" },
	{ "bad-name", "1: name: 'Ollama' must match [a-z0-9_-]+" },
	{ "bad-scanner", "3: scanner: 'server-exe' is neither 'server-exe ARGV1' nor 'any'" },
	{ "bad-versions", "4: versions: 0.20 is above 0.13 (MIN MAX)" },
	{ "bad-version", "4: versions: 'v0.20' is not a version (use MAJOR.MINOR, e.g. 0.13)" },
	{ "bad-library-root",
	  "4: library-root: '../lib/ollama' is neither exe:RELATIVE-PATH nor an absolute path" },
	{ "bad-inject-method", "4: inject-method: 'LD_PRELOAD' is neither 'redirect' nor 'preload'" },
	{ "bad-shim", "4: shim: 'shims/libnvidia-ml.so.1' is not an absolute path" },
	{ "bad-filter-enable", "4: filter-enable: needs a variable and a glob, VAR GLOB" },
	{ "bad-record-env", "4: record-env: 'LD-PRELOAD' is not a variable name or PREFIX*" },
	{ "glob-with-slash",
	  "2: backend-file: 'lib/libggml-*.so' must not contain '/' (it matches names in one directory)" },
};

START_TEST(test_policy_fixture_fails_with_exact_line)
{
	char path[4096], want[8192], err[512] = "";
	Policy p;
	snprintf(path, sizeof(path), "%s/tests/data/policies/%s.policy", source_root(),
		 fixtures[_i].file);
	snprintf(want, sizeof(want), "%s:%s", path, fixtures[_i].err);
	ck_assert_int_eq(policy_load_file(path, &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(p.name);	/* zeroed on failure */
	policy_done(&p);
}
END_TEST

START_TEST(test_policy_shim)
{
	char err[256] = "";
	Policy p;
	ck_assert_int_eq(parse_str(MINIMAL "shim = libcuda.so.1=/opt/vgpu/libcuda.so.1\n", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.shim, "libcuda.so.1=/opt/vgpu/libcuda.so.1");
	policy_done(&p);
	ck_assert_int_eq(parse_str(MINIMAL, &p, err, sizeof(err)), 0);
	ck_assert_ptr_null(p.shim);
	policy_done(&p);
}
END_TEST

START_TEST(test_policy_defaults_when_absent)
{
	char err[256] = "";
	Policy p;
	ck_assert_int_eq(parse_str(MINIMAL, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.path, "t.policy");
	ck_assert_str_eq(p.text, MINIMAL);
	ck_assert_uint_eq(p.n_capture_fds, 1);
	ck_assert_int_eq(p.capture_fds[0], 2);
	ck_assert_uint_eq(p.probe_timeout_ns, 0);
	ck_assert_str_eq(p.inject_method, "redirect");
	ck_assert(p.scanner_any);
	ck_assert_ptr_null(p.description);
	ck_assert_ptr_null(p.loaded_regex);
	ck_assert_uint_eq(p.n_expected + p.n_filters + p.n_record_env + p.n_init_failed +
				  p.n_inject_sonames, 0);
	policy_done(&p);
	policy_done(&p);	/* done leaves a zeroed Policy behind */
	ck_assert_ptr_null(p.name);
}
END_TEST

static const struct {
	const char *value;
	uint64_t ns;	/* UINT64_MAX: rejected */
	const char *err;
} durations[] = {
	{ "500ms", 500000000ULL, NULL },
	{ "30s", 30000000000ULL, NULL },
	{ "2m", 120000000000ULL, NULL },
	{ "1h", 3600000000000ULL, NULL },
	{ "0s", 0, NULL },
	{ "30", UINT64_MAX, "t.policy:4: probe-timeout: '30' is not a duration (use 30s, 500ms, 2m)" },
	{ "s", UINT64_MAX, "t.policy:4: probe-timeout: 's' is not a duration (use 30s, 500ms, 2m)" },
	{ "1.5s", UINT64_MAX, "t.policy:4: probe-timeout: '1.5s' is not a duration (use 30s, 500ms, 2m)" },
	{ "-1s", UINT64_MAX, "t.policy:4: probe-timeout: '-1s' is not a duration (use 30s, 500ms, 2m)" },
	{ "30sec", UINT64_MAX, "t.policy:4: probe-timeout: '30sec' is not a duration (use 30s, 500ms, 2m)" },
	{ "99999999999999999999s", UINT64_MAX,
	  "t.policy:4: probe-timeout: '99999999999999999999s' is too long" },
	{ "9999999999999h", UINT64_MAX, "t.policy:4: probe-timeout: '9999999999999h' is too long" },
};

START_TEST(test_policy_probe_timeout_durations)
{
	char text[256], err[256] = "";
	Policy p;
	snprintf(text, sizeof(text), MINIMAL "probe-timeout = %s\n", durations[_i].value);
	int r = parse_str(text, &p, err, sizeof(err));
	if (durations[_i].err) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_str_eq(err, durations[_i].err);
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(p.probe_timeout_ns, durations[_i].ns);
	}
	policy_done(&p);
}
END_TEST

START_TEST(test_policy_line_length_bound)
{
	char *text = malloc(8192), err[256] = "";
	Policy p;
	ck_assert_ptr_nonnull(text);
	/* "description = " (14) + 4082 = a 4096-byte line: accepted */
	int n = snprintf(text, 8192, MINIMAL "description = %s", "");
	memset(text + n, 'a', 4082);
	text[n + 4082] = '\0';
	ck_assert_int_eq(parse_str(text, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(p.description), 4082);
	policy_done(&p);
	strcat(text, "a\n");
	ck_assert_int_eq(parse_str(text, &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "t.policy:4: line longer than 4096 bytes");
	free(text);
}
END_TEST

START_TEST(test_policy_list_bound)
{
	char text[2048], err[256] = "";
	Policy p;
	/* 40 + 24 = 64 over two lines: accepted */
	int n = snprintf(text, sizeof(text), MINIMAL "expected =");
	for (int i = 0; i < 40; i++)
		n += snprintf(text + n, sizeof(text) - n, " d%d", i);
	n += snprintf(text + n, sizeof(text) - n, "\nexpected =");
	for (int i = 40; i < 64; i++)
		n += snprintf(text + n, sizeof(text) - n, " d%d", i);
	ck_assert_int_eq(parse_str(text, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n_expected, 64);
	ck_assert_str_eq(p.expected[63], "d63");
	policy_done(&p);
	snprintf(text + n, sizeof(text) - n, " d64\n");
	ck_assert_int_eq(parse_str(text, &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "t.policy:5: expected: more than 64 values");

	n = snprintf(text, sizeof(text), MINIMAL);
	for (int i = 0; i <= 64; i++)
		n += snprintf(text + n, sizeof(text) - n, "filter-select = V%d\n", i);
	ck_assert_int_eq(parse_str(text, &p, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "t.policy:68: filter-select: more than 64 filters");
}
END_TEST

/* Small inputs and their one-line error ("" = accepted). */
static const struct {
	const char *text;
	const char *err;
} snippets[] = {
	{ MINIMAL "  # indented comment\n\n\t\n", "" },
	{ "name = x  # trailing comment\r\nbackend-file = libggml-*.so\r\nscanner = any\r\n", "" },
	{ MINIMAL "init-failed = error[#]1 found\n", "" },
	{ MINIMAL "versions = 0.9 0.13\n", "" },
	{ MINIMAL "library-root = /usr/lib/ollama\n", "" },
	{ MINIMAL "inject-method = preload\n", "" },
	{ MINIMAL "capture-fd = 1023 0\n", "" },
	{ MINIMAL "description = a\0b\n", "" },	/* strlen stops at the NUL */
	{ MINIMAL "= x\n", "t.policy:4: missing key before '='" },
	{ MINIMAL "capture-fd = 2 2\n", "t.policy:4: capture-fd: 2 given twice" },
	{ MINIMAL "capture-fd = 0x2\n", "t.policy:4: capture-fd: '0x2' is not a file descriptor" },
	{ MINIMAL "versions = 0.13\n", "t.policy:4: versions: needs two versions, MIN MAX" },
	{ MINIMAL "versions = 0.13 0.20 0.30\n", "t.policy:4: versions: needs two versions, MIN MAX" },
	{ MINIMAL "versions = 1.0 0.99\n", "t.policy:4: versions: 1.0 is above 0.99 (MIN MAX)" },
	{ MINIMAL "library-root = exe:\n",
	  "t.policy:4: library-root: 'exe:' is neither exe:RELATIVE-PATH nor an absolute path" },
	{ MINIMAL "library-root = exe:/abs\n",
	  "t.policy:4: library-root: 'exe:/abs' is neither exe:RELATIVE-PATH nor an absolute path" },
	{ MINIMAL "version-regex = version [0-9.]+\n",
	  "t.policy:4: version-regex: needs a group ( ) that captures the version" },
	{ MINIMAL "init-failed = a{2,1}\n", "t.policy:4: init-failed: Invalid content of \\{\\}" },
	{ MINIMAL "init-failed = ([0-9]{1,3}[.]){3}[0-9]+ [+]{2}\n", "" },
	{ MINIMAL "init-failed = ggml_++++++++++++++++++++++++vulkan\n",
	  "t.policy:4: init-failed: too complex to compile (nested or stacked +, {N})" },
	{ MINIMAL "loaded = ((a{99}){99}){99}(.*)\n",
	  "t.policy:4: loaded: too complex to compile (nested or stacked +, {N})" },
	/* glibc's epsilon closures grow exponentially with repetitions of
	 * what can match nothing (a fuzz-check timeout: minutes) */
	{ MINIMAL "init-failed = ^a**b**c**d**e**f**g**h**\n", "" },
	{ MINIMAL "init-failed = ^a**b**c**d**e**f**g**h**i**\n",
	  "t.policy:4: init-failed: too complex to compile (more than 8 repetitions of what can match nothing, "
	  "as x** or (x*)*)" },
	{ MINIMAL "loaded = ^((((((((((x*)*)*)*)*)*)*)*)*)*)(.*)\n",
	  "t.policy:4: loaded: too complex to compile (more than 8 repetitions of what can match nothing, "
	  "as x** or (x*)*)" },
	{ MINIMAL "outcome = $(a|)+(b?)*(c{0,2})?(d*){2}(e{0}){1}x{1,}y{,3}*(\\b)*[*]*\\(*\n", "" },
	{ MINIMAL "outcome = $(a|)+(b?)*(c{0,2})?(d*){2}(e{0}){1}x{1,}y{,3}*(\\b)*[*]*\\(*(\\<)*(\\')*\n",
	  "t.policy:4: outcome: too complex to compile (more than 8 repetitions of what can match nothing, "
	  "as x** or (x*)*)" },
	{ MINIMAL "scanner-dirs-env = 1PATH\n",
	  "t.policy:4: scanner-dirs-env: '1PATH' is not a variable name" },
	{ MINIMAL "filter-select = A B\n", "t.policy:4: filter-select: 'A B' is not a variable name" },
	/* filter-platform and how the platform is detected */
	{ MINIMAL "filter-platform = aarch64 cuda_jetpack*\nplatform-env = J cuda_jetpack%s\n"
		  "platform-file = /etc/r [[:blank:]]R([0-9]+) 35=d5 36=d6\n", "" },
	{ MINIMAL "filter-platform = riscv64 x*\nplatform-env = J d%s\n",
	  "t.policy:4: filter-platform: 'riscv64' is not an architecture vgpu-run knows (x86_64, aarch64)" },
	{ MINIMAL "filter-platform = aarch64\n", "t.policy:4: filter-platform: needs an architecture and a glob, ARCH GLOB" },
	{ MINIMAL "filter-platform = aarch64 a/b\n",
	  "t.policy:4: filter-platform: 'a/b' must not contain '/' (it matches a directory's name)" },
	{ MINIMAL "filter-platform = aarch64 x*\n",
	  "t.policy:0: filter-platform needs platform-env or platform-file: how the platform is detected" },
	{ MINIMAL "platform-env = J d%s\n", "t.policy:0: platform-env needs filter-platform: the directories it selects" },
	{ MINIMAL "platform-file = /etc/r R([0-9]+) 1=a\n",
	  "t.policy:0: platform-file needs filter-platform: the directories it selects" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-env = J d\n",
	  "t.policy:5: platform-env: 'd' is not a directory name with one %s (cuda_jetpack%s)" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-env = J d%s%s\n",
	  "t.policy:5: platform-env: 'd%s%s' is not a directory name with one %s (cuda_jetpack%s)" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-env = 1J d%s\n",
	  "t.policy:5: platform-env: '1J' is not a variable name" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-file = /etc/r R([0-9]+)\n",
	  "t.policy:5: platform-file: needs a file, a regex and one VALUE=DIR at least" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-file = etc/r R([0-9]+) 1=a\n",
	  "t.policy:5: platform-file: 'etc/r' is not an absolute path" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-file = /etc/r R[0-9]+ 1=a\n",
	  "t.policy:5: platform-file: needs a group ( ) that captures the value" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-file = /etc/r R([0-9]+) 1=a/b\n",
	  "t.policy:5: platform-file: '1=a/b' is not VALUE=DIR" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-file = /etc/r R([0-9]+) =a\n",
	  "t.policy:5: platform-file: '=a' is not VALUE=DIR" },
	{ MINIMAL "filter-platform = aarch64 x*\nplatform-file = /etc/r (.*)\\1 1=a\n",
	  "t.policy:5: platform-file: back-references (\\1 to \\9) are not allowed: their matching cost has no bound" },
	{ MINIMAL "filter-enable = V a/b\n",
	  "t.policy:4: filter-enable: 'a/b' must not contain '/' (it matches a directory's name)" },
	{ MINIMAL "inject-sonames = /lib/libcuda.so.1\n",
	  "t.policy:4: inject-sonames: '/lib/libcuda.so.1' is not a name without '/'" },
	{ MINIMAL "scanner = any\n", "t.policy:4: duplicate key 'scanner'" },
	{ MINIMAL "outcome = msg=x\noutcome-cpu = library=cpu\n", "" },
	{ MINIMAL "ships = cuda_v12 libcudart.so.12\nships = cuda_v13 libcudart.so.13 libcublas.so.13\n", "" },
	{ MINIMAL "installs = /usr/lib/ollama /opt/ollama/lib/ollama\n", "" },
	/* faults.md #32: a byte order mark is named, not taken for a key */
	{ "\xef\xbb\xbf" MINIMAL, "t.policy:1: starts with a UTF-8 byte order mark (U+FEFF); save it without one" },
	/* back-references: no bound on their cost; in brackets, or an escaped
	 * backslash before a digit, they are not one */
	{ MINIMAL "version-regex = (.*)\\1(.*)\\2y\n",
	  "t.policy:4: version-regex: back-references (\\1 to \\9) are not allowed: their matching cost has no bound" },
	{ MINIMAL "outcome = ([a-z]+)=\\9\n",
	  "t.policy:4: outcome: back-references (\\1 to \\9) are not allowed: their matching cost has no bound" },
	{ MINIMAL "version-regex = x[\\1]y([0-9]+)\n", "" },
	{ MINIMAL "version-regex = x\\\\1y([0-9]+)\n", "" },
	{ MINIMAL "installs = lib/ollama\n", "t.policy:4: installs: 'lib/ollama' is not an absolute path" },
	{ MINIMAL "ships = cuda_v12\n", "t.policy:4: ships: 'cuda_v12' is not DIR SONAME..." },
	{ MINIMAL "ships = cuda_v12 /lib/libcudart.so.12\n",
	  "t.policy:4: ships: '/lib/libcudart.so.12' is not a name without '/'" },
	{ MINIMAL "outcome-cpu = library\n",
	  "t.policy:4: outcome-cpu: 'library' is not KEY=VALUE (one field, no blanks or quotes)" },
	{ MINIMAL "outcome-cpu = a=\"b c\"\n",
	  "t.policy:4: outcome-cpu: 'a=\"b c\"' is not KEY=VALUE (one field, no blanks or quotes)" },
	{ MINIMAL "outcome-fields = id vram\n",
	  "t.policy:4: outcome-fields: 'vram' is not a device field (name description library directory "
	  "total available compute driver id type)" },
	{ MINIMAL "outcome = ((a{99}){99}){99}\n", "t.policy:4: outcome: too complex to compile (nested or stacked +, {N})" },
	{ "name = x\n", "t.policy:0: missing required key 'backend-file'" },
	{ "", "t.policy:0: missing required key 'backend-file'" },
};

/* A regex sees the first POLICY_MATCH_MAX bytes of a line: what lies
 * beyond cannot match, what lies within matches with its offsets. */
START_TEST(test_policy_regexec_bounded)
{
	regex_t rx;
	ck_assert_int_eq(regcomp(&rx, "(b+)x", REG_EXTENDED), 0);
	static char line[POLICY_MATCH_MAX * 2];
	memset(line, 'a', sizeof(line) - 1);
	memcpy(line + 10, "bbx", 3);
	regmatch_t m[2];
	ck_assert_int_eq(policy_regexec(&rx, line, 2, m), 0);
	ck_assert_int_eq(m[1].rm_so, 10);
	ck_assert_int_eq(m[1].rm_eo, 12);
	memcpy(line + 10, "aaa", 3);
	memcpy(line + POLICY_MATCH_MAX + 10, "bbx", 3);	/* past the bound */
	ck_assert_int_eq(policy_regexec(&rx, line, 2, m), REG_NOMATCH);
	memcpy(line + POLICY_MATCH_MAX - 3, "bbx", 3);	/* ending at it */
	ck_assert_int_eq(policy_regexec(&rx, line, 0, NULL), 0);
	regfree(&rx);
	/* the cut is no end of line: '$' does not match there */
	ck_assert_int_eq(regcomp(&rx, "a$", REG_EXTENDED), 0);
	ck_assert_int_eq(policy_regexec(&rx, line, 0, NULL), REG_NOMATCH);
	ck_assert_int_eq(policy_regexec(&rx, "xa", 0, NULL), 0);
	regfree(&rx);
}
END_TEST

START_TEST(test_policy_snippets)
{
	char err[512] = "";
	Policy p;
	int r = parse_str(snippets[_i].text, &p, err, sizeof(err));
	if (*snippets[_i].err) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_str_eq(err, snippets[_i].err);
	} else {
		ck_assert_msg(r == 0, "%s", err);
		ck_assert_str_eq(p.name, "x");
	}
	policy_done(&p);
}
END_TEST

START_TEST(test_policy_nul_byte_and_file_errors)
{
	static const char text[] = "name = x\nscan\0ner = any\n";
	char err[4096] = "";
	Policy p;
	ck_assert_int_eq(policy_parse("t.policy", text, sizeof(text) - 1, &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "t.policy:2: contains a NUL byte");

	ck_assert_int_eq(policy_load_file("/nonexistent-vgpu/x.policy", &p, err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "/nonexistent-vgpu/x.policy: No such file or directory");

	char path[] = "/tmp/vgpu-policy-big-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, POLICY_FILE_MAX + 1), 0);
	close(fd);
	char want[256];
	snprintf(want, sizeof(want), "%s: larger than 262144 bytes", path);
	ck_assert_int_eq(policy_load_file(path, &p, err, sizeof(err)), -EFBIG);
	ck_assert_str_eq(err, want);
	unlink(path);
	ck_assert_int_eq(policy_parse("t.policy", "", POLICY_FILE_MAX + 1, &p, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "t.policy:0: larger than 262144 bytes");
}
END_TEST

static void touch(const char *root, const char *rel)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static void mkdirs(const char *root, const char *rel)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", root, rel);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_policy_find_by_name_and_path)
{
	char dir[] = "/tmp/vgpu-policy-XXXXXX", exe[512], out[512], want[512], err[1024] = "";
	char datadir[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	mkdirs(dir, "bin");
	mkdirs(dir, "policies");
	mkdirs(dir, "share/vgpu-run/policies");
	mkdirs(dir, "data/policies");
	touch(dir, "policies/both.policy");
	touch(dir, "share/vgpu-run/policies/both.policy");
	touch(dir, "share/vgpu-run/policies/installed.policy");
	touch(dir, "data/policies/datadir.policy");
	snprintf(exe, sizeof(exe), "%s/bin/vgpu-run", dir);
	snprintf(datadir, sizeof(datadir), "%s/data", dir);

	/* ../policies (build tree) first, then ../share/vgpu-run/policies */
	ck_assert_int_eq(policy_find("both", exe, datadir, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/policies/both.policy", dir);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(policy_find("installed", exe, datadir, out, sizeof(out), err, sizeof(err)),
			 0);
	snprintf(want, sizeof(want), "%s/share/vgpu-run/policies/installed.policy", dir);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(policy_find("datadir", exe, datadir, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/data/policies/datadir.policy", dir);
	ck_assert_str_eq(out, want);

	/* a value with '/' is a file, whatever its name */
	snprintf(want, sizeof(want), "%s/data/policies/datadir.policy", dir);
	ck_assert_int_eq(policy_find(want, NULL, NULL, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(policy_find("./nope.policy", exe, datadir, out, sizeof(out), err,
				     sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "policy file './nope.policy': No such file or directory");

	/* not found: every directory tried, in order */
	ck_assert_int_eq(policy_find("absent", exe, datadir, out, sizeof(out), err, sizeof(err)),
			 -ENOENT);
	snprintf(want, sizeof(want),
		 "no policy 'absent' in %s/policies, %s/share/vgpu-run/policies, %s/data/policies",
		 dir, dir, dir);
	ck_assert_str_eq(err, want);
	/* DATADIR equal to the installed directory is named once */
	snprintf(datadir, sizeof(datadir), "%s/share/vgpu-run", dir);
	ck_assert_int_eq(policy_find("absent", exe, datadir, out, sizeof(out), err, sizeof(err)),
			 -ENOENT);
	snprintf(want, sizeof(want), "no policy 'absent' in %s/policies, %s/share/vgpu-run/policies",
		 dir, dir);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(policy_find("ollama.policy", exe, datadir, out, sizeof(out), err,
				     sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "'ollama.policy' is not a policy name ([a-z0-9_-]+; a file name "
			      "needs a '/', as in ./ollama.policy)");

	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The shipped policies are found from the source tree's bin-like layout:
 * SOURCE_ROOT/policies is ../policies of SOURCE_ROOT/src/vgpu-run. */
START_TEST(test_policy_find_shipped)
{
	char exe[4096], out[4096], want[4096], err[1024] = "";
	snprintf(exe, sizeof(exe), "%s/src/vgpu-run", source_root());
	if (exe[0] != '/') {
		char cwd[2048];
		ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
		snprintf(exe, sizeof(exe), "%s/%s/src/vgpu-run", cwd, source_root());
	}
	ck_assert_int_eq(policy_find("ggml", exe, NULL, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%.*s/policies/ggml.policy",
		 (int)(strlen(exe) - strlen("/src/vgpu-run")), exe);
	ck_assert_str_eq(out, want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, test_policy_ollama_shipped_values);
	tcase_add_test(tc, test_policy_ggml_shipped_values);
	tcase_add_loop_test(tc, test_policy_fixture_fails_with_exact_line, 0,
			    sizeof(fixtures) / sizeof(fixtures[0]));
	tcase_add_test(tc, test_policy_defaults_when_absent);
	tcase_add_test(tc, test_policy_shim);
	tcase_add_loop_test(tc, test_policy_probe_timeout_durations, 0,
			    sizeof(durations) / sizeof(durations[0]));
	tcase_add_test(tc, test_policy_line_length_bound);
	tcase_add_test(tc, test_policy_list_bound);
	tcase_add_test(tc, test_policy_regexec_bounded);
	tcase_add_loop_test(tc, test_policy_snippets, 0, sizeof(snippets) / sizeof(snippets[0]));
	tcase_add_test(tc, test_policy_nul_byte_and_file_errors);
	tcase_add_test(tc, test_policy_find_by_name_and_path);
	tcase_add_test(tc, test_policy_find_shipped);
	suite_add_tcase(s, tc);
	return check_run(s);
}
