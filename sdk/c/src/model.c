/* The model-plugin world (or, built with -DFERRY_PREPARED, prepared-model-plugin): the
 * bindings' exports, calling the plugin's ferry_model_* and ferry_predictor_* functions. */
#ifdef FERRY_PREPARED
#include "prepared_model_plugin.h"
#define W(name) prepared_model_plugin_##name
#else
#include "model_plugin.h"
#define W(name) model_plugin_##name
#endif
#include "convert.h"

struct exports_ferry_plugin_model_predictor_t {
    ferry_predictor *inner;
};

void exports_ferry_plugin_plugin_get_manifest(exports_ferry_plugin_plugin_manifest_t *ret) {
    manifest_out(FERRY_PLUGIN_TYPES_PLUGIN_KIND_MODEL, ret);
}

/* The model loaded from `artifact` and `config` (both freed), or NULL with `err` set. */
static ferry_predictor *predictor_from(W(list_u8_t) *artifact, W(string_t) *config,
                                       ferry_plugin_types_plugin_error_t *err) {
    char *text = str_in(config);
    ferry_error e = {.row = -1};
    ferry_predictor *inner = ferry_model_load(artifact->ptr, artifact->len, text, &e);
    free(text);
    W(string_free)(config);
    W(list_u8_free)(artifact);
    if (!inner) error_out(&e, "ferry_model_load", err);
    return inner;
}

/* Predicts `features` (freed) with `inner` into `ret`. */
static bool predict_with(ferry_predictor *inner, ferry_plugin_types_batch_t *features,
                         ferry_plugin_types_batch_t *ret, ferry_plugin_types_plugin_error_t *err) {
    ferry_batch batch = batch_in(features);
    ferry_batch_out out = {.num_rows = batch.num_rows};
    ferry_error e = {.row = -1};
    bool ok = ferry_predictor_predict(inner, &batch, &out, &e);
    batch_in_free(&batch, features);
    if (!ok) {
        ferry__batch_out_free(&out);
        error_out(&e, "ferry_predictor_predict", err);
        return false;
    }
    *ret = batch_out(&out);
    return true;
}

bool exports_ferry_plugin_model_load(W(list_u8_t) *artifact, W(string_t) *config,
                                     exports_ferry_plugin_model_own_predictor_t *ret,
                                     exports_ferry_plugin_model_plugin_error_t *err) {
    ferry_predictor *inner = predictor_from(artifact, config, err);
    if (!inner) return false;
    exports_ferry_plugin_model_predictor_t *rep = ferry__alloc(sizeof *rep);
    rep->inner = inner;
    *ret = exports_ferry_plugin_model_predictor_new(rep);
    return true;
}

void exports_ferry_plugin_model_method_predictor_describe(exports_ferry_plugin_model_borrow_predictor_t self,
                                                          exports_ferry_plugin_model_model_info_t *ret) {
    ferry_model_info info = {0};
    ferry_predictor_describe(self->inner, &info);
    *ret = (ferry_plugin_types_model_info_t){
        .task = (ferry_plugin_types_task_t)info.task,
        .inputs = schema_out_of(info.inputs.fields, info.inputs.len),
    };
    if (info.num_outputs) {
        ret->outputs.ptr = ferry__alloc(info.num_outputs * sizeof(ferry_plugin_types_model_output_t));
        ret->outputs.len = info.num_outputs;
    }
    for (size_t i = 0; i < info.num_outputs; i++)
        ret->outputs.ptr[i] = (ferry_plugin_types_model_output_t){
            .name = str_out(info.outputs[i].name),
            .description = str_out(info.outputs[i].description),
        };
}

bool exports_ferry_plugin_model_method_predictor_predict(exports_ferry_plugin_model_borrow_predictor_t self,
                                                         exports_ferry_plugin_model_batch_t *features,
                                                         exports_ferry_plugin_model_batch_t *ret,
                                                         exports_ferry_plugin_model_plugin_error_t *err) {
    return predict_with(self->inner, features, ret, err);
}

void exports_ferry_plugin_model_predictor_destructor(exports_ferry_plugin_model_predictor_t *rep) {
    ferry_predictor_free(rep->inner);
    free(rep);
}

bool exports_ferry_plugin_model_train(exports_ferry_plugin_model_batch_t *features,
                                      exports_ferry_plugin_model_column_t *labels,
                                      W(string_t) *config, W(list_u8_t) *ret,
                                      exports_ferry_plugin_model_plugin_error_t *err) {
    ferry_batch batch = batch_in(features);
    ferry_column label = column_in(labels);
    char *text = str_in(config);
    ferry_json_writer artifact = {0};
    ferry_error e = {.row = -1};
    bool ok = ferry_model_train(&batch, &label, text, &artifact, &e);
    if (ok && artifact.failed) ok = ferry_internal_error(&e, "out of memory writing the artifact");
    free(text);
    W(string_free)(config);
    free((char *)label.name);
    ferry_plugin_types_column_free(labels);
    batch_in_free(&batch, features);
    if (!ok) {
        free(artifact.text);
        error_out(&e, "ferry_model_train", err);
        return false;
    }
    *ret = bytes_out(&artifact);
    return true;
}

#ifdef FERRY_PREPARED
/* The model `prepare` loaded, kept in the instance the host snapshots (contract 0.1.1): every
 * call of an instance started from the snapshot finds it here. */
static ferry_predictor *prepared_predictor;

bool exports_ferry_plugin_prepared_model_prepare(W(list_u8_t) *artifact, W(string_t) *config,
                                                 exports_ferry_plugin_prepared_model_plugin_error_t *err) {
    ferry_predictor *inner = predictor_from(artifact, config, err);
    if (!inner) return false;
    if (prepared_predictor) ferry_predictor_free(prepared_predictor);
    prepared_predictor = inner;
    return true;
}

bool exports_ferry_plugin_prepared_model_predict(exports_ferry_plugin_prepared_model_batch_t *features,
                                                 exports_ferry_plugin_prepared_model_batch_t *ret,
                                                 exports_ferry_plugin_prepared_model_plugin_error_t *err) {
    if (!prepared_predictor) {
        ferry_error e = {.row = -1};
        ferry_plugin_types_batch_free(features);
        ferry_internal_error(&e, "called before `prepare` succeeded in this instance");
        error_out(&e, "ferry_predictor_predict", err);
        return false;
    }
    return predict_with(prepared_predictor, features, ret, err);
}
#endif
