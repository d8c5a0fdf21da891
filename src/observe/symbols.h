/* Why a backend library that was opened is no longer mapped: the symbol
 * and version check the dynamic linker made, done again from the files.
 *
 * Each process's successful library opens are remembered while it lives.
 * When it ends (its mappings event), every backend library it opened but
 * no longer maps is checked once per run: its dependency closure as this
 * process found it (each NEEDED name resolved to the file of that name the
 * process opened), the undefined non-weak symbols of the closure that no
 * library the process opened defines, and the versions (DT_VERNEED) the
 * closure needs that the library providing them does not define.  The
 * result is an observe/symbols event, so an offline report says the same.
 * The names of the closure that the loader never got to (it stops at the
 * first it cannot find) are searched for as it would (RPATH,
 * LD_LIBRARY_PATH as recorded at the exec, RUNPATH, ld.so.cache, the
 * default directories): those found nowhere are missing too.
 * Only what is established is said: a backend whose closure cannot be read
 * whole gets no event. */
#pragma once

#include <stdint.h>

#include "base/json.h"
#include "base/worker.h"
#include "observe/ldcache.h"
#include "policy/policy.h"
#include "tracer/tracer.h"

#define SYMBOLS_LIST_MAX 16	/* symbols and versions named per event */

typedef struct SymbolWatch SymbolWatch;

/* POLICY says which files are backends (NULL: none are); LDCACHE (may be
 * NULL) is the dynamic linker's cache, for the search of names the
 * loader never got to. */
int symbol_watch_new(const Policy *policy, const LdCache *ldcache, Worker *worker, SymbolWatch **ret);
SymbolWatch *symbol_watch_free(SymbolWatch *sw);

/* Feed EV (every event).  For each backend check due, write an
 * observe/symbols event numbered ++*SEQ into W and call EMIT(DATA).
 * Returns the number of events written, or -ENOMEM. */
int symbol_watch_on_event(SymbolWatch *sw, const TracerEvent *ev, uint64_t *seq, JsonWriter *w,
			  void (*emit)(void *data), void *data);
