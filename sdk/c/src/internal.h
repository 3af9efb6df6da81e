/* What the per-kind glue (src/<kind>.c) and the SDK's core share; not for plugins. */
#ifndef FERRY_INTERNAL_H
#define FERRY_INTERNAL_H

#include "../ferry.h"

/** One column being built. */
typedef struct ferry_out_column {
    char *name;
    ferry_type type;
    void *values;
    bool *nulls;
} ferry_out_column;

struct ferry_batch_out {
    size_t num_rows;
    ferry_out_column *columns;
    size_t len, cap;
};

struct ferry_schema_out {
    ferry_field *fields;
    size_t len, cap;
};

typedef struct ferry_violation {
    char *rule;
    char *column;
    int64_t row;
    char *message;
} ferry_violation;

typedef struct ferry_count {
    char *rule;
    char *column;
    uint64_t count;
} ferry_count;

struct ferry_report {
    uint32_t rows_checked;
    ferry_violation *violations;
    size_t num_violations, cap_violations;
    ferry_count *counts;
    size_t num_counts, cap_counts;
    bool truncated;
};

/** The host's log function, in the glue of each world. */
void ferry__host_log(ferry_log_level level, const char *message, size_t len);

/** A NUL-terminated copy of `len` bytes at `ptr`; aborts when memory runs out. */
char *ferry__strndup(const void *ptr, size_t len);
/** `n` strings, each `stride` bytes after the last (the first at `first`, a `const char *`
 * field of an array of structs or an array of strings), joined with ", ". */
char *ferry__join(const void *first, size_t n, size_t stride);

/** malloc that aborts when memory runs out (the host reports the trap). */
void *ferry__alloc(size_t size);
/** Grows `*items` (of `*cap` items of `size` bytes) to hold one more than `len`. */
void ferry__reserve(void **items, size_t *cap, size_t len, size_t size);

/** Frees what a batch's conversion allocated (numbers converted from other types). */
void ferry__batch_scratch_free(void);

void ferry__batch_out_free(ferry_batch_out *out);
void ferry__schema_out_free(ferry_schema_out *out);
void ferry__report_free(ferry_report *report);
void ferry__error_free(ferry_error *err);

#endif
