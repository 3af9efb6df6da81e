/* The validator-plugin world (or, built with -DFERRY_PREPARED, prepared-validator-plugin): the
 * bindings' exports, calling the plugin's ferry_validate. */
#ifdef FERRY_PREPARED
#include "prepared_validator_plugin.h"
#define W(name) prepared_validator_plugin_##name
#else
#include "validator_plugin.h"
#define W(name) validator_plugin_##name
#endif
#include "convert.h"

void exports_ferry_plugin_plugin_get_manifest(exports_ferry_plugin_plugin_manifest_t *ret) {
    manifest_out(FERRY_PLUGIN_TYPES_PLUGIN_KIND_VALIDATOR, ret);
}

static ferry_plugin_types_report_t report_out(ferry_report *r) {
    ferry_plugin_types_report_t ret = {.rows_checked = r->rows_checked, .truncated = r->truncated};
    if (r->num_violations) {
        ret.violations.ptr = ferry__alloc(r->num_violations * sizeof(ferry_plugin_types_violation_t));
        ret.violations.len = r->num_violations;
    }
    for (size_t i = 0; i < r->num_violations; i++) {
        ferry_violation *v = &r->violations[i];
        ret.violations.ptr[i] = (ferry_plugin_types_violation_t){
            .rule = str_out(v->rule),
            .column = opt_str_out(v->column),
            .row = {.is_some = v->row >= 0 && v->row <= UINT32_MAX, .val = (uint32_t)v->row},
            .message = str_out(v->message),
        };
    }
    if (r->num_counts) {
        ret.counts.ptr = ferry__alloc(r->num_counts * sizeof(ferry_plugin_types_violation_count_t));
        ret.counts.len = r->num_counts;
    }
    for (size_t i = 0; i < r->num_counts; i++)
        ret.counts.ptr[i] = (ferry_plugin_types_violation_count_t){
            .rule = str_out(r->counts[i].rule),
            .column = opt_str_out(r->counts[i].column),
            .count = r->counts[i].count,
        };
    return ret;
}

bool exports_ferry_plugin_validator_validate(W(string_t) *config,
                                             exports_ferry_plugin_validator_batch_t *data,
                                             exports_ferry_plugin_validator_report_t *ret,
                                             exports_ferry_plugin_validator_plugin_error_t *err) {
    char *text = str_in(config);
    ferry_batch batch = batch_in(data);
    ferry_report report = {.rows_checked = (uint32_t)batch.num_rows};
    ferry_error e = {.row = -1};
    bool ok = ferry_validate(text, &batch, &report, &e);
    batch_in_free(&batch, data);
    free(text);
    W(string_free)(config);
    if (ok) *ret = report_out(&report);
    else error_out(&e, "ferry_validate", err);
    ferry__report_free(&report);
    return ok;
}

#ifdef FERRY_PREPARED
/* The configuration `prepare` was given, kept in the instance the host snapshots (contract
 * 0.1.1): every call of an instance started from the snapshot finds it here. */
static char *prepared_config;

bool exports_ferry_plugin_prepared_validator_prepare(W(string_t) *config,
                                                     exports_ferry_plugin_prepared_validator_plugin_error_t *err) {
    (void)err;
    free(prepared_config);
    prepared_config = str_in(config);
    W(string_free)(config);
    return true;
}

bool exports_ferry_plugin_prepared_validator_validate(exports_ferry_plugin_prepared_validator_batch_t *data,
                                                      exports_ferry_plugin_prepared_validator_report_t *ret,
                                                      exports_ferry_plugin_prepared_validator_plugin_error_t *err) {
    ferry_error e = {.row = -1};
    if (!prepared_config) {
        ferry_plugin_types_batch_free(data);
        ferry_internal_error(&e, "called before `prepare` succeeded in this instance");
        error_out(&e, "ferry_validate", err);
        return false;
    }
    ferry_batch batch = batch_in(data);
    ferry_report report = {.rows_checked = (uint32_t)batch.num_rows};
    bool ok = ferry_validate(prepared_config, &batch, &report, &e);
    batch_in_free(&batch, data);
    if (ok) *ret = report_out(&report);
    else error_out(&e, "ferry_validate", err);
    ferry__report_free(&report);
    return ok;
}
#endif
