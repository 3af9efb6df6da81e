/* ferry.h: Ferry plugins in C.
 *
 * A plugin is a C file that defines `ferry_plugin_manifest` and the functions of its kind
 * (below); `ferry.mk` builds it with clang, wasi-libc and the bindings `wit-bindgen c`
 * generates into a component that the Ferry host runs like any other plugin.
 *
 * Conventions:
 * - Functions that can fail take a `ferry_error *` last and return false (or NULL) after
 *   filling it in with one of `ferry_config_error`, `ferry_input_error` or
 *   `ferry_internal_error`, which themselves return false so a failure reads
 *   `return ferry_input_error(err, "age", row, "%g is negative", v);`.
 * - Everything the host passes in (configuration, batches, schemas, state, artifacts) is owned
 *   by the SDK and lives until the function returns; copy what you keep.
 * - Strings are NUL-terminated UTF-8, except text values in columns, which are `ferry_str`.
 */
#ifndef FERRY_H
#define FERRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FERRY_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define FERRY_PRINTF(fmt, args)
#endif

/* ---- Errors ------------------------------------------------------------------------------ */

/** Which of the contract's errors a failure is. */
typedef enum ferry_error_kind {
    FERRY_ERROR_NONE = 0,
    /** The configuration was invalid; the message names the key. */
    FERRY_ERROR_CONFIG,
    /** The data was invalid; `column` and `row` say where. */
    FERRY_ERROR_INPUT,
    /** The plugin does not do this (a model that cannot train). */
    FERRY_ERROR_UNSUPPORTED,
    /** Anything else. */
    FERRY_ERROR_INTERNAL,
} ferry_error_kind;

/** A failure, filled in by the `ferry_*_error` functions. */
typedef struct ferry_error {
    ferry_error_kind kind;
    /** The column the failure is about, or NULL. */
    char *column;
    /** The row within the batch, or -1. */
    int64_t row;
    char *message;
} ferry_error;

/** Sets a configuration error; `fmt` should name the key. Returns false. */
bool ferry_config_error(ferry_error *err, const char *fmt, ...) FERRY_PRINTF(2, 3);
/** Sets an input error at `column` (or NULL) and `row` (or -1). Returns false. */
bool ferry_input_error(ferry_error *err, const char *column, int64_t row, const char *fmt, ...)
    FERRY_PRINTF(4, 5);
/** Sets an "unsupported" error. Returns false. */
bool ferry_unsupported_error(ferry_error *err, const char *fmt, ...) FERRY_PRINTF(2, 3);
/** Sets an internal error. Returns false. */
bool ferry_internal_error(ferry_error *err, const char *fmt, ...) FERRY_PRINTF(2, 3);

/* ---- Logging ----------------------------------------------------------------------------- */

typedef enum ferry_log_level {
    FERRY_LOG_TRACE,
    FERRY_LOG_DEBUG,
    FERRY_LOG_INFO,
    FERRY_LOG_WARN,
    FERRY_LOG_ERROR,
} ferry_log_level;

/** Writes a log line through the host, attributed to this plugin. */
void ferry_log(ferry_log_level level, const char *fmt, ...) FERRY_PRINTF(2, 3);

/* ---- The manifest ------------------------------------------------------------------------ */

/** Default resource limits; 0 leaves the host's default. */
typedef struct ferry_limits {
    uint32_t memory_mib;
    uint32_t timeout_ms;
} ferry_limits;

/** What the plugin says about itself. Define one, named `ferry_plugin_manifest`. Lists are
 * NULL-terminated arrays of strings; NULL means none. The kind comes from the world the plugin
 * is built for. */
typedef struct ferry_manifest {
    const char *name;
    /** A semantic version, e.g. "0.1.0". */
    const char *version;
    const char *description;
    const char *const *authors;
    const char *license;
    const char *repository;
    const char *const *keywords;
    ferry_limits limits;
    /** A JSON Schema of the configuration (JSON text). */
    const char *config_schema;
} ferry_manifest;

/** The plugin's manifest: every plugin defines it. */
extern const ferry_manifest ferry_plugin_manifest;

/* ---- Data -------------------------------------------------------------------------------- */

typedef enum ferry_type {
    FERRY_FLOAT64,
    FERRY_INT64,
    FERRY_BOOLEAN,
    FERRY_TEXT,
} ferry_type;

/** The type's name as errors write it: "float64", "int64", "boolean", "text". */
const char *ferry_type_name(ferry_type type);

/** A text value: UTF-8, not NUL-terminated. */
typedef struct ferry_str {
    const char *ptr;
    size_t len;
} ferry_str;

/** True when `s` holds exactly the NUL-terminated `text`. */
bool ferry_str_eq(ferry_str s, const char *text);

/** One field of a schema. */
typedef struct ferry_field {
    const char *name;
    ferry_type type;
    bool nullable;
} ferry_field;

/** An ordered list of fields. */
typedef struct ferry_schema {
    const ferry_field *fields;
    size_t len;
} ferry_schema;

/** The field called `name`, or NULL. */
const ferry_field *ferry_schema_field(const ferry_schema *schema, const char *name);

/** A column of a batch: `len` values of one type, and a null mask (NULL when nothing is null;
 * a null's slot holds 0, false or the empty string). */
typedef struct ferry_column {
    const char *name;
    ferry_type type;
    size_t len;
    union {
        const double *f64;
        const int64_t *i64;
        const bool *boolean;
        const ferry_str *text;
    } values;
    const bool *nulls;
} ferry_column;

/** Rows stored column by column. */
typedef struct ferry_batch {
    size_t num_rows;
    const ferry_column *columns;
    size_t num_columns;
} ferry_batch;

/** The batch's schema: each column's name and type, nullable where it has a null mask. It
 * lives as long as the batch. */
ferry_schema ferry_batch_schema(const ferry_batch *batch);

/** True when `row` of `column` is null. */
bool ferry_is_null(const ferry_column *column, size_t row);

/** The column called `name`, or NULL after an input error that lists the batch's columns. */
const ferry_column *ferry_column_named(const ferry_batch *batch, const char *name,
                                       ferry_error *err);

/** The values of a float64 column, or NULL after an input error naming the column. */
const double *ferry_float64s(const ferry_column *column, ferry_error *err);

/** The values of a float64, int64 or boolean column as doubles (1 and 0 for booleans), or NULL
 * after an input error naming a text column. Float64 columns are not copied; other types are
 * converted into memory that lives as long as the batch. */
const double *ferry_numbers(const ferry_column *column, ferry_error *err);

/** The batch a transform or a model returns, built column by column. */
typedef struct ferry_batch_out ferry_batch_out;

/** Adds a float64 column of the output's row count and returns its values to fill in. `nulls`
 * (or NULL) is copied as its null mask: pass an input column's to keep its nulls. Returns NULL
 * only when memory runs out. */
double *ferry_out_float64(ferry_batch_out *out, const char *name, const bool *nulls);
/** As `ferry_out_float64`, for an int64 column. */
int64_t *ferry_out_int64(ferry_batch_out *out, const char *name, const bool *nulls);
/** As `ferry_out_float64`, for a boolean column. */
bool *ferry_out_boolean(ferry_batch_out *out, const char *name, const bool *nulls);
/** Adds a text column; set each value with `ferry_out_set_text`. */
bool ferry_out_text(ferry_batch_out *out, const char *name, const bool *nulls);
/** Sets row `row` of the text column called `name` to a copy of `value`. */
bool ferry_out_set_text(ferry_batch_out *out, const char *name, size_t row, const char *value);
/** The output's row count. */
size_t ferry_out_rows(const ferry_batch_out *out);

/** The schema a transform writes, built field by field. */
typedef struct ferry_schema_out ferry_schema_out;

/** Adds a field. Returns false only when memory runs out. */
bool ferry_schema_add(ferry_schema_out *out, const char *name, ferry_type type, bool nullable);

/* ---- Configuration (JSON) ---------------------------------------------------------------- */

/** A parsed JSON value. */
typedef struct ferry_json ferry_json;

typedef enum ferry_json_type {
    FERRY_JSON_NULL,
    FERRY_JSON_BOOL,
    FERRY_JSON_NUMBER,
    FERRY_JSON_STRING,
    FERRY_JSON_ARRAY,
    FERRY_JSON_OBJECT,
} ferry_json_type;

/** Parses a plugin's configuration: a JSON object (empty text reads as `{}`) whose keys are all
 * in the NULL-terminated `keys`. Returns NULL after a configuration error that names an unknown
 * key, or says where the JSON is broken. Free it with `ferry_json_free`. */
ferry_json *ferry_config_parse(const char *text, const char *const *keys, ferry_error *err);
/** Parses any JSON text (a learned state, say); NULL after an error naming `what`. */
ferry_json *ferry_json_parse(const char *text, size_t len, const char *what, ferry_error *err);
void ferry_json_free(ferry_json *json);

ferry_json_type ferry_json_kind(const ferry_json *json);
/** The member `key` of an object, or NULL. */
const ferry_json *ferry_json_get(const ferry_json *object, const char *key);
/** The number of items of an array, or members of an object. */
size_t ferry_json_len(const ferry_json *json);
/** Item `i` of an array, or NULL. */
const ferry_json *ferry_json_at(const ferry_json *array, size_t i);
double ferry_json_number(const ferry_json *json);
bool ferry_json_bool(const ferry_json *json);
/** A string's text (NUL-terminated), or NULL for other types. */
const char *ferry_json_string(const ferry_json *json);

/** `key` of `config` as a boolean, `fallback` when absent; false after a configuration error
 * that names the key and the value found. */
bool ferry_config_bool(const ferry_json *config, const char *key, bool fallback, bool *out,
                       ferry_error *err);
/** `key` as a number; as `ferry_config_bool`. */
bool ferry_config_number(const ferry_json *config, const char *key, double fallback, double *out,
                         ferry_error *err);
/** `key` as an array of exactly `n` numbers into `out`; left as it is when absent. */
bool ferry_config_numbers(const ferry_json *config, const char *key, size_t n, double *out,
                          ferry_error *err);

/** A list of names, owned by the SDK until the plugin is done with it. */
typedef struct ferry_names {
    char **names;
    size_t len;
} ferry_names;

void ferry_names_free(ferry_names *names);

/** The numeric (float64, int64, boolean) columns named by the array of strings `key` of
 * `config`, or every numeric column of `input` when the key is absent. Errors name the key and
 * the column, in the Rust SDK's words: a missing column, a text column, a name given twice. */
bool ferry_numeric_columns(const ferry_json *config, const char *key, const ferry_schema *input,
                           ferry_names *out, ferry_error *err);

/* ---- Writing JSON (learned states, artifacts) -------------------------------------------- */

/** A growing JSON text. Numbers are written with 17 significant digits, so they read back
 * bit for bit. */
typedef struct ferry_json_writer {
    char *text;
    size_t len, cap;
    bool failed;
    bool comma;
} ferry_json_writer;

void ferry_write_begin_object(ferry_json_writer *w);
void ferry_write_end_object(ferry_json_writer *w);
void ferry_write_begin_array(ferry_json_writer *w);
void ferry_write_end_array(ferry_json_writer *w);
/** Writes an object's key; the value follows. */
void ferry_write_key(ferry_json_writer *w, const char *key);
void ferry_write_number(ferry_json_writer *w, double value);
void ferry_write_bool(ferry_json_writer *w, bool value);
void ferry_write_string(ferry_json_writer *w, const char *value);
/** Appends raw bytes (a binary state or artifact need not be JSON). */
void ferry_write_bytes(ferry_json_writer *w, const void *bytes, size_t len);

/* ---- Validators -------------------------------------------------------------------------- */

/** A validator's report: counts stay complete; at most 1,000 violations are listed. */
typedef struct ferry_report ferry_report;

/** Records a violation of `rule` on `column` (or NULL) at `row` (or -1). */
void ferry_report_add(ferry_report *report, const char *rule, const char *column, int64_t row,
                      const char *fmt, ...) FERRY_PRINTF(5, 6);

/* ---- The functions each kind defines ------------------------------------------------------
 *
 * Validator (world validator-plugin):
 *   bool ferry_validate(const char *config, const ferry_batch *batch, ferry_report *report,
 *                       ferry_error *err);
 *
 * Transform (world transform-plugin): define `struct ferry_analyzer` and
 * `struct ferry_transformer` as you need them, and
 *   ferry_analyzer *ferry_analyzer_new(const char *config, const ferry_schema *input,
 *                                      ferry_error *err);
 *   bool ferry_analyzer_update(ferry_analyzer *a, const ferry_batch *batch, ferry_error *err);
 *   bool ferry_analyzer_finish(ferry_analyzer *a, ferry_json_writer *state, ferry_error *err);
 *   void ferry_analyzer_free(ferry_analyzer *a);
 *   ferry_transformer *ferry_transformer_new(const char *config, const uint8_t *state,
 *                                            size_t len, ferry_error *err);
 *   bool ferry_transformer_apply(ferry_transformer *t, const ferry_batch *batch,
 *                                ferry_batch_out *out, ferry_error *err);
 *   void ferry_transformer_free(ferry_transformer *t);
 *   bool ferry_output_schema(const char *config, const ferry_schema *input,
 *                            ferry_schema_out *out, ferry_error *err);
 *
 * Model (world model-plugin): define `struct ferry_predictor`, and
 *   ferry_predictor *ferry_model_load(const uint8_t *artifact, size_t len, const char *config,
 *                                     ferry_error *err);
 *   void ferry_predictor_describe(ferry_predictor *p, ferry_model_info *info);
 *   bool ferry_predictor_predict(ferry_predictor *p, const ferry_batch *features,
 *                                ferry_batch_out *out, ferry_error *err);
 *   void ferry_predictor_free(ferry_predictor *p);
 *   bool ferry_model_train(const ferry_batch *features, const ferry_column *labels,
 *                          const char *config, ferry_json_writer *artifact, ferry_error *err);
 *     (answer `ferry_unsupported_error` when the model cannot train)
 */

typedef struct ferry_analyzer ferry_analyzer;
typedef struct ferry_transformer ferry_transformer;
typedef struct ferry_predictor ferry_predictor;

bool ferry_validate(const char *config, const ferry_batch *batch, ferry_report *report,
                    ferry_error *err);

ferry_analyzer *ferry_analyzer_new(const char *config, const ferry_schema *input,
                                   ferry_error *err);
bool ferry_analyzer_update(ferry_analyzer *a, const ferry_batch *batch, ferry_error *err);
bool ferry_analyzer_finish(ferry_analyzer *a, ferry_json_writer *state, ferry_error *err);
void ferry_analyzer_free(ferry_analyzer *a);
ferry_transformer *ferry_transformer_new(const char *config, const uint8_t *state, size_t len,
                                         ferry_error *err);
bool ferry_transformer_apply(ferry_transformer *t, const ferry_batch *batch,
                             ferry_batch_out *out, ferry_error *err);
void ferry_transformer_free(ferry_transformer *t);
bool ferry_output_schema(const char *config, const ferry_schema *input, ferry_schema_out *out,
                         ferry_error *err);

/** What a model does. */
typedef enum ferry_task {
    FERRY_BINARY_CLASSIFICATION,
    FERRY_MULTICLASS_CLASSIFICATION,
    FERRY_REGRESSION,
} ferry_task;

/** One output column of `predict`. */
typedef struct ferry_model_output {
    const char *name;
    const char *description;
} ferry_model_output;

/** A model's description of itself, filled in by `ferry_predictor_describe`. The SDK copies
 * what it points to. */
typedef struct ferry_model_info {
    ferry_task task;
    ferry_schema inputs;
    const ferry_model_output *outputs;
    size_t num_outputs;
} ferry_model_info;

ferry_predictor *ferry_model_load(const uint8_t *artifact, size_t len, const char *config,
                                  ferry_error *err);
void ferry_predictor_describe(ferry_predictor *p, ferry_model_info *info);
bool ferry_predictor_predict(ferry_predictor *p, const ferry_batch *features,
                             ferry_batch_out *out, ferry_error *err);
void ferry_predictor_free(ferry_predictor *p);
bool ferry_model_train(const ferry_batch *features, const ferry_column *labels,
                       const char *config, ferry_json_writer *artifact, ferry_error *err);

#ifdef __cplusplus
}
#endif

#endif
