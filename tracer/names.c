/* Symbolic names (see names.h). */
#include "names.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"

typedef struct FlagName {
	uint64_t bit;
	const char *name;
} FlagName;

/* O_RDONLY/O_WRONLY/O_RDWR are a two-bit field, handled before the bits.
 * Composite flags come first: O_TMPFILE holds O_DIRECTORY, O_SYNC holds
 * O_DSYNC, and a bit is named once. */
static const FlagName open_bits[] = {
	{ O_TMPFILE, "O_TMPFILE" },   { O_SYNC, "O_SYNC" },
	{ O_CREAT, "O_CREAT" },       { O_EXCL, "O_EXCL" },
	{ O_NOCTTY, "O_NOCTTY" },     { O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },     { O_NONBLOCK, "O_NONBLOCK" },
	{ O_DSYNC, "O_DSYNC" },       { O_ASYNC, "O_ASYNC" },
	{ O_DIRECT, "O_DIRECT" },     { O_LARGEFILE, "O_LARGEFILE" },
	{ O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" },   { O_CLOEXEC, "O_CLOEXEC" },
	{ O_PATH, "O_PATH" },
};

static const FlagName access_bits[] = {
	{ R_OK, "R_OK" }, { W_OK, "W_OK" }, { X_OK, "X_OK" },
};

static const FlagName at_bits[] = {
	{ AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW" },
	{ AT_EACCESS, "AT_EACCESS" },
	{ AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW" },
	{ AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT" },
	{ AT_EMPTY_PATH, "AT_EMPTY_PATH" },
	{ AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC" },
	{ AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC" },
};

static void append(char *buf, size_t size, size_t *len, const char *s)
{
	int n = snprintf(buf + *len, size - *len, "%s%s", *len ? "|" : "", s);
	if (n > 0)
		*len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

static void bits(const FlagName *t, size_t n, uint64_t *flags, char *buf, size_t size, size_t *len)
{
	for (size_t i = 0; i < n; i++) {
		if ((*flags & t[i].bit) == t[i].bit && t[i].bit) {
			append(buf, size, len, t[i].name);
			*flags &= ~t[i].bit;
		}
	}
}

const char *names_flags(TracerFlagKind kind, uint64_t flags, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	switch (kind) {
	case TRACER_FLAGS_NONE:
		return buf;
	case TRACER_FLAGS_OPEN: {
		static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };
		append(buf, size, &len, acc[flags & O_ACCMODE]);
		flags &= ~(uint64_t)O_ACCMODE;
		bits(open_bits, ELEMENTSOF(open_bits), &flags, buf, size, &len);
		break;
	}
	case TRACER_FLAGS_ACCESS:
		if (flags == F_OK) {
			append(buf, size, &len, "F_OK");
			return buf;
		}
		bits(access_bits, ELEMENTSOF(access_bits), &flags, buf, size, &len);
		break;
	case TRACER_FLAGS_AT:
		bits(at_bits, ELEMENTSOF(at_bits), &flags, buf, size, &len);
		break;
	default:
		break;
	}
	if (flags) {
		char hex[24];
		snprintf(hex, sizeof(hex), "%#llx", (unsigned long long)flags);
		append(buf, size, &len, hex);
	}
	if (!len)
		snprintf(buf, size, "0");
	return buf;
}

const char *names_signal(int sig, char *buf, size_t size)
{
	if (sig == 0) {
		snprintf(buf, size, "0");
		return buf;
	}
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, size, "SIG%s", abbrev);
	else
		snprintf(buf, size, "SIG%d", sig);
	return buf;
}

int names_signal_from(const char *name, int *ret)
{
	char buf[32];
	for (int s = 1; s < NSIG; s++) {
		if (strcmp(names_signal(s, buf, sizeof(buf)), name) == 0) {
			*ret = s;
			return 0;
		}
	}
	return -ENOENT;
}

const char *names_errno(int err, char *buf, size_t size)
{
	const char *n = strerrorname_np(err);
	if (n)
		snprintf(buf, size, "%s", n);
	else
		snprintf(buf, size, "E%d", err);
	return buf;
}

const char *names_event(TracerEventKind kind)
{
	static const char *const names[_TRACER_EVENT_MAX] = {
		[TRACER_EVENT_FORK] = "fork",	  [TRACER_EVENT_EXEC] = "exec",
		[TRACER_EVENT_EXIT] = "exit",	  [TRACER_EVENT_SIGNAL] = "signal",
		[TRACER_EVENT_SYSCALL] = "syscall", [TRACER_EVENT_OUTPUT] = "output",
		[TRACER_EVENT_MAPS] = "observe",
	};
	return (unsigned)kind < _TRACER_EVENT_MAX ? names[kind] : "unknown";
}

const char *names_fork(TracerForkKind kind)
{
	static const char *const names[_TRACER_FORK_MAX] = {
		[TRACER_FORK_FORK] = "fork", [TRACER_FORK_VFORK] = "vfork",
		[TRACER_FORK_CLONE] = "clone", [TRACER_FORK_THREAD] = "thread",
	};
	return (unsigned)kind < _TRACER_FORK_MAX ? names[kind] : "unknown";
}
