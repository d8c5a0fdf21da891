/* Symbolic names for the numbers in events: open/access/AT flags, signals,
 * errnos.  Tables, not switches; unknown bits are printed in hex. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* "O_RDONLY|O_CLOEXEC", "R_OK|X_OK", "AT_SYMLINK_NOFOLLOW", "0" ... into
 * BUF; returns BUF.  KIND TRACER_FLAGS_NONE gives "". */
const char *names_flags(TracerFlagKind kind, uint64_t flags, char *buf, size_t size);

/* "SIGTERM"; "SIG42" for a number without a name; "0" for 0. */
const char *names_signal(int sig, char *buf, size_t size);

/* "ENOENT"; "E1234" for a number without a name. */
const char *names_errno(int err, char *buf, size_t size);

/* Reverse lookup for tests and offline readers: 0 or -ENOENT. */
int names_signal_from(const char *name, int *ret);

/* Event kind and fork kind as written in the trace. */
const char *names_event(TracerEventKind kind);
const char *names_fork(TracerForkKind kind);
