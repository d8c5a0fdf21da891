/* Opening and reading a file that something else named (a tracee, a
 * user, a policy) without being at its mercy. */
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

/* Open PATH for reading if it is a regular file: its fd (and its stat in
 * *RET_ST, if not NULL), -EINVAL when it is something else (a FIFO, a
 * socket, a device, a directory), or -errno.  Nothing else is ever
 * opened for reading: the path is resolved once with O_PATH, which runs
 * no driver's open (a GPU's /dev/nvidia0 has side effects) and never
 * waits (a FIFO without a writer), the type is checked on that fd, and
 * the very same file is then opened through /proc/self/fd, so a path
 * swapped in between (a symlink flipped by a tracee) changes nothing.
 * The fd is O_NONBLOCK: a file under a lease gives EAGAIN, not a wait. */
int open_regular(const char *path, struct stat *ret_st);

/* Read FD until SIZE bytes or the end, through EINTR: the bytes read, or
 * -errno (what was read before the error is in BUF but not counted).  A
 * caller bounds what it takes by SIZE; one byte more than it allows tells
 * "too large" from "exactly full". */
ssize_t read_full(int fd, void *buf, size_t size);
