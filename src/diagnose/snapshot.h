/* The diagnosis's state as the body of a trace's "state" event, and back
 * (snapshot.c): what lets each piece of a rotated trace stand alone. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#include "diagnose/fold.h"
#include "diagnose/model.h"

/* Add the state of M and F to EV (a JSON object); 0 or -ENOMEM. */
int diag_snapshot(const Model *m, const Fold *f, json_object *ev);

/* Load the state event EV into a model that has read only its piece's
 * header, and an empty fold.  -EINVAL with ERR naming the first bad
 * field, or -ENOMEM. */
int diag_restore(Model *m, Fold *f, json_object *ev, char *err, size_t err_size);
