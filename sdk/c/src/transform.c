/* The transform-plugin world (or, built with -DFERRY_PREPARED, prepared-transform-plugin): the
 * bindings' exports, calling the plugin's ferry_* functions. */
#ifdef FERRY_PREPARED
#include "prepared_transform_plugin.h"
#define W(name) prepared_transform_plugin_##name
#else
#include "transform_plugin.h"
#define W(name) transform_plugin_##name
#endif
#include "convert.h"

struct exports_ferry_plugin_transform_analyzer_t {
    ferry_analyzer *inner;
};

struct exports_ferry_plugin_transform_transformer_t {
    ferry_transformer *inner;
};

void exports_ferry_plugin_plugin_get_manifest(exports_ferry_plugin_plugin_manifest_t *ret) {
    manifest_out(FERRY_PLUGIN_TYPES_PLUGIN_KIND_TRANSFORM, ret);
}

bool exports_ferry_plugin_transform_new_analyzer(W(string_t) *config,
                                                 exports_ferry_plugin_transform_schema_t *input,
                                                 exports_ferry_plugin_transform_own_analyzer_t *ret,
                                                 exports_ferry_plugin_transform_plugin_error_t *err) {
    char *text = str_in(config);
    ferry_schema schema = schema_in(input);
    ferry_error e = {.row = -1};
    ferry_analyzer *inner = ferry_analyzer_new(text, &schema, &e);
    schema_in_free(&schema);
    free(text);
    W(string_free)(config);
    ferry_plugin_types_schema_free(input);
    if (!inner) {
        error_out(&e, "ferry_analyzer_new", err);
        return false;
    }
    exports_ferry_plugin_transform_analyzer_t *rep = ferry__alloc(sizeof *rep);
    rep->inner = inner;
    *ret = exports_ferry_plugin_transform_analyzer_new(rep);
    return true;
}

bool exports_ferry_plugin_transform_method_analyzer_update(
    exports_ferry_plugin_transform_borrow_analyzer_t self, exports_ferry_plugin_transform_batch_t *data,
    exports_ferry_plugin_transform_plugin_error_t *err) {
    ferry_batch batch = batch_in(data);
    ferry_error e = {.row = -1};
    bool ok = ferry_analyzer_update(self->inner, &batch, &e);
    batch_in_free(&batch, data);
    if (!ok) error_out(&e, "ferry_analyzer_update", err);
    return ok;
}

bool exports_ferry_plugin_transform_method_analyzer_finish(
    exports_ferry_plugin_transform_borrow_analyzer_t self, W(list_u8_t) *ret,
    exports_ferry_plugin_transform_plugin_error_t *err) {
    ferry_json_writer state = {0};
    ferry_error e = {.row = -1};
    bool ok = ferry_analyzer_finish(self->inner, &state, &e);
    if (ok && state.failed) ok = ferry_internal_error(&e, "out of memory writing the state");
    if (!ok) {
        free(state.text);
        error_out(&e, "ferry_analyzer_finish", err);
        return false;
    }
    *ret = bytes_out(&state);
    return true;
}

void exports_ferry_plugin_transform_analyzer_destructor(exports_ferry_plugin_transform_analyzer_t *rep) {
    ferry_analyzer_free(rep->inner);
    free(rep);
}

/* The transformer built from `config` and `state` (both freed), or NULL with `err` set. */
static ferry_transformer *transformer_from(W(string_t) *config, W(list_u8_t) *state,
                                           ferry_plugin_types_plugin_error_t *err) {
    char *text = str_in(config);
    ferry_error e = {.row = -1};
    ferry_transformer *inner = ferry_transformer_new(text, state->ptr, state->len, &e);
    free(text);
    W(string_free)(config);
    W(list_u8_free)(state);
    if (!inner) error_out(&e, "ferry_transformer_new", err);
    return inner;
}

/* Applies `inner` to `data` (freed) into `ret`. */
static bool apply_with(ferry_transformer *inner, ferry_plugin_types_batch_t *data, ferry_plugin_types_batch_t *ret,
                       ferry_plugin_types_plugin_error_t *err) {
    ferry_batch batch = batch_in(data);
    ferry_batch_out out = {.num_rows = batch.num_rows};
    ferry_error e = {.row = -1};
    bool ok = ferry_transformer_apply(inner, &batch, &out, &e);
    batch_in_free(&batch, data);
    if (!ok) {
        ferry__batch_out_free(&out);
        error_out(&e, "ferry_transformer_apply", err);
        return false;
    }
    *ret = batch_out(&out);
    return true;
}

bool exports_ferry_plugin_transform_new_transformer(
    W(string_t) *config, W(list_u8_t) *state,
    exports_ferry_plugin_transform_own_transformer_t *ret,
    exports_ferry_plugin_transform_plugin_error_t *err) {
    ferry_transformer *inner = transformer_from(config, state, err);
    if (!inner) return false;
    exports_ferry_plugin_transform_transformer_t *rep = ferry__alloc(sizeof *rep);
    rep->inner = inner;
    *ret = exports_ferry_plugin_transform_transformer_new(rep);
    return true;
}

bool exports_ferry_plugin_transform_method_transformer_apply(
    exports_ferry_plugin_transform_borrow_transformer_t self, exports_ferry_plugin_transform_batch_t *data,
    exports_ferry_plugin_transform_batch_t *ret, exports_ferry_plugin_transform_plugin_error_t *err) {
    return apply_with(self->inner, data, ret, err);
}

void exports_ferry_plugin_transform_transformer_destructor(
    exports_ferry_plugin_transform_transformer_t *rep) {
    ferry_transformer_free(rep->inner);
    free(rep);
}

bool exports_ferry_plugin_transform_output_schema(W(string_t) *config,
                                                  exports_ferry_plugin_transform_schema_t *input,
                                                  exports_ferry_plugin_transform_schema_t *ret,
                                                  exports_ferry_plugin_transform_plugin_error_t *err) {
    char *text = str_in(config);
    ferry_schema schema = schema_in(input);
    ferry_schema_out out = {0};
    ferry_error e = {.row = -1};
    bool ok = ferry_output_schema(text, &schema, &out, &e);
    schema_in_free(&schema);
    free(text);
    W(string_free)(config);
    ferry_plugin_types_schema_free(input);
    if (ok) *ret = schema_out_of(out.fields, out.len);
    else error_out(&e, "ferry_output_schema", err);
    ferry__schema_out_free(&out);
    return ok;
}

#ifdef FERRY_PREPARED
/* The transformer `prepare` built, kept in the instance the host snapshots (contract 0.1.1):
 * every call of an instance started from the snapshot finds it here. */
static ferry_transformer *prepared_transformer;

bool exports_ferry_plugin_prepared_transform_prepare(W(string_t) *config, W(list_u8_t) *state,
                                                     exports_ferry_plugin_prepared_transform_plugin_error_t *err) {
    ferry_transformer *inner = transformer_from(config, state, err);
    if (!inner) return false;
    if (prepared_transformer) ferry_transformer_free(prepared_transformer);
    prepared_transformer = inner;
    return true;
}

bool exports_ferry_plugin_prepared_transform_apply(exports_ferry_plugin_prepared_transform_batch_t *data,
                                                   exports_ferry_plugin_prepared_transform_batch_t *ret,
                                                   exports_ferry_plugin_prepared_transform_plugin_error_t *err) {
    if (!prepared_transformer) {
        ferry_error e = {.row = -1};
        ferry_plugin_types_batch_free(data);
        ferry_internal_error(&e, "called before `prepare` succeeded in this instance");
        error_out(&e, "ferry_transformer_apply", err);
        return false;
    }
    return apply_with(prepared_transformer, data, ret, err);
}
#endif
