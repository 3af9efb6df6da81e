/* {{name}}: a transform. Centres the chosen numeric columns on the means it learned in
 * training, so serving subtracts exactly the values training saw. */
#include <stdlib.h>
#include <string.h>

#include "ferry.h"

const ferry_manifest ferry_plugin_manifest = {
    .name = "{{name}}",
    .version = "0.1.0",
    .description = "{{description}}",
    .license = "Apache-2.0",
    .keywords = (const char *const[]){"transform", NULL},
    .config_schema = {{schema}},
};

static const char *const KEYS[] = {"columns", NULL};

/* Sums and counts the non-null values of each column. */
struct ferry_analyzer {
    ferry_names columns;
    double *sums;
    size_t *counts;
};

ferry_analyzer *ferry_analyzer_new(const char *config, const ferry_schema *input,
                                   ferry_error *err) {
    ferry_json *json = ferry_config_parse(config, KEYS, err);
    if (!json) return NULL;
    ferry_analyzer *a = calloc(1, sizeof *a);
    bool ok = ferry_numeric_columns(json, "columns", input, &a->columns, err);
    ferry_json_free(json);
    if (!ok) {
        free(a);
        return NULL;
    }
    a->sums = calloc(a->columns.len + 1, sizeof(double));
    a->counts = calloc(a->columns.len + 1, sizeof(size_t));
    return a;
}

bool ferry_analyzer_update(ferry_analyzer *a, const ferry_batch *batch, ferry_error *err) {
    for (size_t c = 0; c < a->columns.len; c++) {
        const ferry_column *column = ferry_column_named(batch, a->columns.names[c], err);
        const double *values = column ? ferry_numbers(column, err) : NULL;
        if (!values) return false;
        for (size_t row = 0; row < column->len; row++) {
            if (ferry_is_null(column, row)) continue;
            a->sums[c] += values[row];
            a->counts[c]++;
        }
    }
    return true;
}

/* The state: {"means": [[name, mean], ...]}. */
bool ferry_analyzer_finish(ferry_analyzer *a, ferry_json_writer *state, ferry_error *err) {
    (void)err;
    ferry_write_begin_object(state);
    ferry_write_key(state, "means");
    ferry_write_begin_array(state);
    for (size_t c = 0; c < a->columns.len; c++) {
        ferry_write_begin_array(state);
        ferry_write_string(state, a->columns.names[c]);
        ferry_write_number(state, a->counts[c] ? a->sums[c] / (double)a->counts[c] : 0.0);
        ferry_write_end_array(state);
    }
    ferry_write_end_array(state);
    ferry_write_end_object(state);
    return true;
}

void ferry_analyzer_free(ferry_analyzer *a) {
    ferry_names_free(&a->columns);
    free(a->sums);
    free(a->counts);
    free(a);
}

struct ferry_transformer {
    ferry_json *state;
};

ferry_transformer *ferry_transformer_new(const char *config, const uint8_t *state, size_t len,
                                         ferry_error *err) {
    (void)config;
    ferry_json *json = ferry_json_parse((const char *)state, len, "the {{name}} state", err);
    if (!json) return NULL;
    const ferry_json *means = ferry_json_get(json, "means");
    if (!means || ferry_json_kind(means) != FERRY_JSON_ARRAY) {
        ferry_json_free(json);
        ferry_config_error(err, "the state is not a valid {{name}} state: it has no `means`");
        return NULL;
    }
    for (size_t i = 0; i < ferry_json_len(means); i++) {
        const ferry_json *pair = ferry_json_at(means, i);
        if (ferry_json_len(pair) != 2 || !ferry_json_string(ferry_json_at(pair, 0)) ||
            ferry_json_kind(ferry_json_at(pair, 1)) != FERRY_JSON_NUMBER) {
            ferry_json_free(json);
            ferry_config_error(err, "the state is not a valid {{name}} state: means[%zu] is not "
                                    "[name, mean]", i);
            return NULL;
        }
    }
    ferry_transformer *t = malloc(sizeof *t);
    t->state = json;
    return t;
}

bool ferry_transformer_apply(ferry_transformer *t, const ferry_batch *batch,
                             ferry_batch_out *out, ferry_error *err) {
    const ferry_json *means = ferry_json_get(t->state, "means");
    for (size_t i = 0; i < ferry_json_len(means); i++) {
        const ferry_json *pair = ferry_json_at(means, i);
        const char *name = ferry_json_string(ferry_json_at(pair, 0));
        double mean = ferry_json_number(ferry_json_at(pair, 1));
        const ferry_column *column = ferry_column_named(batch, name, err);
        const double *values = column ? ferry_numbers(column, err) : NULL;
        if (!values) return false;
        double *centred = ferry_out_float64(out, name, column->nulls);
        for (size_t row = 0; row < column->len; row++) centred[row] = values[row] - mean;
    }
    return true;
}

void ferry_transformer_free(ferry_transformer *t) {
    ferry_json_free(t->state);
    free(t);
}

bool ferry_output_schema(const char *config, const ferry_schema *input, ferry_schema_out *out,
                         ferry_error *err) {
    ferry_json *json = ferry_config_parse(config, KEYS, err);
    if (!json) return false;
    ferry_names names;
    bool ok = ferry_numeric_columns(json, "columns", input, &names, err);
    ferry_json_free(json);
    if (!ok) return false;
    for (size_t i = 0; i < names.len; i++)
        ferry_schema_add(out, names.names[i], FERRY_FLOAT64,
                         ferry_schema_field(input, names.names[i])->nullable);
    ferry_names_free(&names);
    return true;
}
