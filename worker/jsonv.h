/*
 * jsonv.h — a small table-driven validator for JSON request bodies and query
 * strings.
 *
 * A spec is an array of struct jsonv_field ending with an entry whose name is
 * NULL. jsonv_check() accepts an object only when every required field is
 * present, every present field has the declared type and bounds, and no
 * field outside the spec appears. The first problem found is described in one
 * sentence that names the field by its path ("items[2].quantity"), so the
 * client can fix its request without reading the server's code.
 *
 * Strings: jansson guarantees valid UTF-8; jsonv adds that a string never
 * holds a NUL (C code downstream would silently cut it), that its length in
 * characters (code points) lies within [min, max], and that it holds no
 * control character unless JSONV_MULTILINE allows tab, CR and LF.
 * Integers: JSON integers only (2.0 and "2" are refused), within [min, max].
 * What this module does not do: any I/O, or defaults (the caller applies
 * them to absent optional fields).
 */
#ifndef TENANT_WORKER_JSONV_H
#define TENANT_WORKER_JSONV_H

#include "worker.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jsonv_type {
    JSONV_STRING = 1,
    JSONV_INT,
    JSONV_BOOL,
    JSONV_ARRAY,  /* of objects described by `items`, count within [min, max] */
    JSONV_OBJECT, /* described by `items` */
};

/* Flags of a field. */
#define JSONV_REQUIRED 0x1u
#define JSONV_MULTILINE 0x2u /* a string may hold \t, \r and \n */

struct jsonv_field {
    const char *name;
    enum jsonv_type type;
    unsigned flags;
    int64_t min, max;                /* length, value or count, by type */
    const char *const *oneof;        /* strings: NULL-terminated allowed values, or NULL */
    const struct jsonv_field *items; /* arrays and objects: the element's spec */
};

/*
 * Check obj (may be NULL: then it is "missing") against spec. Returns 0, or
 * -EINVAL with a sentence in err. The body itself must be a JSON object.
 */
int jsonv_check(const json_t *obj, const struct jsonv_field *spec, char *err, size_t errlen);

/*
 * jsonv_check() for a model operation: returns true when body is invalid and
 * sets *out to a 400 {"error":"invalid_request","detail":...}.
 */
bool jsonv_reject(const json_t *body, const struct jsonv_field *spec, struct wres *out);

/*
 * Parse a URL query string ("limit=20&offset=0"; NULL or "" is empty) into a
 * new JSON object using spec for the types: JSONV_INT values must be decimal
 * integers, JSONV_BOOL values "true"/"false"/"1"/"0", strings are
 * percent-decoded ('+' is a space). Then checks the object like jsonv_check.
 * A repeated key is an error. On success *out is a new reference.
 */
int jsonv_query(const char *qs, const struct jsonv_field *spec, json_t **out, char *err,
                size_t errlen);

/* jsonv_query() for a model operation, like jsonv_reject(). */
bool jsonv_query_reject(const char *qs, const struct jsonv_field *spec, json_t **out,
                        struct wres *res);

/* Number of UTF-8 code points in s (len bytes); invalid bytes count as one. */
size_t jsonv_utf8_len(const char *s, size_t len);

#endif
