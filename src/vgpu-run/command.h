/* Finding COMMAND the way execvp(3) would, but before anything is traced,
 * so "not found" is a clean exit 127 and the trace shows one execve. */
#pragma once

#include <stddef.h>

/* Resolve NAME against PATH (a NAME with '/' is taken as is).  Returns 0
 * with the path in OUT, -ENOENT when found nowhere, another negative errno
 * (-EACCES, -ENOTDIR, -ELOOP, -ENAMETOOLONG) when it cannot be run. */
int command_resolve(const char *name, const char *path_env, char *out, size_t size);

/* The interpreter a script's first line names ("#!/bin/bash -e" gives
 * "/bin/bash") into OUT: 1; 0 when PATH has no #! line; -errno. */
int command_interpreter(const char *path, char *out, size_t size);
