/* Conversions between the bindings `wit-bindgen c` generates and the SDK's types, included by
 * the glue of each world after its bindings header. The bindings name their string and list
 * types after the world (`transform_plugin_string_t`), so the glue defines W(name) first.
 *
 * Ownership follows wit-bindgen's C conventions: an export owns its arguments and frees them;
 * what it returns is malloc'd and freed by the generated post-return function. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static char *str_in(const W(string_t) * s) { return ferry__strndup(s->ptr, s->len); }

static inline W(string_t) str_out(const char *s) {
    W(string_t) out = {0};
    if (s && *s) W(string_dup)(&out, s);
    return out;
}

static inline W(option_string_t) opt_str_out(const char *s) {
    W(option_string_t) out = {0};
    if (s) {
        out.is_some = true;
        out.val = str_out(s);
    }
    return out;
}

static inline W(list_string_t) strs_out(const char *const *items) {
    W(list_string_t) out = {0};
    size_t n = 0;
    while (items && items[n]) n++;
    if (!n) return out;
    out.ptr = ferry__alloc(n * sizeof(W(string_t)));
    out.len = n;
    for (size_t i = 0; i < n; i++) out.ptr[i] = str_out(items[i]);
    return out;
}

static inline W(option_u32_t) opt_u32_out(uint32_t v) {
    W(option_u32_t) out = {.is_some = v != 0, .val = v};
    return out;
}

static inline ferry_type type_in(ferry_plugin_types_data_type_t t) {
    switch (t) {
    case FERRY_PLUGIN_TYPES_DATA_TYPE_INT64: return FERRY_INT64;
    case FERRY_PLUGIN_TYPES_DATA_TYPE_BOOLEAN: return FERRY_BOOLEAN;
    case FERRY_PLUGIN_TYPES_DATA_TYPE_TEXT: return FERRY_TEXT;
    default: return FERRY_FLOAT64;
    }
}

static inline ferry_plugin_types_data_type_t type_out(ferry_type t) {
    switch (t) {
    case FERRY_INT64: return FERRY_PLUGIN_TYPES_DATA_TYPE_INT64;
    case FERRY_BOOLEAN: return FERRY_PLUGIN_TYPES_DATA_TYPE_BOOLEAN;
    case FERRY_TEXT: return FERRY_PLUGIN_TYPES_DATA_TYPE_TEXT;
    default: return FERRY_PLUGIN_TYPES_DATA_TYPE_FLOAT64;
    }
}

/* A column from the host, read in place: the values are not copied, only the name (to
 * NUL-terminate it). */
static inline ferry_column column_in(const ferry_plugin_types_column_t *c) {
    ferry_column out = {.name = str_in(&c->name)};
    switch (c->data.tag) {
    case FERRY_PLUGIN_TYPES_COLUMN_DATA_FLOAT64:
        out.type = FERRY_FLOAT64;
        out.len = c->data.val.float64.len;
        out.values.f64 = c->data.val.float64.ptr;
        break;
    case FERRY_PLUGIN_TYPES_COLUMN_DATA_INT64:
        out.type = FERRY_INT64;
        out.len = c->data.val.int64.len;
        out.values.i64 = c->data.val.int64.ptr;
        break;
    case FERRY_PLUGIN_TYPES_COLUMN_DATA_BOOLEAN:
        out.type = FERRY_BOOLEAN;
        out.len = c->data.val.boolean.len;
        out.values.boolean = c->data.val.boolean.ptr;
        break;
    default:
        out.type = FERRY_TEXT;
        out.len = c->data.val.text.len;
        out.values.text = (const ferry_str *)c->data.val.text.ptr;
    }
    /* A mask that does not cover every value is read as none, so ferry_is_null never reads
     * past it. */
    if (c->nulls.is_some && c->nulls.val.len == out.len) out.nulls = c->nulls.val.ptr;
    return out;
}

/* A batch from the host, read in place (see column_in). */
static inline ferry_batch batch_in(const ferry_plugin_types_batch_t *in) {
    ferry_column *columns = ferry__alloc(in->columns.len * sizeof(ferry_column));
    for (size_t i = 0; i < in->columns.len; i++) columns[i] = column_in(&in->columns.ptr[i]);
    return (ferry_batch){.num_rows = in->num_rows, .columns = columns,
                         .num_columns = in->columns.len};
}

static inline void batch_in_free(ferry_batch *batch, ferry_plugin_types_batch_t *in) {
    for (size_t i = 0; i < batch->num_columns; i++) free((char *)batch->columns[i].name);
    free((ferry_column *)batch->columns);
    ferry__batch_scratch_free();
    ferry_plugin_types_batch_free(in);
}

static inline ferry_schema schema_in(const ferry_plugin_types_schema_t *in) {
    ferry_field *fields = ferry__alloc(in->len * sizeof(ferry_field));
    for (size_t i = 0; i < in->len; i++)
        fields[i] = (ferry_field){.name = str_in(&in->ptr[i].name),
                                  .type = type_in(in->ptr[i].data_type),
                                  .nullable = in->ptr[i].nullable};
    return (ferry_schema){.fields = fields, .len = in->len};
}

static inline void schema_in_free(ferry_schema *schema) {
    for (size_t i = 0; i < schema->len; i++) free((char *)schema->fields[i].name);
    free((ferry_field *)schema->fields);
}

static inline ferry_plugin_types_schema_t schema_out_of(const ferry_field *fields, size_t len) {
    ferry_plugin_types_schema_t out = {0};
    if (!len) return out;
    out.ptr = ferry__alloc(len * sizeof(ferry_plugin_types_field_t));
    out.len = len;
    for (size_t i = 0; i < len; i++)
        out.ptr[i] = (ferry_plugin_types_field_t){.name = str_out(fields[i].name),
                                                  .data_type = type_out(fields[i].type),
                                                  .nullable = fields[i].nullable};
    return out;
}

/* Moves what `out` holds into the bindings' batch. */
static inline ferry_plugin_types_batch_t batch_out(ferry_batch_out *out) {
    ferry_plugin_types_batch_t ret = {.num_rows = (uint32_t)out->num_rows};
    if (out->len) {
        ret.columns.ptr = ferry__alloc(out->len * sizeof(ferry_plugin_types_column_t));
        ret.columns.len = out->len;
    }
    size_t n = out->num_rows;
    for (size_t i = 0; i < out->len; i++) {
        ferry_out_column *c = &out->columns[i];
        ferry_plugin_types_column_t *r = &ret.columns.ptr[i];
        *r = (ferry_plugin_types_column_t){.name = str_out(c->name)};
        switch (c->type) {
        case FERRY_FLOAT64:
            r->data.tag = FERRY_PLUGIN_TYPES_COLUMN_DATA_FLOAT64;
            r->data.val.float64 = (W(list_f64_t)){.ptr = c->values, .len = n};
            break;
        case FERRY_INT64:
            r->data.tag = FERRY_PLUGIN_TYPES_COLUMN_DATA_INT64;
            r->data.val.int64 = (W(list_s64_t)){.ptr = c->values, .len = n};
            break;
        case FERRY_BOOLEAN:
            r->data.tag = FERRY_PLUGIN_TYPES_COLUMN_DATA_BOOLEAN;
            r->data.val.boolean = (W(list_bool_t)){.ptr = c->values, .len = n};
            break;
        case FERRY_TEXT: {
            char **values = c->values;
            W(string_t) *texts = ferry__alloc(n * sizeof(W(string_t)));
            for (size_t row = 0; row < n; row++) {
                texts[row] = (W(string_t)){.ptr = (uint8_t *)values[row],
                                           .len = values[row] ? strlen(values[row]) : 0};
                if (values[row] && !*values[row]) {
                    free(values[row]);
                    texts[row].ptr = NULL;
                }
            }
            free(values);
            r->data.tag = FERRY_PLUGIN_TYPES_COLUMN_DATA_TEXT;
            r->data.val.text = (W(list_string_t)){.ptr = texts, .len = n};
            break;
        }
        }
        if (n == 0) {
            /* The post-return frees only lists with items. */
            free(c->values);
            if (c->type == FERRY_TEXT) free(r->data.val.text.ptr);
        }
        if (c->nulls) {
            r->nulls.is_some = true;
            r->nulls.val = (W(list_bool_t)){.ptr = c->nulls, .len = n};
            if (n == 0) free(c->nulls);
        }
        free(c->name);
    }
    free(out->columns);
    *out = (ferry_batch_out){0};
    return ret;
}

static inline W(list_u8_t) bytes_out(ferry_json_writer *w) {
    W(list_u8_t) out = {.ptr = (uint8_t *)w->text, .len = w->len};
    if (!w->len) {
        free(w->text);
        out.ptr = NULL;
    }
    *w = (ferry_json_writer){0};
    return out;
}

/* The contract's error for `err`, freeing it. A plugin that failed without saying why gets an
 * internal error that says so. */
static inline void error_out(ferry_error *err, const char *function, ferry_plugin_types_plugin_error_t *ret) {
    if (err->kind == FERRY_ERROR_NONE) ferry_internal_error(err, "%s failed without an error", function);
    switch (err->kind) {
    case FERRY_ERROR_CONFIG:
        ret->tag = FERRY_PLUGIN_TYPES_PLUGIN_ERROR_CONFIG;
        ret->val.config = str_out(err->message);
        break;
    case FERRY_ERROR_INPUT:
        ret->tag = FERRY_PLUGIN_TYPES_PLUGIN_ERROR_INPUT;
        ret->val.input = (ferry_plugin_types_input_error_t){
            .column = opt_str_out(err->column),
            .row = {.is_some = err->row >= 0 && err->row <= UINT32_MAX, .val = (uint32_t)err->row},
            .message = str_out(err->message),
        };
        break;
    case FERRY_ERROR_UNSUPPORTED:
        ret->tag = FERRY_PLUGIN_TYPES_PLUGIN_ERROR_UNSUPPORTED;
        ret->val.unsupported = str_out(err->message);
        break;
    default:
        ret->tag = FERRY_PLUGIN_TYPES_PLUGIN_ERROR_INTERNAL;
        ret->val.internal = str_out(err->message);
    }
    ferry__error_free(err);
}

static inline void manifest_out(ferry_plugin_types_plugin_kind_t kind, ferry_plugin_types_manifest_t *ret) {
    const ferry_manifest *m = &ferry_plugin_manifest;
    *ret = (ferry_plugin_types_manifest_t){
        .name = str_out(m->name),
        .version = str_out(m->version),
        .kind = kind,
        .description = str_out(m->description),
        .authors = strs_out(m->authors),
        .license = opt_str_out(m->license),
        .repository = opt_str_out(m->repository),
        .keywords = strs_out(m->keywords),
        .limits = {.memory_mib = opt_u32_out(m->limits.memory_mib),
                   .timeout_ms = opt_u32_out(m->limits.timeout_ms)},
        .config_schema = str_out(m->config_schema ? m->config_schema : "{\"type\":\"object\"}"),
    };
}

void ferry__host_log(ferry_log_level level, const char *message, size_t len) {
    W(string_t) text = {.ptr = (uint8_t *)message, .len = len};
    W(list_tuple2_string_string_t) fields = {0};
    ferry_plugin_host_log((ferry_plugin_host_log_level_t)level, &text, &fields);
}
