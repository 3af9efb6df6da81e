/* JSON in (configuration, learned states) and out (states, artifacts), and the configuration
 * helpers built on it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Nesting deeper than this is refused, so a hostile configuration cannot exhaust the stack. */
enum { MAX_DEPTH = 64 };

struct ferry_json {
    ferry_json_type type;
    bool boolean;
    double number;
    /* A string's text (NUL-terminated, `len` bytes). */
    char *string;
    size_t len;
    /* An array's items or an object's values, with the object's keys. */
    ferry_json *items;
    char **keys;
    size_t count;
    /* The value as written, for error messages. */
    const char *src;
    size_t src_len;
};

typedef struct parser {
    const char *text;
    size_t len, pos;
    const char *what;
    ferry_error *err;
} parser;

static bool fail(parser *p, const char *problem) {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->text[i] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
    return ferry_config_error(p->err, "%s is not valid JSON: %s at line %zu column %zu", p->what,
                              problem, line, column);
}

static void skip_space(parser *p) {
    while (p->pos < p->len && (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' ||
                               p->text[p->pos] == '\n' || p->text[p->pos] == '\r'))
        p->pos++;
}

static bool literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
        return fail(p, "expected a value");
    p->pos += n;
    return true;
}

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex4(parser *p, unsigned *out) {
    if (p->len - p->pos < 4) return fail(p, "a \\u escape needs four hex digits");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex(p->text[p->pos + i]);
        if (d < 0) return fail(p, "a \\u escape needs four hex digits");
        v = v * 16 + (unsigned)d;
    }
    p->pos += 4;
    *out = v;
    return true;
}

static size_t utf8(unsigned cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads a string after its opening quote. Its text is at most as long as its source up to the
 * closing quote, which is found first, so each string takes only the memory it needs. */
static bool string(parser *p, char **out, size_t *out_len) {
    size_t end = p->pos;
    while (end < p->len && p->text[end] != '"') end += p->text[end] == '\\' ? 2 : 1;
    char *s = ferry__alloc((end < p->len ? end : p->len) - p->pos + 1);
    size_t n = 0;
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->text[p->pos++];
        if (c == '"') {
            s[n] = 0;
            *out = s;
            *out_len = n;
            return true;
        }
        if (c < 0x20) {
            free(s);
            p->pos--;
            return fail(p, "a control character in a string");
        }
        if (c != '\\') {
            s[n++] = (char)c;
            continue;
        }
        if (p->pos >= p->len) break;
        char e = p->text[p->pos++];
        unsigned cp;
        switch (e) {
        case '"': s[n++] = '"'; break;
        case '\\': s[n++] = '\\'; break;
        case '/': s[n++] = '/'; break;
        case 'b': s[n++] = '\b'; break;
        case 'f': s[n++] = '\f'; break;
        case 'n': s[n++] = '\n'; break;
        case 'r': s[n++] = '\r'; break;
        case 't': s[n++] = '\t'; break;
        case 'u':
            if (!hex4(p, &cp)) {
                free(s);
                return false;
            }
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned low;
                if (p->len - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u') {
                    free(s);
                    return fail(p, "a lone surrogate in a \\u escape");
                }
                p->pos += 2;
                if (!hex4(p, &low)) {
                    free(s);
                    return false;
                }
                if (low < 0xDC00 || low >= 0xE000) {
                    free(s);
                    return fail(p, "a lone surrogate in a \\u escape");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                free(s);
                return fail(p, "a lone surrogate in a \\u escape");
            }
            n += utf8(cp, s + n);
            break;
        default:
            free(s);
            p->pos--;
            return fail(p, "an invalid escape");
        }
    }
    free(s);
    return fail(p, "an unterminated string");
}

static bool number(parser *p, double *out) {
    size_t start = p->pos;
    if (p->pos < p->len && p->text[p->pos] == '-') p->pos++;
    if (p->pos >= p->len || p->text[p->pos] < '0' || p->text[p->pos] > '9')
        return fail(p, "expected a value");
    if (p->text[p->pos] == '0') {
        p->pos++;
    } else {
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->len && p->text[p->pos] == '.') {
        p->pos++;
        size_t digits = p->pos;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
        if (p->pos == digits) return fail(p, "a number needs digits after its decimal point");
    }
    if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-')) p->pos++;
        size_t digits = p->pos;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9') p->pos++;
        if (p->pos == digits) return fail(p, "a number needs digits in its exponent");
    }
    char *copy = ferry__strndup(p->text + start, p->pos - start);
    *out = strtod(copy, NULL);
    free(copy);
    return true;
}

static void free_value(ferry_json *v) {
    free(v->string);
    for (size_t i = 0; i < v->count; i++) {
        free_value(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

static bool value(parser *p, ferry_json *v, int depth) {
    *v = (ferry_json){0};
    skip_space(p);
    if (p->pos >= p->len) return fail(p, "expected a value");
    size_t start = p->pos;
    char c = p->text[p->pos];
    bool ok = true;
    size_t cap = 0, key_cap = 0;
    if (depth > MAX_DEPTH && (c == '[' || c == '{')) return fail(p, "nesting too deep");
    switch (c) {
    case 'n': v->type = FERRY_JSON_NULL; ok = literal(p, "null"); break;
    case 't': v->type = FERRY_JSON_BOOL; v->boolean = true; ok = literal(p, "true"); break;
    case 'f': v->type = FERRY_JSON_BOOL; ok = literal(p, "false"); break;
    case '"':
        v->type = FERRY_JSON_STRING;
        p->pos++;
        ok = string(p, &v->string, &v->len);
        break;
    case '[':
        v->type = FERRY_JSON_ARRAY;
        p->pos++;
        skip_space(p);
        if (p->pos < p->len && p->text[p->pos] == ']') {
            p->pos++;
            break;
        }
        for (;;) {
            ferry__reserve((void **)&v->items, &cap, v->count, sizeof(ferry_json));
            if (!(ok = value(p, &v->items[v->count], depth + 1))) break;
            v->count++;
            skip_space(p);
            if (p->pos < p->len && p->text[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->text[p->pos] == ']') {
                p->pos++;
                break;
            }
            ok = fail(p, "expected `,` or `]`");
            break;
        }
        break;
    case '{':
        v->type = FERRY_JSON_OBJECT;
        p->pos++;
        skip_space(p);
        if (p->pos < p->len && p->text[p->pos] == '}') {
            p->pos++;
            break;
        }
        for (;;) {
            skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != '"') {
                ok = fail(p, "expected a key in double quotes");
                break;
            }
            p->pos++;
            ferry__reserve((void **)&v->items, &cap, v->count, sizeof(ferry_json));
            ferry__reserve((void **)&v->keys, &key_cap, v->count, sizeof(char *));
            char *key;
            size_t key_len;
            if (!(ok = string(p, &key, &key_len))) break;
            for (size_t i = 0; i < v->count; i++) {
                if (strcmp(v->keys[i], key) == 0) {
                    ok = ferry_config_error(p->err, "%s has the key `%s` twice", p->what, key);
                    break;
                }
            }
            if (!ok) {
                free(key);
                break;
            }
            skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != ':') {
                free(key);
                ok = fail(p, "expected `:`");
                break;
            }
            p->pos++;
            if (!(ok = value(p, &v->items[v->count], depth + 1))) {
                free(key);
                break;
            }
            v->keys[v->count++] = key;
            skip_space(p);
            if (p->pos < p->len && p->text[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->text[p->pos] == '}') {
                p->pos++;
                break;
            }
            ok = fail(p, "expected `,` or `}`");
            break;
        }
        break;
    default:
        v->type = FERRY_JSON_NUMBER;
        ok = number(p, &v->number);
    }
    if (!ok) {
        free_value(v);
        *v = (ferry_json){0};
        return false;
    }
    v->src = p->text + start;
    v->src_len = p->pos - start;
    return true;
}

ferry_json *ferry_json_parse(const char *text, size_t len, const char *what, ferry_error *err) {
    parser p = {.text = text, .len = len, .what = what, .err = err};
    ferry_json *root = ferry__alloc(sizeof(ferry_json));
    if (!value(&p, root, 0)) {
        free(root);
        return NULL;
    }
    skip_space(&p);
    if (p.pos != p.len) {
        fail(&p, "trailing characters");
        ferry_json_free(root);
        return NULL;
    }
    return root;
}

void ferry_json_free(ferry_json *json) {
    if (!json) return;
    free_value(json);
    free(json);
}

ferry_json *ferry_config_parse(const char *text, const char *const *keys, ferry_error *err) {
    size_t len = strlen(text);
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    ferry_json *config = ferry_json_parse(i == len ? "{}" : text, i == len ? 2 : len,
                                          "the configuration", err);
    if (!config) return NULL;
    if (config->type != FERRY_JSON_OBJECT) {
        ferry_config_error(err, "the configuration must be a JSON object, not %.*s",
                           (int)config->src_len, config->src);
        ferry_json_free(config);
        return NULL;
    }
    for (size_t k = 0; k < config->count; k++) {
        bool known = false;
        for (size_t j = 0; keys && keys[j]; j++) known |= strcmp(keys[j], config->keys[k]) == 0;
        if (known) continue;
        size_t n = 0;
        while (keys && keys[n]) n++;
        if (n == 0) {
            ferry_config_error(err, "unknown key `%s` (this plugin takes no configuration)",
                               config->keys[k]);
        } else {
            char *expected = ferry__join(keys, n, sizeof(char *));
            ferry_config_error(err, "unknown key `%s` (expected one of: %s)", config->keys[k],
                               expected);
            free(expected);
        }
        ferry_json_free(config);
        return NULL;
    }
    return config;
}

ferry_json_type ferry_json_kind(const ferry_json *json) { return json->type; }

const ferry_json *ferry_json_get(const ferry_json *object, const char *key) {
    if (!object || object->type != FERRY_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return &object->items[i];
    return NULL;
}

size_t ferry_json_len(const ferry_json *json) {
    return json->type == FERRY_JSON_ARRAY || json->type == FERRY_JSON_OBJECT ? json->count : 0;
}

const ferry_json *ferry_json_at(const ferry_json *array, size_t i) {
    return array->type == FERRY_JSON_ARRAY && i < array->count ? &array->items[i] : NULL;
}

double ferry_json_number(const ferry_json *json) {
    return json->type == FERRY_JSON_NUMBER ? json->number : NAN;
}

bool ferry_json_bool(const ferry_json *json) {
    return json->type == FERRY_JSON_BOOL && json->boolean;
}

const char *ferry_json_string(const ferry_json *json) {
    return json->type == FERRY_JSON_STRING ? json->string : NULL;
}

static bool wrong(const ferry_json *value, const char *key, const char *wanted,
                  ferry_error *err) {
    return ferry_config_error(err, "`%s` must be %s, not %.*s", key, wanted, (int)value->src_len,
                              value->src);
}

bool ferry_config_bool(const ferry_json *config, const char *key, bool fallback, bool *out,
                       ferry_error *err) {
    const ferry_json *v = ferry_json_get(config, key);
    if (!v || v->type == FERRY_JSON_NULL) {
        *out = fallback;
        return true;
    }
    if (v->type != FERRY_JSON_BOOL) return wrong(v, key, "a boolean", err);
    *out = v->boolean;
    return true;
}

bool ferry_config_number(const ferry_json *config, const char *key, double fallback, double *out,
                         ferry_error *err) {
    const ferry_json *v = ferry_json_get(config, key);
    if (!v || v->type == FERRY_JSON_NULL) {
        *out = fallback;
        return true;
    }
    if (v->type != FERRY_JSON_NUMBER) return wrong(v, key, "a number", err);
    *out = v->number;
    return true;
}

bool ferry_config_numbers(const ferry_json *config, const char *key, size_t n, double *out,
                          ferry_error *err) {
    const ferry_json *v = ferry_json_get(config, key);
    if (!v || v->type == FERRY_JSON_NULL) return true;
    char wanted[64];
    snprintf(wanted, sizeof wanted, "an array of %zu numbers", n);
    if (v->type != FERRY_JSON_ARRAY || v->count != n) return wrong(v, key, wanted, err);
    for (size_t i = 0; i < n; i++)
        if (v->items[i].type != FERRY_JSON_NUMBER) return wrong(v, key, wanted, err);
    for (size_t i = 0; i < n; i++) out[i] = v->items[i].number;
    return true;
}

void ferry_names_free(ferry_names *names) {
    for (size_t i = 0; i < names->len; i++) free(names->names[i]);
    free(names->names);
    *names = (ferry_names){0};
}

static void push_name(ferry_names *out, size_t *cap, const char *name) {
    ferry__reserve((void **)&out->names, cap, out->len, sizeof(char *));
    out->names[out->len++] = ferry__strndup(name, strlen(name));
}

bool ferry_numeric_columns(const ferry_json *config, const char *key, const ferry_schema *input,
                           ferry_names *out, ferry_error *err) {
    *out = (ferry_names){0};
    size_t cap = 0;
    const ferry_json *requested = ferry_json_get(config, key);
    if (!requested || requested->type == FERRY_JSON_NULL) {
        for (size_t i = 0; i < input->len; i++)
            if (input->fields[i].type != FERRY_TEXT) push_name(out, &cap, input->fields[i].name);
        return true;
    }
    bool strings = requested->type == FERRY_JSON_ARRAY;
    for (size_t i = 0; strings && i < requested->count; i++)
        strings = requested->items[i].type == FERRY_JSON_STRING;
    if (!strings) return wrong(requested, key, "an array of column names", err);
    for (size_t i = 0; i < requested->count; i++) {
        const char *name = requested->items[i].string;
        const ferry_field *field = ferry_schema_field(input, name);
        if (!field) {
            char *have = input->len
                             ? ferry__join(&input->fields[0].name, input->len, sizeof(ferry_field))
                             : ferry__join(NULL, 0, 0);
            ferry_config_error(err, "`%s` names `%s`, which the data does not have (it has [%s])",
                               key, name, have);
            free(have);
            ferry_names_free(out);
            return false;
        }
        if (field->type == FERRY_TEXT) {
            ferry_names_free(out);
            return ferry_config_error(err, "`%s` names `%s`, a text column; this plugin needs numbers",
                                      key, name);
        }
        for (size_t j = 0; j < out->len; j++) {
            if (strcmp(out->names[j], name) == 0) {
                ferry_names_free(out);
                return ferry_config_error(err, "`%s` names `%s` twice", key, name);
            }
        }
        push_name(out, &cap, name);
    }
    return true;
}

static void put(ferry_json_writer *w, const char *text, size_t n) {
    if (w->failed) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 64;
        while (w->len + n + 1 > cap) cap *= 2;
        char *grown = realloc(w->text, cap);
        if (!grown) {
            w->failed = true;
            return;
        }
        w->text = grown;
        w->cap = cap;
    }
    memcpy(w->text + w->len, text, n);
    w->len += n;
    w->text[w->len] = 0;
}

static void separate(ferry_json_writer *w) {
    if (w->comma) put(w, ",", 1);
    w->comma = true;
}

void ferry_write_begin_object(ferry_json_writer *w) {
    separate(w);
    put(w, "{", 1);
    w->comma = false;
}

void ferry_write_end_object(ferry_json_writer *w) {
    put(w, "}", 1);
    w->comma = true;
}

void ferry_write_begin_array(ferry_json_writer *w) {
    separate(w);
    put(w, "[", 1);
    w->comma = false;
}

void ferry_write_end_array(ferry_json_writer *w) {
    put(w, "]", 1);
    w->comma = true;
}

void ferry_write_key(ferry_json_writer *w, const char *key) {
    ferry_write_string(w, key);
    put(w, ":", 1);
    w->comma = false;
}

void ferry_write_number(ferry_json_writer *w, double value) {
    separate(w);
    if (!isfinite(value)) {
        put(w, "null", 4);
        return;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%.17g", value);
    put(w, buf, (size_t)n);
}

void ferry_write_bool(ferry_json_writer *w, bool value) {
    separate(w);
    put(w, value ? "true" : "false", value ? 4 : 5);
}

void ferry_write_string(ferry_json_writer *w, const char *value) {
    separate(w);
    put(w, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                put(w, esc, 6);
            } else {
                put(w, (const char *)c, 1);
            }
        }
    }
    put(w, "\"", 1);
}

void ferry_write_bytes(ferry_json_writer *w, const void *bytes, size_t len) {
    put(w, bytes, len);
}
