/* The report for a person at a terminal (vgpu-report show, and vgpu-run's
 * report on stderr): what happened to every backend directory, why, and
 * what the processes did.  Deterministic: no timestamps, no addresses. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "report/report.h"

/* Write R to F; with COLOR, verdict words in ANSI colour (loaded green,
 * failed red, skipped yellow).  Control characters in strings that came
 * from the traced programs are escaped, so a report cannot drive the
 * terminal.  Returns 0, or -EIO when F reports a write error. */
int report_text_write(const Report *r, FILE *f, bool color);
