/* Scope-bound cleanup helpers (after systemd's cleanup-fundamental.h).
 *
 * A variable declared with _cleanup_free_ or _cleanup_close_ is released
 * when it goes out of scope; TAKE_PTR / TAKE_FD hand ownership on. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

#define TAKE_PTR(p) ({ __typeof__(p) _tp = (p); (p) = NULL; _tp; })
#define TAKE_FD(fd) ({ int _tf = (fd); (fd) = -1; _tf; })

/* -errno from a libc call that returned -1 and set errno. */
static inline int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
