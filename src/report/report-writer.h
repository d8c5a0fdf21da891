/* Rewriting a report file while the command runs, off the event loop: the
 * loop renders the report into memory (what the diagnosis's state costs)
 * and posts it; one writer thread puts the latest posted text in place
 * (temporary file, rename), so the traced program never waits on the
 * disk.  A text posted while another waits replaces it: only the newest
 * report matters.  The writer puts one in place at most every
 * REPORT_WRITER_INTERVAL_NS: creating and renaming a file costs the
 * filesystem more than rendering costs the loop (ext4 starts writing the
 * data back at each rename over a file), and a server whose scanners end
 * every few milliseconds needs the report current, not rewritten each
 * time.  Stopping the writer writes what is pending at once. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define REPORT_WRITER_INTERVAL_NS (100 * 1000000ULL)	/* 0.1 s */

typedef struct ReportWriter ReportWriter;

/* A writer for PATH (kept, not copied: it must outlive the writer), of
 * files of MODE; WHAT ("report", "metrics", a literal) names them in
 * messages.  -errno when the thread cannot be started. */
int report_writer_new(const char *path, const char *what, mode_t mode, ReportWriter **ret);

/* Hand TEXT (LEN bytes, malloc'd) over; the writer frees it. */
void report_writer_post(ReportWriter *w, char *text, size_t len);

/* Write what is pending, stop the thread, free W.  Returns the last
 * write's result (0 or -errno).  NULL is fine. */
int report_writer_free(ReportWriter *w);
