/* Bounded reads of tracee memory.
 *
 * A tracee pointer is data, not a promise: every read is bounded, split at
 * page boundaries (process_vm_readv(2) fails a whole iovec on the first bad
 * page) and reports -EFAULT instead of trusting the tracee. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read exactly LEN bytes at ADDR.  0, or -EFAULT / -ESRCH / -EPERM. */
int mem_read(pid_t tid, uint64_t addr, void *buf, size_t len);

/* Read as many of LEN bytes as are readable from ADDR onwards.  Returns
 * the count (possibly short), or -EFAULT when not even the first byte is. */
ssize_t mem_read_partial(pid_t tid, uint64_t addr, void *buf, size_t len);

/* Read a NUL-terminated string of at most SIZE-1 bytes (plus its NUL)
 * into BUF.  Returns
 * its length, -EFAULT (bad pointer, or the string runs into an unmapped
 * page), or -ENAMETOOLONG (no NUL within SIZE bytes; BUF then holds the
 * truncated prefix, NUL-terminated). */
ssize_t mem_read_string(pid_t tid, uint64_t addr, char *buf, size_t size);

/* Write LEN bytes at ADDR (split at page boundaries), then read them back:
 * 0, or -EFAULT when a page is not writable or the bytes did not stick.
 * process_vm_writev(2) honours page protections, unlike PTRACE_POKEDATA:
 * a write can never land in read-only code or data. */
int mem_write(pid_t tid, uint64_t addr, const void *buf, size_t len);
