/* -v: one human-readable line per event on stderr, strace-like. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "tracer/tracer.h"

void verbose_print(FILE *f, uint64_t seq, const TracerEvent *ev);
/* The lines of what vgpu-run itself did: an ELF observation, an
 * injection.  Paths and reasons escaped as in every -v line. */
void verbose_observe_elf(FILE *f, uint64_t seq, int pid, const char *path, const char *what);
void verbose_inject(FILE *f, uint64_t seq, int pid, const char *method, const char *library, const char *status,
		    const char *why);
