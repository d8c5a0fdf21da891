/* The JSON report's shape: one table per object of the schema says which
 * member of which struct holds which field, so that the writer
 * (report-json.c) and the reader (report-json-read.c) cannot drift apart.
 * Internal to the two. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum FieldKind {
	FIELD_CONSTANT,		/* written as .value, not read back (schema, tool name) */
	FIELD_STRING,		/* char *; null when NULL unless FIELD_OMIT_NULL */
	FIELD_STRV,		/* char **, NULL-terminated */
	FIELD_PID,		/* pid_t */
	FIELD_UINT,		/* uint64_t */
	FIELD_BOOL,		/* bool */
	FIELD_RESULT,		/* char *, a number or an errno name; omitted when NULL */
	FIELD_EXIT,		/* ReportExit */
	FIELD_OBJECTS,		/* array of .shape at offset, its count at .count */
	FIELD_GROUP,		/* a sub-object whose fields live in the same struct */
	FIELD_ENVIRONMENT,	/* ReportEnvVar array at offset, count at .count: a name -> value object */
} FieldKind;

enum {
	FIELD_REQUIRED = 1 << 0,	/* reading: absent or null is malformed */
	FIELD_OMIT_NULL = 1 << 1,	/* writing: no member at all when NULL, 0 or false */
};

typedef struct Shape Shape;

typedef struct Field {
	const char *key;
	FieldKind kind;
	unsigned flags;
	size_t offset;
	size_t count;		/* FIELD_OBJECTS: offset of the element count */
	const Shape *shape;	/* FIELD_OBJECTS, FIELD_GROUP */
	const char *value;	/* FIELD_CONSTANT */
} Field;

struct Shape {
	const Field *fields;
	size_t n_fields;
	size_t size;		/* of one element, for FIELD_OBJECTS */
};

extern const Shape report_json_shape;

#define AT(base, off, T) ((T *)((char *)(base) + (off)))
