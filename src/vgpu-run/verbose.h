/* -v: one human-readable line per event on stderr, strace-like. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "tracer/tracer.h"

void verbose_print(FILE *f, uint64_t seq, const TracerEvent *ev);
