// as-log-transform: Ferry's built-in log-transform as an Extism plugin in AssemblyScript.
// log(x + offset) in base e, 2 or 10 over the chosen numeric columns; it learns nothing, and
// its state records its configuration so training and serving agree.

import { Host, LogLevel } from "@extism/as-pdk";
import { JSON } from "assemblyscript-json/assembly";
import {
  Column, Field, PluginError, base64, call, columns, fail, fields, float, jsonError, ok, quote,
  unbase64,
} from "./wire";

/** Stops the plugin: the host reports a trap. */
export function abort(message: string | null, file: string | null, line: u32, column: u32): void {
  unreachable();
}

class Settings {
  columns: string[] = [];
  offset: f64 = 1.0;
  base: string = "e";

  toJson(): string {
    const names: string[] = [];
    for (let i = 0; i < this.columns.length; i++) names.push(quote(this.columns[i]));
    return `{"columns":[${names.join(",")}],"offset":${float(this.offset)},"base":${quote(this.base)}}`;
  }
}

let error: PluginError | null = null;

/** Reads the configuration and chooses the columns, or sets `error`. */
function configure(config: string, input: Field[]): Settings | null {
  const s = new Settings();
  const text = config.length == 0 ? "{}" : config;
  const why = jsonError(text);
  if (why !== null) {
    error = PluginError.config(`the configuration is not JSON: ${why}`);
    return null;
  }
  const parsed = JSON.parse(text);
  if (!parsed.isObj) {
    error = PluginError.config("the configuration must be a JSON object");
    return null;
  }
  const obj = <JSON.Obj>parsed;
  const keys = obj.keys;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k != "columns" && k != "offset" && k != "base") {
      error = PluginError.config(`unknown field \`${k}\`, expected one of \`columns\`, \`offset\`, \`base\``);
      return null;
    }
  }
  const offset = obj.getValue("offset");
  if (offset !== null) {
    if (!offset.isFloat && !offset.isInteger) {
      error = PluginError.config("`offset` must be a number");
      return null;
    }
    s.offset = offset.isFloat ? (<JSON.Float>offset).valueOf() : <f64>(<JSON.Integer>offset).valueOf();
  }
  if (!isFinite(s.offset)) {
    error = PluginError.config("`offset` must be a finite number");
    return null;
  }
  const baseValue = obj.getValue("base");
  if (baseValue !== null && !baseValue.isString) {
    error = PluginError.config("`base` must be \"e\", \"2\" or \"10\"");
    return null;
  }
  const base = obj.getString("base");
  if (base !== null) {
    s.base = base.valueOf();
    if (s.base != "e" && s.base != "2" && s.base != "10") {
      error = PluginError.config(`\`base\` must be "e", "2" or "10", not ${quote(s.base)}`);
      return null;
    }
  }
  const columnsValue = obj.getValue("columns");
  if (columnsValue !== null && !columnsValue.isArr) {
    error = PluginError.config("`columns` must be an array of column names");
    return null;
  }
  const requested = obj.getArr("columns");
  if (requested === null) {
    for (let i = 0; i < input.length; i++) {
      if (input[i].dataType != "text") s.columns.push(input[i].name);
    }
    return s;
  }
  const names = requested.valueOf();
  for (let i = 0; i < names.length; i++) {
    if (!names[i].isString) {
      error = PluginError.config("`columns` must be an array of column names");
      return null;
    }
    const name = (<JSON.Str>names[i]).valueOf();
    let found: Field | null = null;
    for (let j = 0; j < input.length; j++) if (input[j].name == name) found = input[j];
    if (found === null) {
      const have: string[] = [];
      for (let j = 0; j < input.length; j++) have.push(input[j].name);
      error = PluginError.config(
        `\`columns\` names \`${name}\`, which the data does not have (it has [${have.join(", ")}])`,
      );
      return null;
    }
    if (found.dataType == "text") {
      error = PluginError.config(`\`columns\` names \`${name}\`, a text column; this plugin needs numbers`);
      return null;
    }
    if (s.columns.includes(name)) {
      error = PluginError.config(`\`columns\` names \`${name}\` twice`);
      return null;
    }
    s.columns.push(name);
  }
  return s;
}

function logOf(x: f64, base: string): f64 {
  if (base == "2") return Math.log2(x);
  if (base == "10") return Math.log10(x);
  return Math.log(x);
}

const analyzers = new Map<u32, Settings>();
const transformers = new Map<u32, Settings>();
let next: u32 = 1;

/** The configuration's JSON Schema (the built-in log-transform's, as `config.schema.json`). */
const SCHEMA = `{"type":"object","additionalProperties":false,"properties":{"columns":{"type":"array","items":{"type":"string"}},"offset":{"type":"number","default":1},"base":{"enum":["e","2","10"],"default":"e"}},"examples":[{"columns":["amount"]}]}`;

export function ferry_manifest(): i32 {
  const m = `{"contract":"0.1.0","name":"as-log-transform","version":"0.1.0","kind":"transform",` +
    `"description":"Applies log(x + offset) to numeric columns (an Extism plugin in AssemblyScript)",` +
    `"license":"Apache-2.0","keywords":["log","skew","extism","assemblyscript"],` +
    `"config-schema":${quote(SCHEMA)}}`;
  Host.output(Uint8Array.wrap(String.UTF8.encode(m)));
  return 0;
}

export function analyzer_new(): i32 {
  const c = call();
  const s = configure((<JSON.Str>c.getString("config")).valueOf(), fields(<JSON.Arr>c.getArr("input")));
  if (s === null) return fail(<PluginError>error);
  const h = next++;
  analyzers.set(h, s);
  return ok(h.toString());
}

export function analyzer_update(): i32 {
  const c = call();
  const h = <u32>(<JSON.Integer>c.getInteger("analyzer")).valueOf();
  if (!analyzers.has(h)) return fail(PluginError.internal(`no analyzer with handle ${h}`));
  const s = analyzers.get(h);
  const cols = columns(<JSON.Obj>c.getObj("data"));
  for (let i = 0; i < s.columns.length; i++) {
    const name = s.columns[i];
    let found = false;
    for (let j = 0; j < cols.length; j++) {
      if (cols[j].name != name) continue;
      found = true;
      if (cols[j].dataType == "text") {
        return fail(PluginError.input(name, -1, "expected a numeric column, found text"));
      }
    }
    if (!found) return fail(PluginError.input(name, -1, "no such column"));
  }
  return ok("null");
}

export function analyzer_finish(): i32 {
  const c = call();
  const h = <u32>(<JSON.Integer>c.getInteger("analyzer")).valueOf();
  if (!analyzers.has(h)) return fail(PluginError.internal(`no analyzer with handle ${h}`));
  const s = analyzers.get(h);
  Host.log(LogLevel.Info, `log-transform of ${s.columns.length} columns`);
  return ok(quote(base64(Uint8Array.wrap(String.UTF8.encode(s.toJson())))));
}

export function transformer_new(): i32 {
  const c = call();
  const bytes = unbase64((<JSON.Str>c.getString("state")).valueOf());
  const invalid = PluginError.config("the state is not a valid as-log-transform state");
  if (bytes === null) return fail(invalid);
  const text = String.UTF8.decode(bytes.buffer);
  if (jsonError(text) !== null) return fail(invalid);
  const parsed = JSON.parse(text);
  if (!parsed.isObj) return fail(invalid);
  const o = <JSON.Obj>parsed;
  const cols = o.getArr("columns");
  const offset = o.getValue("offset");
  const base = o.getString("base");
  if (cols === null || offset === null || (!offset.isFloat && !offset.isInteger) || base === null) {
    return fail(invalid);
  }
  const s = new Settings();
  const names = cols.valueOf();
  for (let i = 0; i < names.length; i++) s.columns.push((<JSON.Str>names[i]).valueOf());
  s.offset = offset.isFloat ? (<JSON.Float>offset).valueOf() : <f64>(<JSON.Integer>offset).valueOf();
  s.base = base.valueOf();
  const h = next++;
  transformers.set(h, s);
  return ok(h.toString());
}

export function transformer_apply(): i32 {
  const c = call();
  const h = <u32>(<JSON.Integer>c.getInteger("transformer")).valueOf();
  if (!transformers.has(h)) return fail(PluginError.internal(`no transformer with handle ${h}`));
  const s = transformers.get(h);
  const data = <JSON.Obj>c.getObj("data");
  const rows = (<JSON.Integer>data.getInteger("num-rows")).valueOf();
  const cols = columns(data);
  const out: string[] = [];
  for (let i = 0; i < s.columns.length; i++) {
    const name = s.columns[i];
    let col: Column | null = null;
    for (let j = 0; j < cols.length; j++) if (cols[j].name == name) col = cols[j];
    if (col === null) return fail(PluginError.input(name, -1, "no such column"));
    if (col.dataType == "text") {
      return fail(PluginError.input(name, -1, "expected a numeric column, found text"));
    }
    const values: string[] = [];
    for (let r = 0; r < col.values.length; r++) {
      if (col.isNull(r)) {
        values.push("0.0");
        continue;
      }
      const v = col.values[r];
      const x = v + s.offset;
      if (isNaN(x) || x <= 0) {
        return fail(PluginError.input(name, r,
          `${float(v)} + offset ${float(s.offset)} is not positive, so it has no logarithm`));
      }
      values.push(float(logOf(x, s.base)));
    }
    let nulls = "";
    const mask = col.nulls;
    if (mask !== null) {
      const flags: string[] = [];
      for (let r = 0; r < mask.length; r++) flags.push(mask[r] ? "true" : "false");
      nulls = `,"nulls":[${flags.join(",")}]`;
    }
    out.push(`{"name":${quote(name)},"data":{"float64":[${values.join(",")}]}${nulls}}`);
  }
  return ok(`{"num-rows":${rows},"columns":[${out.join(",")}]}`);
}

export function output_schema(): i32 {
  const c = call();
  const input = fields(<JSON.Arr>c.getArr("input"));
  const s = configure((<JSON.Str>c.getString("config")).valueOf(), input);
  if (s === null) return fail(<PluginError>error);
  const out: string[] = [];
  for (let i = 0; i < s.columns.length; i++) {
    let nullable = false;
    for (let j = 0; j < input.length; j++) if (input[j].name == s.columns[i]) nullable = input[j].nullable;
    out.push(new Field(s.columns[i], "float64", nullable).toJson());
  }
  return ok(`[${out.join(",")}]`);
}
