/* The watched syscalls (see syscalls.h).
 *
 * Numbers come from libseccomp's resolver, never from a table of our own:
 * one source of truth per architecture. */
#include "syscalls.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>

#include "base/cleanup.h"

#define NONE (-1)

/* Designated initialisers keep each row readable; absent fields are NONE
 * because every row spells them out through these helpers. */
#define PATHCALL(n, d, p, f, fk, atf)                                          \
	{ .name = n, .rule = STOP_ALWAYS, .decode = DECODE_PATH,               \
	  .dirfd_arg = d, .path_arg = p, .flags_arg = f, .flag_kind = fk,      \
	  .flags2_arg = NONE, .at_flags_arg = atf, .target_arg = NONE,         \
	  .tid_arg = NONE, .signo_arg = NONE }
#define SIGCALL(n, t, tid, s, pidfd)                                           \
	{ .name = n, .rule = STOP_ALWAYS, .decode = DECODE_SIGNAL,             \
	  .dirfd_arg = NONE, .path_arg = NONE, .flags_arg = NONE,              \
	  .flags2_arg = NONE, .at_flags_arg = NONE, .target_arg = t,           \
	  .tid_arg = tid, .signo_arg = s, .target_is_pidfd = pidfd }
#define OUTCALL(n, dec)                                                        \
	{ .name = n, .rule = STOP_OUTPUT_FD, .decode = dec,                    \
	  .dirfd_arg = NONE, .path_arg = NONE, .flags_arg = NONE,              \
	  .flags2_arg = NONE, .at_flags_arg = NONE, .target_arg = NONE,        \
	  .tid_arg = NONE, .signo_arg = NONE }

const SyscallSpec syscall_specs[] = {
	PATHCALL("access", NONE, 0, 1, TRACER_FLAGS_ACCESS, NONE),
	{ .name = "execve", .rule = STOP_ALWAYS, .decode = DECODE_EXEC,
	  .dirfd_arg = NONE, .path_arg = 0, .flags_arg = NONE,
	  .flags2_arg = NONE, .at_flags_arg = NONE, .target_arg = NONE,
	  .tid_arg = NONE, .signo_arg = NONE },
	{ .name = "execveat", .rule = STOP_ALWAYS, .decode = DECODE_EXEC,
	  .dirfd_arg = 0, .path_arg = 1, .flags_arg = 4,
	  .flag_kind = TRACER_FLAGS_AT, .flags2_arg = NONE, .at_flags_arg = 4,
	  .target_arg = NONE, .tid_arg = NONE, .signo_arg = NONE },
	PATHCALL("faccessat", 0, 1, 2, TRACER_FLAGS_ACCESS, NONE),
	{ .name = "faccessat2", .rule = STOP_ALWAYS, .decode = DECODE_PATH,
	  .dirfd_arg = 0, .path_arg = 1, .flags_arg = 2,
	  .flag_kind = TRACER_FLAGS_ACCESS, .flags2_arg = 3,
	  .flag2_kind = TRACER_FLAGS_AT, .at_flags_arg = 3,
	  .target_arg = NONE, .tid_arg = NONE, .signo_arg = NONE },
	SIGCALL("kill", 0, NONE, 1, false),
	PATHCALL("lstat", NONE, 0, NONE, TRACER_FLAGS_NONE, NONE),
	{ .name = "newfstatat", .rule = STOP_UNLESS_EMPTY_PATH,
	  .decode = DECODE_PATH, .dirfd_arg = 0, .path_arg = 1,
	  .flags_arg = 3, .flag_kind = TRACER_FLAGS_AT, .flags2_arg = NONE,
	  .at_flags_arg = 3, .target_arg = NONE, .tid_arg = NONE,
	  .signo_arg = NONE },
	PATHCALL("open", NONE, 0, 1, TRACER_FLAGS_OPEN, NONE),
	PATHCALL("openat", 0, 1, 2, TRACER_FLAGS_OPEN, NONE),
	{ .name = "openat2", .rule = STOP_ALWAYS, .decode = DECODE_PATH,
	  .dirfd_arg = 0, .path_arg = 1, .flags_arg = 2,
	  .flag_kind = TRACER_FLAGS_OPEN, .flags2_arg = NONE,
	  .at_flags_arg = NONE, .open_how = true, .target_arg = NONE,
	  .tid_arg = NONE, .signo_arg = NONE },
	SIGCALL("pidfd_send_signal", 0, NONE, 1, true),
	{ .name = "ptrace", .rule = STOP_PTRACE_ATTACH, .decode = DECODE_PTRACE,
	  .dirfd_arg = NONE, .path_arg = NONE, .flags_arg = NONE,
	  .flags2_arg = NONE, .at_flags_arg = NONE, .target_arg = 1,
	  .tid_arg = NONE, .signo_arg = NONE },
	PATHCALL("readlink", NONE, 0, NONE, TRACER_FLAGS_NONE, NONE),
	PATHCALL("readlinkat", 0, 1, NONE, TRACER_FLAGS_NONE, NONE),
	PATHCALL("stat", NONE, 0, NONE, TRACER_FLAGS_NONE, NONE),
	{ .name = "statx", .rule = STOP_UNLESS_EMPTY_PATH,
	  .decode = DECODE_PATH, .dirfd_arg = 0, .path_arg = 1,
	  .flags_arg = 2, .flag_kind = TRACER_FLAGS_AT, .flags2_arg = NONE,
	  .at_flags_arg = 2, .target_arg = NONE, .tid_arg = NONE,
	  .signo_arg = NONE },
	SIGCALL("tgkill", 0, 1, 2, false),
	SIGCALL("tkill", NONE, 0, 1, false),
	OUTCALL("write", DECODE_WRITE),
	OUTCALL("writev", DECODE_WRITEV),
};

const size_t syscall_specs_count = ELEMENTSOF(syscall_specs);

int syscall_resolve(const char *name)
{
	int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name);
	/* __NR_SCMP_ERROR (-1) is "unknown"; other negatives are syscalls
	 * this architecture does not have (libseccomp pseudo numbers). */
	return nr >= 0 ? nr : -ENOENT;
}

int syscall_table_build(const SyscallSpec *by_nr[SYSCALL_NR_MAX])
{
	memset(by_nr, 0, sizeof(*by_nr) * SYSCALL_NR_MAX);
	for (size_t i = 0; i < syscall_specs_count; i++) {
		int nr = syscall_resolve(syscall_specs[i].name);
		if (nr < 0)
			continue;	/* e.g. no open() on aarch64 */
		if (nr >= SYSCALL_NR_MAX)
			return -ERANGE;
		by_nr[nr] = &syscall_specs[i];
	}
	return 0;
}
