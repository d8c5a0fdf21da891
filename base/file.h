/* Opening a file that something else named (a tracee, a user, a policy)
 * without being at its mercy. */
#pragma once

/* Open PATH for reading if it is a regular file: its fd, -EINVAL when it
 * is something else (a FIFO, a socket, a device, a directory), or -errno.
 * Its type is checked before the open, so a device is never opened (a
 * GPU's /dev/nvidia0 has side effects), and again on the open fd.  The
 * fd is O_NONBLOCK: a FIFO put there in between opens at once and is
 * refused, and a file under a lease or a mandatory lock gives EAGAIN
 * instead of a wait. */
int open_regular(const char *path);
