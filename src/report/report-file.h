/* The file a report goes to, across runs of a supervised server: its
 * symlinks are followed (the rename happens in the target's directory, so
 * -o /dev/stdout or a link in /var/log keeps the link), it is checked at
 * start without truncating anything, and a restart keeps the previous
 * run's report as FILE.1 (more generations on request). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ReportTarget {
	char path[PATH_MAX];	/* the file written: the last symlink's target */
	bool exists;
	bool special;		/* exists and is no regular file (FIFO, device):
				 * written in place, never renamed over or kept */
} ReportTarget;

/* Follow PATH through symlinks (40 at most, as the kernel) to the file
 * they name, which need not exist yet.  -errno (-ELOOP, -ENAMETOOLONG,
 * lstat's) on failure. */
int report_target_resolve(const char *path, ReportTarget *ret);

/* Before the command starts: check that a file can be created beside T
 * (a temporary one, removed at once), then keep an existing T as T.1,
 * T.1 as T.2, ... up to T.KEEP (KEEP 0: T is overwritten at the first
 * write).  -errno with a one-line reason in ERR naming WHAT ("report"). */
int report_target_prepare(const ReportTarget *t, const char *what, unsigned keep, char *err,
			  size_t err_size);

/* Do A and B name the same regular file (the same inode, or when one does
 * not exist yet the same name in the same resolved directory)? */
bool report_same_file(const char *a, const char *b);
