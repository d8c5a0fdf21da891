/* Wall-clock times as reports and traces state them: RFC 3339, UTC, with
 * milliseconds ("2026-12-01T23:08:28.123Z"). */
#pragma once

#include <stdio.h>
#include <time.h>

#define WALLTIME_MAX 64	/* room for any year gmtime_r gives */

static inline void walltime_format(const struct timespec *ts, char out[WALLTIME_MAX])
{
	struct tm tm;
	if (!gmtime_r(&ts->tv_sec, &tm)) {
		snprintf(out, WALLTIME_MAX, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, WALLTIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)(ts->tv_nsec / 1000000) % 1000);
}

static inline void walltime_now(char out[WALLTIME_MAX])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	walltime_format(&ts, out);
}
