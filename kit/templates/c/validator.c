/* {{name}}: a validator. Every value of the chosen numeric columns lies within [min, max] and
 * is not null. */
#include "ferry.h"

const ferry_manifest ferry_plugin_manifest = {
    .name = "{{name}}",
    .version = "0.1.0",
    .description = "{{description}}",
    .license = "Apache-2.0",
    .keywords = (const char *const[]){"validation", NULL},
    .config_schema = {{schema}},
};

static const char *const KEYS[] = {"columns", "min", "max", NULL};

bool ferry_validate(const char *config, const ferry_batch *batch, ferry_report *report,
                    ferry_error *err) {
    ferry_json *json = ferry_config_parse(config, KEYS, err);
    if (!json) return false;
    double lo = 0, hi = 0;
    ferry_names names = {0};
    bool ok = ferry_config_number(json, "min", 0, &lo, err) &&
              ferry_config_number(json, "max", 0, &hi, err);
    if (ok && (!ferry_json_get(json, "min") || !ferry_json_get(json, "max")))
        ok = ferry_config_error(err, "give both `min` and `max`");
    if (ok && lo > hi) ok = ferry_config_error(err, "`min` (%g) is above `max` (%g)", lo, hi);
    if (ok) {
        ferry_schema schema = ferry_batch_schema(batch);
        ok = ferry_numeric_columns(json, "columns", &schema, &names, err);
    }
    for (size_t c = 0; ok && c < names.len; c++) {
        const ferry_column *column = ferry_column_named(batch, names.names[c], err);
        const double *values = column ? ferry_numbers(column, err) : NULL;
        if (!values) {
            ok = false;
            break;
        }
        for (size_t row = 0; row < column->len; row++) {
            if (ferry_is_null(column, row))
                ferry_report_add(report, "not-null", column->name, (int64_t)row, "is null");
            else if (!(lo <= values[row] && values[row] <= hi))
                ferry_report_add(report, "in-range", column->name, (int64_t)row,
                                 "%g is outside [%g, %g]", values[row], lo, hi);
        }
    }
    if (ok) ferry_names_free(&names);
    ferry_json_free(json);
    return ok;
}
