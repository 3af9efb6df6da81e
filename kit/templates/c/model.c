/* {{name}}: a model adapter. A nearest-centroid classifier: training keeps each class's mean
 * feature vector; prediction names the class whose centroid is nearest. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry.h"

const ferry_manifest ferry_plugin_manifest = {
    .name = "{{name}}",
    .version = "0.1.0",
    .description = "{{description}}",
    .license = "Apache-2.0",
    .keywords = (const char *const[]){"model", "classification", NULL},
    .config_schema = {{schema}},
};

/* One class: its label and centroid. */
typedef struct centroid {
    char *label;
    double *mean;
    size_t count;
} centroid;

/* Row `row` of every feature column into `x`; false where any is null. */
static bool row_of(const ferry_column *const *columns, const double *const *values, size_t n,
                   size_t row, double *x) {
    for (size_t f = 0; f < n; f++) {
        if (ferry_is_null(columns[f], row)) return false;
        x[f] = values[f][row];
    }
    return true;
}

/* A label as text: labels may be text, integers or booleans. */
static char *label_text(const ferry_column *labels, size_t row) {
    char buf[32];
    switch (labels->type) {
    case FERRY_TEXT: return strndup(labels->values.text[row].ptr, labels->values.text[row].len);
    case FERRY_INT64: snprintf(buf, sizeof buf, "%" PRId64, labels->values.i64[row]); break;
    case FERRY_BOOLEAN: snprintf(buf, sizeof buf, "%s", labels->values.boolean[row] ? "true" : "false"); break;
    default: snprintf(buf, sizeof buf, "%g", labels->values.f64[row]);
    }
    return strdup(buf);
}

static int by_label(const void *a, const void *b) {
    return strcmp(((const centroid *)a)->label, ((const centroid *)b)->label);
}

bool ferry_model_train(const ferry_batch *features, const ferry_column *labels,
                       const char *config, ferry_json_writer *artifact, ferry_error *err) {
    ferry_json *json = ferry_config_parse(config, NULL, err);
    if (!json) return false;
    ferry_json_free(json);
    size_t n = features->num_columns;
    const ferry_column *columns[n + 1];
    const double *values[n + 1];
    for (size_t f = 0; f < n; f++) {
        columns[f] = &features->columns[f];
        if (!(values[f] = ferry_numbers(columns[f], err))) return false;
    }
    centroid *classes = NULL;
    size_t num_classes = 0;
    double x[n + 1];
    for (size_t row = 0; row < features->num_rows; row++) {
        if (!row_of(columns, values, n, row, x) || ferry_is_null(labels, row)) continue;
        char *label = label_text(labels, row);
        size_t c = 0;
        while (c < num_classes && strcmp(classes[c].label, label) != 0) c++;
        if (c == num_classes) {
            classes = realloc(classes, (num_classes + 1) * sizeof(centroid));
            classes[num_classes++] = (centroid){label, calloc(n + 1, sizeof(double)), 0};
        } else {
            free(label);
        }
        for (size_t f = 0; f < n; f++) classes[c].mean[f] += x[f];
        classes[c].count++;
    }
    if (num_classes == 0)
        return ferry_input_error(err, labels->name, -1, "no row has a label and every feature");
    qsort(classes, num_classes, sizeof(centroid), by_label);
    /* The artifact: {"features": [...], "classes": [[label, [mean, ...]], ...]}. */
    ferry_write_begin_object(artifact);
    ferry_write_key(artifact, "features");
    ferry_write_begin_array(artifact);
    for (size_t f = 0; f < n; f++) ferry_write_string(artifact, columns[f]->name);
    ferry_write_end_array(artifact);
    ferry_write_key(artifact, "classes");
    ferry_write_begin_array(artifact);
    for (size_t c = 0; c < num_classes; c++) {
        ferry_write_begin_array(artifact);
        ferry_write_string(artifact, classes[c].label);
        ferry_write_begin_array(artifact);
        for (size_t f = 0; f < n; f++)
            ferry_write_number(artifact, classes[c].mean[f] / (double)classes[c].count);
        ferry_write_end_array(artifact);
        ferry_write_end_array(artifact);
        free(classes[c].label);
        free(classes[c].mean);
    }
    ferry_write_end_array(artifact);
    ferry_write_end_object(artifact);
    free(classes);
    return true;
}

struct ferry_predictor {
    ferry_names features;
    ferry_field *inputs;
    centroid *classes;
    size_t num_classes;
};

ferry_predictor *ferry_model_load(const uint8_t *artifact, size_t len, const char *config,
                                  ferry_error *err) {
    ferry_json *settings = ferry_config_parse(config, NULL, err);
    if (!settings) return NULL;
    ferry_json_free(settings);
    ferry_json *json = ferry_json_parse((const char *)artifact, len, "the {{name}} artifact", err);
    if (!json) return NULL;
    const ferry_json *features = ferry_json_get(json, "features");
    const ferry_json *classes = ferry_json_get(json, "classes");
    size_t n = features ? ferry_json_len(features) : 0;
    bool ok = features && classes && ferry_json_kind(features) == FERRY_JSON_ARRAY &&
              ferry_json_kind(classes) == FERRY_JSON_ARRAY && ferry_json_len(classes) > 0;
    for (size_t f = 0; ok && f < n; f++) ok = ferry_json_string(ferry_json_at(features, f)) != NULL;
    for (size_t c = 0; ok && c < ferry_json_len(classes); c++) {
        const ferry_json *pair = ferry_json_at(classes, c);
        const ferry_json *mean = ferry_json_at(pair, 1);
        ok = ferry_json_len(pair) == 2 && ferry_json_string(ferry_json_at(pair, 0)) && mean &&
             ferry_json_kind(mean) == FERRY_JSON_ARRAY && ferry_json_len(mean) == n;
        for (size_t f = 0; ok && f < n; f++)
            ok = ferry_json_kind(ferry_json_at(mean, f)) == FERRY_JSON_NUMBER;
    }
    if (!ok) {
        ferry_json_free(json);
        ferry_config_error(err, "the artifact is not a valid {{name}} artifact: it needs "
                                "features and classes of [label, [mean per feature]]");
        return NULL;
    }
    ferry_predictor *p = calloc(1, sizeof *p);
    p->features.names = calloc(n + 1, sizeof(char *));
    p->features.len = n;
    p->inputs = calloc(n + 1, sizeof(ferry_field));
    for (size_t f = 0; f < n; f++) {
        p->features.names[f] = strdup(ferry_json_string(ferry_json_at(features, f)));
        p->inputs[f] = (ferry_field){p->features.names[f], FERRY_FLOAT64, true};
    }
    p->num_classes = ferry_json_len(classes);
    p->classes = calloc(p->num_classes, sizeof(centroid));
    for (size_t c = 0; c < p->num_classes; c++) {
        const ferry_json *pair = ferry_json_at(classes, c);
        p->classes[c].label = strdup(ferry_json_string(ferry_json_at(pair, 0)));
        p->classes[c].mean = calloc(n + 1, sizeof(double));
        for (size_t f = 0; f < n; f++)
            p->classes[c].mean[f] = ferry_json_number(ferry_json_at(ferry_json_at(pair, 1), f));
    }
    ferry_json_free(json);
    return p;
}

void ferry_predictor_describe(ferry_predictor *p, ferry_model_info *info) {
    static const ferry_model_output outputs[] = {{"prediction", "the class whose centroid is nearest"}};
    info->task = p->num_classes > 2 ? FERRY_MULTICLASS_CLASSIFICATION : FERRY_BINARY_CLASSIFICATION;
    info->inputs = (ferry_schema){p->inputs, p->features.len};
    info->outputs = outputs;
    info->num_outputs = 1;
}

bool ferry_predictor_predict(ferry_predictor *p, const ferry_batch *features,
                             ferry_batch_out *out, ferry_error *err) {
    size_t n = p->features.len;
    const ferry_column *columns[n + 1];
    const double *values[n + 1];
    for (size_t f = 0; f < n; f++) {
        columns[f] = ferry_column_named(features, p->features.names[f], err);
        if (!columns[f] || !(values[f] = ferry_numbers(columns[f], err))) return false;
    }
    bool *nulls = malloc(features->num_rows + 1);
    double x[n + 1];
    for (size_t row = 0; row < features->num_rows; row++) nulls[row] = !row_of(columns, values, n, row, x);
    ferry_out_text(out, "prediction", nulls);
    for (size_t row = 0; row < features->num_rows; row++) {
        if (nulls[row]) continue;
        row_of(columns, values, n, row, x);
        size_t best = 0;
        double best_distance = 0;
        for (size_t c = 0; c < p->num_classes; c++) {
            double d = 0;
            for (size_t f = 0; f < n; f++) d += (p->classes[c].mean[f] - x[f]) * (p->classes[c].mean[f] - x[f]);
            if (c == 0 || d < best_distance) {
                best = c;
                best_distance = d;
            }
        }
        ferry_out_set_text(out, "prediction", row, p->classes[best].label);
    }
    free(nulls);
    return true;
}

void ferry_predictor_free(ferry_predictor *p) {
    for (size_t c = 0; c < p->num_classes; c++) {
        free(p->classes[c].label);
        free(p->classes[c].mean);
    }
    free(p->classes);
    free(p->inputs);
    ferry_names_free(&p->features);
    free(p);
}
