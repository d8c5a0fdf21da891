/* Backtraces of a stopped tracee (libunwind, ptrace flavour).  Costly
 * (hundreds of microseconds each): callers take them at decision events
 * only, and the tracer counts their number and time. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TRACER_FRAMES_MAX 32
#define TRACER_SYMBOL_MAX 128

typedef struct TracerFrame {
	uint64_t ip;
	char symbol[TRACER_SYMBOL_MAX];	/* "" when unknown */
	uint64_t offset;		/* ip - symbol start */
	char file[256];			/* the mapped file holding ip, or "" */
} TracerFrame;
