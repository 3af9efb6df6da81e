/* Errors, logging, batches in and out, and validators' reports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *ferry__alloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) abort();
    return p;
}

char *ferry__strndup(const void *ptr, size_t len) {
    char *s = ferry__alloc(len + 1);
    if (len) memcpy(s, ptr, len);
    s[len] = 0;
    return s;
}

char *ferry__join(const void *first, size_t n, size_t stride) {
    const char *at = first;
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(*(const char *const *)(at + i * stride)) + 2;
    char *out = ferry__alloc(len), *end = out;
    *end = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = *(const char *const *)(at + i * stride);
        if (i) end = stpcpy(end, ", ");
        end = stpcpy(end, name);
    }
    return out;
}

void ferry__reserve(void **items, size_t *cap, size_t len, size_t size) {
    if (len < *cap) return;
    size_t grown = *cap ? *cap * 2 : 8;
    void *p = realloc(*items, grown * size);
    if (!p) abort();
    *items = p;
    *cap = grown;
}

static char *vformat(const char *fmt, va_list args) {
    va_list again;
    va_copy(again, args);
    int n = vsnprintf(NULL, 0, fmt, args);
    if (n < 0) {
        va_end(again);
        return ferry__strndup(fmt, strlen(fmt));
    }
    char *s = ferry__alloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}

void ferry__error_free(ferry_error *err) {
    free(err->column);
    free(err->message);
    *err = (ferry_error){.row = -1};
}

static bool set_error(ferry_error *err, ferry_error_kind kind, const char *column, int64_t row,
                      const char *fmt, va_list args) {
    if (!err) return false;
    ferry__error_free(err);
    err->kind = kind;
    err->column = column ? ferry__strndup(column, strlen(column)) : NULL;
    err->row = row;
    err->message = vformat(fmt, args);
    return false;
}

bool ferry_config_error(ferry_error *err, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    set_error(err, FERRY_ERROR_CONFIG, NULL, -1, fmt, args);
    va_end(args);
    return false;
}

bool ferry_input_error(ferry_error *err, const char *column, int64_t row, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    set_error(err, FERRY_ERROR_INPUT, column, row, fmt, args);
    va_end(args);
    return false;
}

bool ferry_unsupported_error(ferry_error *err, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    set_error(err, FERRY_ERROR_UNSUPPORTED, NULL, -1, fmt, args);
    va_end(args);
    return false;
}

bool ferry_internal_error(ferry_error *err, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    set_error(err, FERRY_ERROR_INTERNAL, NULL, -1, fmt, args);
    va_end(args);
    return false;
}

void ferry_log(ferry_log_level level, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *message = vformat(fmt, args);
    va_end(args);
    ferry__host_log(level, message, strlen(message));
    free(message);
}

const char *ferry_type_name(ferry_type type) {
    switch (type) {
    case FERRY_FLOAT64: return "float64";
    case FERRY_INT64: return "int64";
    case FERRY_BOOLEAN: return "boolean";
    case FERRY_TEXT: return "text";
    }
    return "unknown";
}

bool ferry_str_eq(ferry_str s, const char *text) {
    size_t n = strlen(text);
    return s.len == n && memcmp(s.ptr, text, n) == 0;
}

const ferry_field *ferry_schema_field(const ferry_schema *schema, const char *name) {
    for (size_t i = 0; i < schema->len; i++)
        if (strcmp(schema->fields[i].name, name) == 0) return &schema->fields[i];
    return NULL;
}

bool ferry_is_null(const ferry_column *column, size_t row) {
    return column->nulls && row < column->len && column->nulls[row];
}

const ferry_column *ferry_column_named(const ferry_batch *batch, const char *name,
                                       ferry_error *err) {
    for (size_t i = 0; i < batch->num_columns; i++)
        if (strcmp(batch->columns[i].name, name) == 0) return &batch->columns[i];
    char *names = batch->num_columns
                      ? ferry__join(&batch->columns[0].name, batch->num_columns, sizeof(ferry_column))
                      : ferry__join(NULL, 0, 0);
    ferry_input_error(err, name, -1, "no such column; the batch has [%s]", names);
    free(names);
    return NULL;
}

static bool wrong_type(const ferry_column *column, const char *wanted, ferry_error *err) {
    return ferry_input_error(err, column->name, -1, "expected a %s column, found %s", wanted,
                             ferry_type_name(column->type));
}

const double *ferry_float64s(const ferry_column *column, ferry_error *err) {
    if (column->type != FERRY_FLOAT64) {
        wrong_type(column, "float64", err);
        return NULL;
    }
    return column->values.f64;
}

/* Memory handed out for a batch (numbers converted by ferry_numbers, schemas), freed when the
 * call that received the batch returns. */
static void **scratch;
static size_t scratch_len, scratch_cap;

static void *keep(void *p) {
    ferry__reserve((void **)&scratch, &scratch_cap, scratch_len, sizeof(void *));
    scratch[scratch_len++] = p;
    return p;
}

ferry_schema ferry_batch_schema(const ferry_batch *batch) {
    ferry_field *fields = keep(ferry__alloc(batch->num_columns * sizeof(ferry_field)));
    for (size_t i = 0; i < batch->num_columns; i++)
        fields[i] = (ferry_field){.name = batch->columns[i].name, .type = batch->columns[i].type,
                                  .nullable = batch->columns[i].nulls != NULL};
    return (ferry_schema){.fields = fields, .len = batch->num_columns};
}

void ferry__batch_scratch_free(void) {
    for (size_t i = 0; i < scratch_len; i++) free(scratch[i]);
    scratch_len = 0;
}

const double *ferry_numbers(const ferry_column *column, ferry_error *err) {
    double *out;
    switch (column->type) {
    case FERRY_FLOAT64: return column->values.f64;
    case FERRY_INT64:
        out = ferry__alloc(column->len * sizeof(double));
        for (size_t i = 0; i < column->len; i++) out[i] = (double)column->values.i64[i];
        break;
    case FERRY_BOOLEAN:
        out = ferry__alloc(column->len * sizeof(double));
        for (size_t i = 0; i < column->len; i++) out[i] = column->values.boolean[i] ? 1.0 : 0.0;
        break;
    default:
        wrong_type(column, "numeric", err);
        return NULL;
    }
    return keep(out);
}

static void *out_column(ferry_batch_out *out, const char *name, ferry_type type, size_t size,
                        const bool *nulls) {
    ferry__reserve((void **)&out->columns, &out->cap, out->len, sizeof(ferry_out_column));
    ferry_out_column *c = &out->columns[out->len++];
    c->name = ferry__strndup(name, strlen(name));
    c->type = type;
    c->values = calloc(out->num_rows ? out->num_rows : 1, size);
    if (!c->values) abort();
    c->nulls = NULL;
    if (nulls) {
        c->nulls = ferry__alloc(out->num_rows * sizeof(bool));
        memcpy(c->nulls, nulls, out->num_rows * sizeof(bool));
    }
    return c->values;
}

double *ferry_out_float64(ferry_batch_out *out, const char *name, const bool *nulls) {
    return out_column(out, name, FERRY_FLOAT64, sizeof(double), nulls);
}

int64_t *ferry_out_int64(ferry_batch_out *out, const char *name, const bool *nulls) {
    return out_column(out, name, FERRY_INT64, sizeof(int64_t), nulls);
}

bool *ferry_out_boolean(ferry_batch_out *out, const char *name, const bool *nulls) {
    return out_column(out, name, FERRY_BOOLEAN, sizeof(bool), nulls);
}

bool ferry_out_text(ferry_batch_out *out, const char *name, const bool *nulls) {
    return out_column(out, name, FERRY_TEXT, sizeof(char *), nulls) != NULL;
}

bool ferry_out_set_text(ferry_batch_out *out, const char *name, size_t row, const char *value) {
    if (row >= out->num_rows) return false;
    for (size_t i = 0; i < out->len; i++) {
        ferry_out_column *c = &out->columns[i];
        if (c->type == FERRY_TEXT && strcmp(c->name, name) == 0) {
            char **values = c->values;
            free(values[row]);
            values[row] = ferry__strndup(value, strlen(value));
            return true;
        }
    }
    return false;
}

size_t ferry_out_rows(const ferry_batch_out *out) { return out->num_rows; }

void ferry__batch_out_free(ferry_batch_out *out) {
    for (size_t i = 0; i < out->len; i++) {
        ferry_out_column *c = &out->columns[i];
        if (c->type == FERRY_TEXT) {
            char **values = c->values;
            for (size_t r = 0; r < out->num_rows; r++) free(values[r]);
        }
        free(c->name);
        free(c->values);
        free(c->nulls);
    }
    free(out->columns);
    *out = (ferry_batch_out){0};
}

bool ferry_schema_add(ferry_schema_out *out, const char *name, ferry_type type, bool nullable) {
    ferry__reserve((void **)&out->fields, &out->cap, out->len, sizeof(ferry_field));
    out->fields[out->len++] =
        (ferry_field){.name = ferry__strndup(name, strlen(name)), .type = type, .nullable = nullable};
    return true;
}

void ferry__schema_out_free(ferry_schema_out *out) {
    for (size_t i = 0; i < out->len; i++) free((char *)out->fields[i].name);
    free(out->fields);
    *out = (ferry_schema_out){0};
}

enum { MAX_LISTED = 1000 };

static bool same(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static char *dup_or_null(const char *s) { return s ? ferry__strndup(s, strlen(s)) : NULL; }

void ferry_report_add(ferry_report *report, const char *rule, const char *column, int64_t row,
                      const char *fmt, ...) {
    size_t i = 0;
    while (i < report->num_counts &&
           !(strcmp(report->counts[i].rule, rule) == 0 && same(report->counts[i].column, column)))
        i++;
    if (i == report->num_counts) {
        ferry__reserve((void **)&report->counts, &report->cap_counts, report->num_counts,
                       sizeof(ferry_count));
        report->counts[report->num_counts++] =
            (ferry_count){.rule = dup_or_null(rule), .column = dup_or_null(column), .count = 0};
    }
    report->counts[i].count++;
    if (report->num_violations >= MAX_LISTED) {
        report->truncated = true;
        return;
    }
    va_list args;
    va_start(args, fmt);
    char *message = vformat(fmt, args);
    va_end(args);
    ferry__reserve((void **)&report->violations, &report->cap_violations, report->num_violations,
                   sizeof(ferry_violation));
    report->violations[report->num_violations++] = (ferry_violation){
        .rule = dup_or_null(rule), .column = dup_or_null(column), .row = row, .message = message};
}

void ferry__report_free(ferry_report *report) {
    for (size_t i = 0; i < report->num_violations; i++) {
        free(report->violations[i].rule);
        free(report->violations[i].column);
        free(report->violations[i].message);
    }
    for (size_t i = 0; i < report->num_counts; i++) {
        free(report->counts[i].rule);
        free(report->counts[i].column);
    }
    free(report->violations);
    free(report->counts);
    *report = (ferry_report){0};
}
