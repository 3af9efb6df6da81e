/* A careless C transform: `apply` misbehaves as its configuration's `do` says. */
#include <stdlib.h>
#include <string.h>

#include "ferry.h"

const ferry_manifest ferry_plugin_manifest = {
    .name = "c-hostile",
    .version = "0.1.0",
    .description = "Misbehaves on request.",
    .limits = {.memory_mib = 64},
    .config_schema = "{\"type\":\"object\",\"properties\":{\"do\":{\"type\":\"string\"}}}",
};

static const char *const KEYS[] = {"do", NULL};

struct ferry_analyzer {
    char *what;
};

struct ferry_transformer {
    char *what;
};

ferry_analyzer *ferry_analyzer_new(const char *config, const ferry_schema *input,
                                   ferry_error *err) {
    (void)input;
    ferry_json *json = ferry_config_parse(config, KEYS, err);
    if (!json) return NULL;
    const char *what = ferry_json_string(ferry_json_get(json, "do"));
    ferry_analyzer *a = malloc(sizeof *a);
    a->what = strdup(what ? what : "nothing");
    ferry_json_free(json);
    return a;
}

bool ferry_analyzer_update(ferry_analyzer *a, const ferry_batch *batch, ferry_error *err) {
    (void)a, (void)batch, (void)err;
    return true;
}

bool ferry_analyzer_finish(ferry_analyzer *a, ferry_json_writer *state, ferry_error *err) {
    (void)err;
    ferry_write_bytes(state, a->what, strlen(a->what));
    return true;
}

void ferry_analyzer_free(ferry_analyzer *a) {
    free(a->what);
    free(a);
}

ferry_transformer *ferry_transformer_new(const char *config, const uint8_t *state, size_t len,
                                         ferry_error *err) {
    (void)config, (void)err;
    ferry_transformer *t = malloc(sizeof *t);
    t->what = strndup((const char *)state, len);
    return t;
}

/* Deep enough recursion runs the shadow stack, which lives in linear memory, off its end. */
static int recurse(volatile int *depth) {
    volatile char frame[4096];
    frame[0] = (char)*depth;
    if (++*depth > (1 << 30)) return 0;
    return recurse(depth) + frame[0];
}

bool ferry_transformer_apply(ferry_transformer *t, const ferry_batch *batch,
                             ferry_batch_out *out, ferry_error *err) {
    (void)err;
    if (strcmp(t->what, "out-of-bounds") == 0) {
        /* A write 1 GiB past a buffer: far beyond the instance's linear memory. */
        volatile double *values = ferry_out_float64(out, "x", NULL);
        values[(size_t)1 << 27] = 1.0;
    } else if (strcmp(t->what, "overrun") == 0) {
        /* A loop that never checks its bound, as an off-by-a-lot bug does. */
        volatile double *values = ferry_out_float64(out, "x", NULL);
        for (size_t i = 0;; i++) values[i] = 1.0;
    } else if (strcmp(t->what, "sentinel") == 0) {
        /* Computes nothing, but writes out of bounds on a batch holding the value 12345: a
         * served model that runs it must fail that request alone. */
        for (size_t c = 0; c < batch->num_columns; c++) {
            const ferry_column *column = &batch->columns[c];
            const double *values = column->type == FERRY_TEXT ? NULL : ferry_numbers(column, err);
            for (size_t row = 0; values && row < column->len; row++) {
                if (values[row] == 12345.0) {
                    volatile double *far = ferry_out_float64(out, "x", NULL);
                    far[(size_t)1 << 27] = 1.0;
                }
            }
        }
    } else if (strcmp(t->what, "abort") == 0) {
        abort();
    } else if (strcmp(t->what, "stack") == 0) {
        volatile int depth = 0;
        return recurse(&depth) == 0;
    } else if (strcmp(t->what, "loop") == 0) {
        for (volatile int spin = 0;; spin++) {
        }
    } else if (strcmp(t->what, "hog") == 0) {
        for (;;) {
            volatile char *block = malloc(16 << 20);
            if (!block) abort();
            block[0] = 1;
        }
    }
    (void)batch;
    return true;
}

void ferry_transformer_free(ferry_transformer *t) {
    free(t->what);
    free(t);
}

bool ferry_output_schema(const char *config, const ferry_schema *input, ferry_schema_out *out,
                         ferry_error *err) {
    (void)config, (void)input, (void)out, (void)err;
    return true;
}
