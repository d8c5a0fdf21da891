/* The JSON Lines trace (schema vgpu-run/trace/1): one object per event,
 * numbered by seq from 1 (the header), times in ns since launch. */
#pragma once

#include <stdint.h>

#include "base/json.h"
#include "base/latency.h"
#include "inject/inject.h"
#include "observe/elf-facts.h"
#include "observe/ldcache.h"
#include "tracer/tracer.h"

#define TRACE_SCHEMA "vgpu-run/trace/1"

typedef struct TraceHeader {
	char *const *command;		/* NULL-terminated */
	const int *capture_fds;
	size_t n_capture_fds;
	const char *const *env_keep;	/* NULL-terminated, may be NULL */
	/* The policy, whole: offline analysis uses exactly what live did. */
	const char *policy_name, *policy_path, *policy_text;
	const ShimSet *shims;		/* what was to be injected, or NULL */
	const char *run_id;		/* one run's traces and pieces share it */
	const char *started_at;		/* RFC 3339 UTC, when vgpu-run started */
	/* A rotated trace's piece (0: not rotated): its header has the seq
	 * and time of its place in the run, and says where the piece starts. */
	unsigned piece;
	uint64_t seq, t_ns;
} TraceHeader;

/* Encode one event (without the trailing newline) into W, replacing what
 * W held.  Returns 0, or -ENOMEM. */
int trace_json_event(JsonWriter *w, uint64_t seq, const TracerEvent *ev);
int trace_json_header(JsonWriter *w, const TraceHeader *h);
/* An observe/elf event: the facts of the library PATH that EV opened, or
 * why there are none (ERROR: -ENOEXEC not ELF, -EINVAL malformed); with
 * CACHE, what ld.so.cache gives for each NEEDED soname ("ldcache"). */
int trace_json_elf(JsonWriter *w, uint64_t seq, const TracerEvent *ev, const ElfFacts *f,
		   int error, const LdCache *cache);
/* A stack event: the backtrace taken at event FOR_SEQ (EV), WHY it was
 * taken, its frames, innermost first. */
int trace_json_stack(JsonWriter *w, uint64_t seq, const TracerEvent *ev, uint64_t for_seq,
		     const char *why, const TracerFrame *frames, size_t n);
/* An inject event: what vgpu-run did (or refused) to put a shim into a
 * scanner. */
int trace_json_inject(JsonWriter *w, uint64_t seq, uint64_t t_ns, const InjectAction *a);
/* The closing record: the run's costs as stop counts. */
/* The last line: the tracer's stop counts, and the event loop's time per
 * report rewrite (REWRITES may be NULL). */
int trace_json_stats(JsonWriter *w, uint64_t seq, uint64_t t_ns, const TracerStats *st,
		     const Latency *rewrites);
/* The last line of a trace file cut by --trace-max: BYTES were written
 * (LIMIT the cap); events from SEQ on are not in the file. */
int trace_json_truncated(JsonWriter *w, uint64_t seq, uint64_t t_ns, uint64_t bytes, uint64_t limit);
