// Ferry plugins in JavaScript, built into WebAssembly components with ComponentizeJS
// (`build.mjs` puts this file beside the plugin's source). See README.md.

import { log as hostLog } from "ferry:plugin/host@0.1.1";

/** The base of the errors below; each becomes the matching `plugin-error` of the contract. */
export class PluginError extends Error {}

/** The configuration is invalid; the message should name the key. */
export class ConfigError extends PluginError {}

/** The data is invalid: name the column and, where it applies, the row. */
export class InputError extends PluginError {
  constructor(message, { column, row } = {}) {
    super(message);
    this.column = column;
    this.row = row;
  }
}

/** The plugin does not support this operation. */
export class Unsupported extends PluginError {}

/** Writes a structured line to the host's log, attributed to the plugin. */
export const log = Object.fromEntries(
  ["trace", "debug", "info", "warn", "error"].map((level) => [
    level,
    (message, fields = {}) =>
      hostLog(level, String(message), Object.entries(fields).map(([k, v]) => [k, String(v)])),
  ]),
);

/** A named column: `values` is a typed array (float64, int64 as BigInt64Array) or an array
 * (boolean, text); `nulls` is undefined or one flag per row. */
export class Column {
  constructor(name, type, values, nulls) {
    this.name = name;
    this.type = type;
    this.values = values;
    this.nulls = nulls && nulls.some((n) => n) ? nulls : undefined;
  }

  static float64(name, values, nulls) {
    return new Column(name, "float64", Float64Array.from(values), nulls);
  }

  static int64(name, values, nulls) {
    return new Column(name, "int64", BigInt64Array.from(values, (v) => BigInt(v)), nulls);
  }

  static boolean(name, values, nulls) {
    return new Column(name, "boolean", Array.from(values, Boolean), nulls);
  }

  static text(name, values, nulls) {
    return new Column(name, "text", Array.from(values, String), nulls);
  }

  get length() {
    return this.values.length;
  }

  /** True when the value in `row` is null. */
  isNull(row) {
    return this.nulls !== undefined && this.nulls[row];
  }

  /** How many values are null. */
  nullCount() {
    return this.nulls === undefined ? 0 : this.nulls.filter((n) => n).length;
  }

  /** The values as a Float64Array (int64 and boolean converted); an InputError for text. */
  numeric() {
    switch (this.type) {
      case "float64":
        return this.values;
      case "int64":
        return Float64Array.from(this.values, Number);
      case "boolean":
        return Float64Array.from(this.values, (b) => (b ? 1 : 0));
      default:
        throw new InputError(`expected a numeric column, found ${this.type}`, { column: this.name });
    }
  }

  /** The values, which must be of `type`; an InputError naming the column otherwise. */
  expect(type) {
    if (this.type !== type) {
      throw new InputError(`expected a ${type} column, found ${this.type}`, { column: this.name });
    }
    return this.values;
  }

  /** The value at `row` as text (undefined for a null), whatever the column's type. */
  valueString(row) {
    if (this.isNull(row)) return undefined;
    const v = this.values[row];
    return this.type === "float64" ? formatNumber(v) : String(v);
  }

  /** This column's schema field. */
  get field() {
    return { name: this.name, dataType: this.type, nullable: this.nulls !== undefined };
  }
}

/** Rows stored column by column. */
export class Batch {
  constructor(numRows, columns) {
    for (const c of columns) {
      if (c.length !== numRows) {
        throw new PluginError(`column \`${c.name}\` has ${c.length} values in a batch of ${numRows} rows`);
      }
    }
    this.numRows = numRows;
    this.columns = columns;
    this.index = new Map(columns.map((c) => [c.name, c]));
  }

  get length() {
    return this.numRows;
  }

  /** The column `name`; an InputError that lists the batch's columns otherwise. */
  column(name) {
    const c = this.index.get(name);
    if (c === undefined) {
      const have = this.columns.map((c) => c.name).join(", ");
      throw new InputError(`no such column (the batch has [${have}])`, { column: name });
    }
    return c;
  }

  /** The column `name`, or undefined. */
  get(name) {
    return this.index.get(name);
  }

  get schema() {
    return this.columns.map((c) => c.field);
  }
}

/** A number as Rust's `Display` writes an f64 (no exponent), so messages match the Rust SDK's. */
export function formatNumber(v) {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Object.is(v, -0)) return "-0";
  const s = String(v);
  const e = s.indexOf("e");
  if (e < 0) return s;
  const [mantissa, exponent] = [s.slice(0, e), Number(s.slice(e + 1))];
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const point = mantissa.replace("-", "").indexOf(".");
  const intDigits = (point < 0 ? digits.length : point) + exponent;
  let out;
  if (intDigits <= 0) out = "0." + "0".repeat(-intDigits) + digits;
  else if (intDigits >= digits.length) out = digits + "0".repeat(intDigits - digits.length);
  else out = digits.slice(0, intDigits) + "." + digits.slice(intDigits);
  return (negative ? "-" : "") + out;
}

/** A string quoted as Rust's `{:?}` writes it, so messages match the Rust SDK's. */
export function quote(s) {
  const escaped = Array.from(s, (ch) => {
    const c = ch.codePointAt(0);
    if (ch === "\\") return "\\\\";
    if (ch === '"') return '\\"';
    if (ch === "\n") return "\\n";
    if (ch === "\r") return "\\r";
    if (ch === "\t") return "\\t";
    if (c === 0) return "\\0";
    if (c < 0x20 || c === 0x7f) return `\\u{${c.toString(16)}}`;
    return ch;
  }).join("");
  return `"${escaped}"`;
}

/** What a validator found in one batch: every count, and at most `maxListed` violations. */
export class Report {
  constructor(rowsChecked, maxListed = 100) {
    this.rowsChecked = rowsChecked;
    this.maxListed = maxListed;
    this.violations = [];
    this.counts = new Map();
    this.truncated = false;
  }

  /** Records one violation of `rule`, on `column`, at `row` where it applies. */
  add(rule, message, { column, row } = {}) {
    const key = JSON.stringify([rule, column ?? null]);
    const count = this.counts.get(key);
    if (count) count.count += 1n;
    else this.counts.set(key, { rule, column, count: 1n });
    if (this.violations.length < this.maxListed) this.violations.push({ rule, column, row, message });
    else this.truncated = true;
  }
}

/** The configuration as an object ({} for empty text); with `keys`, another key is refused. */
export function parseConfig(text, keys) {
  if (!text.trim()) return {};
  let config;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`the configuration is not valid JSON: ${e.message}`);
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigError("the configuration must be a JSON object");
  }
  if (keys) {
    for (const key of Object.keys(config)) {
      if (!keys.includes(key)) throw new ConfigError(`unknown key \`${key}\` (expected one of: ${keys.join(", ")})`);
    }
  }
  return config;
}

/** The numeric columns named by `config[key]`, or every numeric column of `schema` when it is
 * absent; errors name the key and the column, as the Rust and Python SDKs word them. */
export function numericColumns(config, schema, key = "columns") {
  const requested = config[key];
  if (requested === undefined) return schema.filter((f) => f.dataType !== "text").map((f) => f.name);
  if (!Array.isArray(requested) || !requested.every((n) => typeof n === "string")) {
    throw new ConfigError(`\`${key}\` must be a list of column names`);
  }
  const out = [];
  for (const name of requested) {
    const field = schema.find((f) => f.name === name);
    if (!field) {
      const have = schema.map((f) => f.name).join(", ");
      throw new ConfigError(`\`${key}\` names \`${name}\`, which the data does not have (it has [${have}])`);
    }
    if (field.dataType === "text") {
      throw new ConfigError(`\`${key}\` names \`${name}\`, a text column; this plugin needs numbers`);
    }
    if (out.includes(name)) throw new ConfigError(`\`${key}\` names \`${name}\` twice`);
    out.push(name);
  }
  return out;
}

function schemaKeys(schema) {
  const parsed = typeof schema === "string" ? JSON.parse(schema || "{}") : schema;
  return parsed && parsed.additionalProperties === false ? Object.keys(parsed.properties ?? {}) : undefined;
}

function errorOut(e) {
  if (e instanceof ConfigError) return { tag: "config", val: e.message };
  if (e instanceof InputError) return { tag: "input", val: { column: e.column, row: e.row, message: e.message } };
  if (e instanceof Unsupported) return { tag: "unsupported", val: e.message };
  if (e instanceof Error) {
    const where = (e.stack ?? "").split("\n").find((l) => l.includes(".js:"));
    return { tag: "internal", val: `${e.name}: ${e.message}${where ? ` (at ${where.trim().replace(/^at /, "")})` : ""}` };
  }
  let shown;
  try {
    shown = JSON.stringify(e) ?? String(e);
  } catch {
    shown = String(e);
  }
  return { tag: "internal", val: `threw a non-error value: ${shown}` };
}

function guard(f) {
  try {
    return f();
  } catch (e) {
    throw errorOut(e);
  }
}

function guarded(f) {
  return (...args) => guard(() => f(...args));
}

function columnIn(c) {
  return new Column(c.name, c.data.tag, c.data.val, c.nulls);
}

function batchIn(b) {
  return new Batch(b.numRows, b.columns.map(columnIn));
}

function batchOut(b) {
  const batch = Array.isArray(b) ? new Batch(b.length ? b[0].length : 0, b) : b;
  if (!(batch instanceof Batch)) throw new PluginError("expected a Batch or an array of Columns");
  return {
    numRows: batch.numRows,
    columns: batch.columns.map((c) => ({ name: c.name, data: { tag: c.type, val: c.values }, nulls: c.nulls })),
  };
}

function manifestOut(m, kind) {
  return {
    name: m.name,
    version: m.version,
    kind,
    description: m.description ?? "",
    authors: m.authors ?? [],
    license: m.license,
    repository: m.repository,
    keywords: m.keywords ?? [],
    capabilities: {
      directories: (m.directories ?? []).map((d) => ({ guestPath: d.guestPath, writable: !!d.writable, purpose: d.purpose ?? "" })),
      httpHosts: m.httpHosts ?? [],
      env: m.env ?? [],
    },
    limits: { memoryMib: m.memoryMib, timeoutMs: m.timeoutMs },
    configSchema: typeof m.configSchema === "string" ? m.configSchema : JSON.stringify(m.configSchema ?? {}),
  };
}

/** What `prepare` built, kept in the instance for the calls after it (contract 0.1.1): the
 * host snapshots the instance once `prepare` returns, so every instance started from the
 * snapshot finds it here. */
class Kept {
  set(value) {
    this.value = value;
    this.ready = true;
  }
  get() {
    if (!this.ready) throw new PluginError("called before `prepare` succeeded in this instance");
    return this.value;
  }
}

/** The exports of a validator: `export const { plugin, validator, preparedValidator } =
 * validatorPlugin(...)`, where `validate(config, batch)` returns a Report. `preparedValidator`
 * is for the `prepared-validator-plugin` world (the configuration parsed once, every call
 * started from a snapshot); a `validator-plugin` build leaves it out. */
export function validatorPlugin(manifest, validate) {
  const keys = schemaKeys(manifest.configSchema);
  const wit = manifestOut(manifest, "validator");
  const checked = (config, data) => {
    const report = validate(config, batchIn(data));
    if (!(report instanceof Report)) throw new PluginError("validate must return a Report");
    return {
      rowsChecked: report.rowsChecked,
      violations: report.violations,
      counts: [...report.counts.values()],
      truncated: report.truncated,
    };
  };
  const kept = new Kept();
  return {
    plugin: { getManifest: () => wit },
    validator: {
      validate: guarded((config, data) => checked(parseConfig(config, keys), data)),
    },
    preparedValidator: {
      prepare: guarded((config) => kept.set(parseConfig(config, keys))),
      validate: guarded((data) => checked(kept.get(), data)),
    },
  };
}

/** The exports of a transform: `export const { plugin, transform, preparedTransform } =
 * transformPlugin(...)`. `Analyzer(config, schema)` has `update(batch)` and `finish()` (a
 * JSON-able state, or a Uint8Array); `Transformer(config, state)` has `apply(batch)` (a Batch
 * or Columns). `preparedTransform` is for the `prepared-transform-plugin` world. */
export function transformPlugin(manifest, { Analyzer, Transformer, outputSchema }) {
  const keys = schemaKeys(manifest.configSchema);
  const wit = manifestOut(manifest, "transform");
  // The bindings call resource methods through the class's prototype, so these are methods,
  // not fields.
  class AnalyzerResource {
    constructor(inner) {
      this.inner = inner;
    }
    update(data) {
      return guard(() => this.inner.update(batchIn(data)));
    }
    finish() {
      return guard(() => {
        const state = this.inner.finish();
        return state instanceof Uint8Array ? state : new TextEncoder().encode(JSON.stringify(state));
      });
    }
  }
  class TransformerResource {
    constructor(inner) {
      this.inner = inner;
    }
    apply(data) {
      return guard(() => batchOut(this.inner.apply(batchIn(data))));
    }
  }
  const built = (config, state) => {
    let decoded;
    try {
      decoded = JSON.parse(new TextDecoder().decode(state));
    } catch (e) {
      throw new ConfigError(`the state is not a valid ${manifest.name} state: ${e.message}`);
    }
    return new Transformer(parseConfig(config, keys), decoded);
  };
  const kept = new Kept();
  return {
    plugin: { getManifest: () => wit },
    transform: {
      Analyzer: AnalyzerResource,
      Transformer: TransformerResource,
      newAnalyzer: guarded((config, input) => new AnalyzerResource(new Analyzer(parseConfig(config, keys), input))),
      newTransformer: guarded((config, state) => new TransformerResource(built(config, state))),
      outputSchema: guarded((config, input) => outputSchema(parseConfig(config, keys), input)),
    },
    preparedTransform: {
      prepare: guarded((config, state) => kept.set(built(config, state))),
      apply: guarded((data) => batchOut(kept.get().apply(batchIn(data)))),
    },
  };
}

function modelInfoOut(info) {
  const tasks = ["binary-classification", "multiclass-classification", "regression"];
  if (!info || !tasks.includes(info.task) || !Array.isArray(info.inputs) || !Array.isArray(info.outputs)) {
    throw new PluginError(`describe must return { task: one of ${tasks.join(", ")}, inputs: [fields], outputs: [{ name, description }] }`);
  }
  return {
    task: info.task,
    inputs: info.inputs.map((f) => ({ name: f.name, dataType: f.dataType, nullable: !!f.nullable })),
    outputs: info.outputs.map((o) => ({ name: o.name, description: o.description ?? "" })),
  };
}

/** The exports of a model adapter: `export const { plugin, model, preparedModel } =
 * modelPlugin(...)` (`preparedModel` for the `prepared-model-plugin` world).
 * `load(artifact, config)` returns an object with `describe()` ({ task, inputs, outputs }) and
 * `predict(features)` (a Batch or Columns); `train(features, labels, config)`, when given,
 * returns the artifact (a Uint8Array, or anything JSON-able). Without it, training answers
 * `unsupported`. */
export function modelPlugin(manifest, { load, train }) {
  const keys = schemaKeys(manifest.configSchema);
  const wit = manifestOut(manifest, "model");
  const kept = new Kept();
  class PredictorResource {
    constructor(inner) {
      this.inner = inner;
    }
    // `describe` has no error in the contract: a throw here traps, and the host reports it.
    describe() {
      return modelInfoOut(this.inner.describe());
    }
    predict(features) {
      return guard(() => batchOut(this.inner.predict(batchIn(features))));
    }
  }
  return {
    plugin: { getManifest: () => wit },
    model: {
      Predictor: PredictorResource,
      load: guarded((artifact, config) => new PredictorResource(load(artifact, parseConfig(config, keys)))),
      train: guarded((features, labels, config) => {
        if (!train) throw new Unsupported(`${manifest.name} loads models trained elsewhere; it cannot train`);
        const out = train(batchIn(features), columnIn(labels), parseConfig(config, keys));
        return out instanceof Uint8Array ? out : new TextEncoder().encode(JSON.stringify(out));
      }),
    },
    preparedModel: {
      prepare: guarded((artifact, config) => kept.set(load(artifact, parseConfig(config, keys)))),
      predict: guarded((features) => batchOut(kept.get().predict(batchIn(features)))),
    },
  };
}
