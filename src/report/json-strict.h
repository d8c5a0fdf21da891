/* JSON as the contract reads it, on top of json-c.
 *
 * json-c in its strict mode still takes what the contract's JSON (RFC 8259)
 * does not: NaN and Infinity, numbers too large for a double (they become
 * infinite), and duplicate keys (the last one silently wins, so two readers
 * of the same file could see different values).  Every reader of a trace
 * line or a report refuses them, naming where. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

/* Check TEXT[0..LEN), which json-c parsed into ROOT, for what json-c let
 * through.  0, or -EBADMSG with *AT the byte offset of the problem (or of
 * the object that holds it) and *WHAT a description ("duplicate key",
 * "non-finite number"). */
int json_strict_check(const char *text, size_t len, json_object *root, size_t *at, const char **what);

/* Parse one whole JSON value from TEXT[0..LEN) (a trace line: whitespace
 * may follow it, nothing else).  TOK is reused from line to line; created
 * on the first call, the caller frees it.  0 and *RET, or a negative errno
 * (-EBADMSG: malformed, -ENOMEM) with *AT and *WHAT as above. */
int json_strict_parse(json_tokener **tok, const char *text, size_t len, json_object **ret, size_t *at,
		      const char **what);
