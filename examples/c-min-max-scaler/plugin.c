/* c-min-max-scaler: the min-max-scaler built-in written in C with Ferry's C SDK (sdk/c). It
 * scales numeric columns into `feature_range` with the minimum and maximum learned in
 * analysis, and gives the Rust plugin's output bit for bit: the arithmetic is the same IEEE
 * operations in the same order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ferry.h"

const ferry_manifest ferry_plugin_manifest = {
    .name = "c-min-max-scaler",
    .version = "0.1.0",
    .description = "Scales numeric columns into a range learned in analysis (C)",
    .license = "Apache-2.0",
    .keywords = (const char *const[]){"scaling", "normalization", "numeric", "c", NULL},
    .config_schema =
        "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"title\":\"c-min-max-scaler\","
        "\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
        "\"columns\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
        "\"feature_range\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":2,"
        "\"maxItems\":2,\"default\":[0,1]},"
        "\"clip\":{\"type\":\"boolean\",\"default\":false}},"
        "\"examples\":[{\"columns\":[\"score\",\"count\"]}]}",
};

static const char *const KEYS[] = {"columns", "feature_range", "clip", NULL};

/* The configuration, checked. */
typedef struct settings {
    ferry_json *json;
    double range[2];
    bool clip;
} settings;

static bool read_settings(const char *config, settings *s, ferry_error *err) {
    s->range[0] = 0.0;
    s->range[1] = 1.0;
    if (!(s->json = ferry_config_parse(config, KEYS, err))) return false;
    if (!ferry_config_numbers(s->json, "feature_range", 2, s->range, err) ||
        !ferry_config_bool(s->json, "clip", false, &s->clip, err)) {
        ferry_json_free(s->json);
        return false;
    }
    if (!(s->range[0] < s->range[1])) {
        ferry_json_free(s->json);
        return ferry_config_error(err,
                                  "`feature_range` must be [low, high] with low < high, got [%g, %g]",
                                  s->range[0], s->range[1]);
    }
    return true;
}

struct ferry_analyzer {
    settings settings;
    ferry_names columns;
    double *min, *max;
};

ferry_analyzer *ferry_analyzer_new(const char *config, const ferry_schema *input,
                                   ferry_error *err) {
    ferry_analyzer *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    if (!read_settings(config, &a->settings, err)) {
        free(a);
        return NULL;
    }
    if (!ferry_numeric_columns(a->settings.json, "columns", input, &a->columns, err)) {
        ferry_json_free(a->settings.json);
        free(a);
        return NULL;
    }
    a->min = malloc((a->columns.len + 1) * sizeof(double));
    a->max = malloc((a->columns.len + 1) * sizeof(double));
    for (size_t i = 0; i < a->columns.len; i++) {
        a->min[i] = INFINITY;
        a->max[i] = -INFINITY;
    }
    return a;
}

bool ferry_analyzer_update(ferry_analyzer *a, const ferry_batch *batch, ferry_error *err) {
    for (size_t c = 0; c < a->columns.len; c++) {
        const ferry_column *column = ferry_column_named(batch, a->columns.names[c], err);
        const double *values = column ? ferry_numbers(column, err) : NULL;
        if (!values) return false;
        for (size_t row = 0; row < column->len; row++) {
            double v = values[row];
            if (ferry_is_null(column, row)) continue;
            if (!isfinite(v))
                return ferry_input_error(err, column->name, (int64_t)row, "%g is not finite", v);
            a->min[c] = fmin(a->min[c], v);
            a->max[c] = fmax(a->max[c], v);
        }
    }
    return true;
}

bool ferry_analyzer_finish(ferry_analyzer *a, ferry_json_writer *state, ferry_error *err) {
    (void)err;
    ferry_log(FERRY_LOG_INFO, "learned the range of %zu columns", a->columns.len);
    ferry_write_begin_object(state);
    ferry_write_key(state, "feature_range");
    ferry_write_begin_array(state);
    ferry_write_number(state, a->settings.range[0]);
    ferry_write_number(state, a->settings.range[1]);
    ferry_write_end_array(state);
    ferry_write_key(state, "clip");
    ferry_write_bool(state, a->settings.clip);
    ferry_write_key(state, "columns");
    ferry_write_begin_array(state);
    for (size_t c = 0; c < a->columns.len; c++) {
        ferry_write_begin_object(state);
        ferry_write_key(state, "name");
        ferry_write_string(state, a->columns.names[c]);
        /* No value seen: written as null, read back as the infinities it started from. */
        ferry_write_key(state, "min");
        ferry_write_number(state, a->min[c]);
        ferry_write_key(state, "max");
        ferry_write_number(state, a->max[c]);
        ferry_write_end_object(state);
    }
    ferry_write_end_array(state);
    ferry_write_end_object(state);
    return true;
}

void ferry_analyzer_free(ferry_analyzer *a) {
    ferry_json_free(a->settings.json);
    ferry_names_free(&a->columns);
    free(a->min);
    free(a->max);
    free(a);
}

/* How one column is scaled. */
typedef struct range {
    char *name;
    double min, max;
} range;

struct ferry_transformer {
    double lo, hi;
    bool clip;
    range *columns;
    size_t len;
};

static bool bad_state(ferry_error *err, const char *why) {
    return ferry_config_error(err, "the state is not a valid c-min-max-scaler state: %s", why);
}

static double bound(const ferry_json *v, double missing) {
    return ferry_json_kind(v) == FERRY_JSON_NUMBER ? ferry_json_number(v) : missing;
}

ferry_transformer *ferry_transformer_new(const char *config, const uint8_t *state, size_t len,
                                         ferry_error *err) {
    (void)config;
    ferry_error parse_err = {.row = -1};
    ferry_json *json = ferry_json_parse((const char *)state, len, "the state", &parse_err);
    if (!json) {
        bad_state(err, parse_err.message);
        free(parse_err.message);
        return NULL;
    }
    const ferry_json *fr = ferry_json_get(json, "feature_range");
    const ferry_json *clip = ferry_json_get(json, "clip");
    const ferry_json *columns = ferry_json_get(json, "columns");
    if (!fr || ferry_json_len(fr) != 2 || !clip || ferry_json_kind(clip) != FERRY_JSON_BOOL ||
        !columns || ferry_json_kind(columns) != FERRY_JSON_ARRAY) {
        ferry_json_free(json);
        bad_state(err, "it needs feature_range, clip and columns");
        return NULL;
    }
    ferry_transformer *t = calloc(1, sizeof *t);
    t->lo = ferry_json_number(ferry_json_at(fr, 0));
    t->hi = ferry_json_number(ferry_json_at(fr, 1));
    t->clip = ferry_json_bool(clip);
    t->len = ferry_json_len(columns);
    t->columns = calloc(t->len + 1, sizeof(range));
    for (size_t i = 0; i < t->len; i++) {
        const ferry_json *c = ferry_json_at(columns, i);
        const char *name = ferry_json_string(ferry_json_get(c, "name"));
        const ferry_json *min = ferry_json_get(c, "min"), *max = ferry_json_get(c, "max");
        if (!name || !min || !max) {
            ferry_json_free(json);
            ferry_transformer_free(t);
            bad_state(err, "a column needs name, min and max");
            return NULL;
        }
        t->columns[i] = (range){strdup(name), bound(min, INFINITY), bound(max, -INFINITY)};
    }
    ferry_json_free(json);
    return t;
}

bool ferry_transformer_apply(ferry_transformer *t, const ferry_batch *batch,
                             ferry_batch_out *out, ferry_error *err) {
    for (size_t c = 0; c < t->len; c++) {
        const range *r = &t->columns[c];
        const ferry_column *column = ferry_column_named(batch, r->name, err);
        const double *values = column ? ferry_numbers(column, err) : NULL;
        if (!values) return false;
        double span = r->max > r->min ? r->max - r->min : 1.0;
        double min = isfinite(r->min) ? r->min : 0.0;
        double *scaled = ferry_out_float64(out, r->name, column->nulls);
        for (size_t row = 0; row < column->len; row++) {
            double s = (values[row] - min) / span * (t->hi - t->lo) + t->lo;
            if (t->clip) s = s < t->lo ? t->lo : s > t->hi ? t->hi : s;
            scaled[row] = s;
        }
    }
    return true;
}

void ferry_transformer_free(ferry_transformer *t) {
    for (size_t i = 0; i < t->len; i++) free(t->columns[i].name);
    free(t->columns);
    free(t);
}

bool ferry_output_schema(const char *config, const ferry_schema *input, ferry_schema_out *out,
                         ferry_error *err) {
    settings s;
    ferry_names names;
    if (!read_settings(config, &s, err)) return false;
    bool ok = ferry_numeric_columns(s.json, "columns", input, &names, err);
    for (size_t i = 0; ok && i < names.len; i++) {
        const ferry_field *field = ferry_schema_field(input, names.names[i]);
        ferry_schema_add(out, names.names[i], FERRY_FLOAT64, field && field->nullable);
    }
    if (ok) ferry_names_free(&names);
    ferry_json_free(s.json);
    return ok;
}
