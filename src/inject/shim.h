/* Which shim libraries vgpu-run injects, for which sonames, and whether
 * each is safe to put into another program (vgpu-run(1), INJECTION).
 * Everything here is checked before COMMAND starts: a problem is a
 * one-line message and exit 125. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SHIMS_MAX 4

typedef struct Shim {
	char *soname;		/* what it stands for: "libcuda.so.1" */
	char *path;		/* absolute, as configured */
	char *real_env;		/* "VGPU_REAL_LIBCUDA": where the shim finds the real one */
} Shim;

typedef struct ShimSet {
	Shim shims[SHIMS_MAX];
	size_t n;
	const char *method;	/* "redirect" | "preload" */
	bool disabled;		/* --no-inject */
	const char *source;	/* "--shim", "VGPU_SHIM" or "policy" */
} ShimSet;

/* Add one "PATH" or "SONAME=PATH" (for DEFAULT_SONAME when no SONAME is
 * given).  A relative PATH is made absolute against the working directory
 * when RELATIVE_OK (--shim), and refused otherwise (VGPU_SHIM, policy: a
 * service's working directory is nobody's choice).  A second shim for the
 * same soname is refused.  0, or -EINVAL with ERR set. */
int shim_set_add(ShimSet *s, const char *spec, const char *default_soname, bool relative_ok,
		 char *err, size_t err_size);

/* vgpu-run's own safety rule for PATH: a regular ELF shared object for
 * this host's class and machine; when running as root, the file and every
 * directory above it are owned by root and writable by nobody else (a
 * root-owned sticky directory such as /tmp is fine above it).  0, or a
 * negative errno with a one-line reason in ERR. */
int shim_check(const char *path, char *err, size_t err_size);

/* "libnvidia-ml.so.1" -> "VGPU_REAL_LIBNVIDIA_ML" into BUF. */
void shim_real_env_name(const char *soname, char *buf, size_t size);

void shim_set_done(ShimSet *s);
