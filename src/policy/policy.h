/* Policies: data files that say what a scanner is and what it watches
 * (policies/NAME.policy, vgpu-run.policy(5)).  The engine never sees them;
 * the program turns them into tracer settings and the diagnosis reads them.
 *
 * Format: one "key = value" per line, '#' starts a comment, blank lines
 * are ignored; list keys may repeat and take space-separated values
 * (init-failed takes one whole regex per line).
 * Unknown keys are errors (a typo must not silently change a verdict). */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define POLICY_LIST_MAX 64
#define POLICY_FILE_MAX (256 * 1024)

/* A directory excluded by an environment setting (see vgpu-run.policy(5)). */
typedef enum PolicyFilterKind {
	/* "filter-select = VAR": VAR set (spaces and quotes trimmed) and not
	 * equal to the directory's basename excludes the directory. */
	POLICY_FILTER_SELECT,
	/* "filter-enable = VAR GLOB": a directory whose basename matches GLOB
	 * is excluded unless VAR is true (Go strconv.ParseBool: empty, 0,
	 * false, f, F, FALSE, False are false; 1, t, T, true, ... are true;
	 * anything else counts as true, as Ollama's envconfig does). */
	POLICY_FILTER_ENABLE,
	/* "filter-platform = ARCH GLOB": the scanner's platform (Policy's
	 * platform) keeps only the directory it names, on ARCH hosts; with
	 * no platform detected, GLOB directories are excluded everywhere. */
	POLICY_FILTER_PLATFORM,
} PolicyFilterKind;

typedef struct PolicyFilter {
	PolicyFilterKind kind;
	char *var;		/* NULL for FILTER_PLATFORM */
	char *glob;		/* FILTER_ENABLE and FILTER_PLATFORM */
} PolicyFilter;

#define POLICY_PLATFORM_MAP_MAX 16

/* How a scanner detects its platform, which selects one directory (see
 * vgpu-run.policy(5), FILTERS): Ollama's JetPack. */
typedef struct PolicyPlatform {
	char *arch;		/* filter-platform's ARCH (uname -m); NULL: none */
	/* platform-env = VAR TEMPLATE: VAR set and not empty selects
	 * TEMPLATE with its "%s" replaced by VAR's value up to the first '.' */
	char *env_var, *env_dir;
	/* platform-file = FILE REGEX VALUE=DIR...: otherwise the first match
	 * of REGEX in FILE (as the scanner reads it), whose group 1 is VALUE,
	 * selects DIR; no match, or another value, selects none */
	char *file, *file_regex;
	char *file_map[POLICY_PLATFORM_MAP_MAX];	/* "VALUE=DIR" */
	size_t n_file_map;
} PolicyPlatform;

typedef struct Policy {
	char *name;			/* "ollama" */
	char *path;			/* the file it was read from */
	char *text;			/* the whole file, for the trace header */
	char *description;
	/* versions = MIN MAX: the scanner versions the policy was written
	 * for, "major.minor" each; NULL when unversioned. */
	char *version_min, *version_max;
	/* version-regex = ERE whose group 1 is the scanner's version, matched
	 * against the server's captured output. */
	char *version_regex;
	/* library-root = exe:REL (relative to the directory of the traced
	 * command's resolved executable) or an absolute path; NULL: none
	 * (directory names are then absolute paths). */
	char *library_root;
	char *expected[POLICY_LIST_MAX];	/* expected = cuda_v12 cuda_v13 ... */
	size_t n_expected;
	/* candidate = GLOB: a subdirectory of the root (depth 1) is a
	 * candidate when it holds an entry matching GLOB ("*ggml-*"). */
	char *candidate_glob;
	/* backend-file = GLOB: names the loader accepts ("libggml-*.so"). */
	char *backend_glob;
	/* not-backend = GLOB...: files the backend-file glob matches that are
	 * no backend ("libggml-base*": the library every backend needs). */
	char *not_backend[POLICY_LIST_MAX];
	size_t n_not_backend;
	/* cpu-backend = GLOB: backend files that are CPU backends
	 * ("libggml-cpu*.so"); a directory is judged by its accelerator. */
	char *cpu_glob;
	/* scanner = server-exe ARGV1 | any: what a scanner process is.
	 * server-exe: runs the traced command's executable with argv[1]
	 * equal to scanner_argv1; any: every process that opens a backend. */
	bool scanner_any;
	char *scanner_argv1;
	/* server = NAME [ARGV1]: the first exec of an executable whose file
	 * name (resolved, or argv[0]'s) is NAME, with argv[1] ARGV1, is the
	 * server (the library root is its); NULL: the traced command. */
	char *server_name, *server_argv1;
	/* scanner-dirs-env = VAR: colon-separated directories a scanner is
	 * pointed at. */
	char *scanner_dirs_env;
	PolicyFilter filters[POLICY_LIST_MAX];
	size_t n_filters;
	PolicyPlatform platform;
	char *record_env[POLICY_LIST_MAX];	/* names or PREFIX* */
	size_t n_record_env;
	int capture_fds[8];			/* capture-fd = 2 1 */
	size_t n_capture_fds;
	uint64_t probe_timeout_ns;		/* probe-timeout = 30s */
	/* init-failed = REGEX (repeatable): scanner output that means a
	 * loaded backend found no device ("failed to initialize CUDA: "). */
	char *init_failed[POLICY_LIST_MAX];
	size_t n_init_failed;
	/* loaded = REGEX: scanner output naming a loaded backend library in
	 * group 1 ("load_backend: loaded .* backend from (.*)"). */
	char *loaded_regex;
	/* kept = REGEX: server output naming, in group 1, the directories
	 * (basenames, comma-separated) it kept after its own filtering
	 * ("inference compute ... libdirs=ollama,cuda_v13"): a directory that
	 * loaded but is not among them was dropped. */
	char *kept_regex;
	/* discovered = REGEX: server output that says discovery is over
	 * (--discover-only stops the command there). */
	char *discovered_regex;
	/* outcome = REGEX: a server output line that states one device it
	 * will use, its facts as key=value fields (Ollama's "inference
	 * compute"); outcome-cpu = KEY=VALUE: such a line with that field
	 * says there is none ("library=cpu"). */
	char *outcome_regex;
	char *outcome_cpu;
	/* outcome-fields = name description ...: the outcome line is no
	 * key=value line; the regex's groups 1, 2, ... are these fields
	 * (ggml's "Device 0: NVIDIA H200, compute capability 9.0"). */
	char *outcome_fields[POLICY_LIST_MAX];
	size_t n_outcome_fields;
	/* inject-sonames = libcuda.so.1 ...: what a shim stands for. */
	char *inject_sonames[POLICY_LIST_MAX];
	size_t n_inject_sonames;
	/* ships = DIR SONAME...: the libraries a complete install of the
	 * server has in its directory DIR (repeatable), "DIR SONAME..." each:
	 * one missing there means the install is incomplete. */
	char *ships[POLICY_LIST_MAX];
	size_t n_ships;
	/* installs = PATH...: where library roots of other installs of the
	 * same server are commonly found; one that exists beside the scanned
	 * root is reported (a stale second install is a classic trap). */
	char *installs[POLICY_LIST_MAX];
	size_t n_installs;
	char *inject_method;			/* redirect | preload */
	char *shim;				/* [SONAME=]/abs/path, or NULL */
} Policy;

/* Parse TEXT (LEN bytes) read from PATH.  Returns 0, or -EINVAL with
 * "PATH:LINE: what is wrong" in ERR (line 0: the file as a whole);
 * -ENOMEM.  *RET is zeroed on failure: policy_done() is always safe. */
int policy_parse(const char *path, const char *text, size_t len, Policy *ret, char *err,
		 size_t err_size);

/* Is S a policy name ([a-z0-9_-]+: it becomes a file name)? */
bool policy_name_valid(const char *s);

/* Read and parse the file PATH.  Also -errno (with ERR set) when it
 * cannot be read, -EFBIG beyond POLICY_FILE_MAX. */
int policy_load_file(const char *path, Policy *ret, char *err, size_t err_size);

/* Resolve NAME_OR_FILE as vgpu-run's -p does: a value with '/' is a file;
 * otherwise NAME.policy in the built-in policy directories, first next to
 * SELF_EXE (../policies from the build tree, ../share/vgpu-run/policies
 * when installed), then DATADIR/policies.  Writes the path to OUT. */
int policy_find(const char *name_or_file, const char *self_exe, const char *datadir, char *out,
		size_t size, char *err, size_t err_size);

/* The "server-exe ARGV1" rule: did a process other than the server exec
 * the server's executable SERVER_EXE with the policy's argv[1]?  False for
 * "scanner = any", which singles out no process, and for a NULL P. */
bool policy_scanner_exec(const Policy *p, const char *server_exe, bool is_server, const char *exe,
			 char *const *argv, size_t argc);

/* Which process is the server, followed exec by exec: the first exec the
 * policy's "server" rule names (found once, then fixed); without a rule
 * (or without a policy, P NULL), the traced command's own process, whose
 * latest exec is the server's.  Zero-initialise; feed every exec in
 * order.  Returns true when this exec is (now) the server's. */
typedef struct PolicyServer {
	pid_t command;		/* the first exec's process */
	pid_t server;		/* 0 until found */
} PolicyServer;
bool policy_server_exec(const Policy *p, PolicyServer *s, pid_t pid, const char *exe, char *const *argv,
			size_t argc);

void policy_done(Policy *p);

/* Bounded matching.  A regex is refused when compiling it would build an
 * outsized automaton (nested or stacked repetition), or when it holds a
 * back-reference, whose matching cost has no bound; policies and whatever
 * else takes a regex from a user (vgpu-report check --expect-device) use
 * these.  policy_regex_refused() returns why, or NULL. */
const char *policy_regex_refused(const char *re);
bool policy_regex_too_costly(const char *re);

/* A regex sees at most the first POLICY_MATCH_MAX bytes of a line: the
 * lines policies look for are short, and a longer one could cost time
 * that grows with its square (glibc tries every start). */
#define POLICY_MATCH_MAX 4096

/* regexec() of RX on TEXT's first POLICY_MATCH_MAX bytes (M: NMATCH
 * entries, offsets into TEXT; may be NULL when NMATCH is 0). */
int policy_regexec(const regex_t *rx, const char *text, size_t nmatch, regmatch_t *m);

/* Does the policy call the file named NAME a backend library (its
 * backend-file glob, and none of its not-backend ones)? */
bool policy_is_backend(const Policy *p, const char *name);

/* Does the policy say a complete install has SONAME in directory DIR (a
 * basename)? */
bool policy_ships(const Policy *p, const char *dir, const char *soname);
