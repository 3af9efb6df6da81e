// Ferry's Extism wire format, for AssemblyScript: read a call's JSON, write an answer.
// Every export answers {"ok": ...} or {"error": {"config"|"input"|"unsupported"|"internal": ...}}.

import { Host } from "@extism/as-pdk";
import { JSON } from "assemblyscript-json/assembly";

/** A plugin error, answered as {"error": ...}. */
export class PluginError {
  constructor(public json: string) {}

  static config(message: string): PluginError {
    return new PluginError(`{"config":${quote(message)}}`);
  }

  static input(column: string, row: i64, message: string): PluginError {
    const at = row < 0 ? "null" : row.toString();
    return new PluginError(
      `{"input":{"column":${quote(column)},"row":${at},"message":${quote(message)}}}`,
    );
  }

  static internal(message: string): PluginError {
    return new PluginError(`{"internal":${quote(message)}}`);
  }
}

/** The call's input as a JSON object. */
export function call(): JSON.Obj {
  return <JSON.Obj>JSON.parse(Host.input());
}

/** Answers `{"ok": json}`. */
export function ok(json: string): i32 {
  return answer(`{"ok":${json}}`);
}

/** Answers `{"error": ...}`. */
export function fail(e: PluginError): i32 {
  return answer(`{"error":${e.json}}`);
}

/** Writes `text` as the call's output, sized in UTF-8 bytes. */
export function answer(text: string): i32 {
  Host.output(Uint8Array.wrap(String.UTF8.encode(text)));
  return 0;
}

/**
 * Why `text` is not JSON (with the offset where it goes wrong), or null when it is. The JSON
 * reader aborts on bad input, and AssemblyScript cannot catch that, so text from outside is
 * checked first.
 */
export function jsonError(text: string): string | null {
  const c = new Checker(text);
  c.space();
  if (!c.value(0)) return c.error;
  c.space();
  if (c.at < text.length) return `unexpected text after the value at offset ${c.at}`;
  return null;
}

class Checker {
  at: i32 = 0;
  error: string = "";

  constructor(public text: string) {}

  fail(what: string): bool {
    this.error = `${what} at offset ${this.at}`;
    return false;
  }

  space(): void {
    while (this.at < this.text.length) {
      const ch = this.text.charCodeAt(this.at);
      if (ch != 0x20 && ch != 0x0a && ch != 0x0d && ch != 0x09) break;
      this.at++;
    }
  }

  eat(ch: i32): bool {
    this.space();
    if (this.at < this.text.length && this.text.charCodeAt(this.at) == ch) {
      this.at++;
      return true;
    }
    return false;
  }

  word(w: string): bool {
    if (this.text.substr(this.at, w.length) != w) return this.fail("expected a value");
    this.at += w.length;
    return true;
  }

  value(depth: i32): bool {
    if (depth > 64) return this.fail("nesting too deep");
    this.space();
    if (this.at >= this.text.length) return this.fail("expected a value");
    const ch = this.text.charCodeAt(this.at);
    if (ch == 0x7b) return this.object(depth);
    if (ch == 0x5b) return this.array(depth);
    if (ch == 0x22) return this.string();
    if (ch == 0x74) return this.word("true");
    if (ch == 0x66) return this.word("false");
    if (ch == 0x6e) return this.word("null");
    return this.number();
  }

  object(depth: i32): bool {
    this.at++;
    if (this.eat(0x7d)) return true;
    do {
      this.space();
      if (this.at >= this.text.length || this.text.charCodeAt(this.at) != 0x22) {
        return this.fail("expected a key");
      }
      if (!this.string()) return false;
      if (!this.eat(0x3a)) return this.fail("expected `:`");
      if (!this.value(depth + 1)) return false;
    } while (this.eat(0x2c));
    return this.eat(0x7d) || this.fail("expected `,` or `}`");
  }

  array(depth: i32): bool {
    this.at++;
    if (this.eat(0x5d)) return true;
    do {
      if (!this.value(depth + 1)) return false;
    } while (this.eat(0x2c));
    return this.eat(0x5d) || this.fail("expected `,` or `]`");
  }

  string(): bool {
    this.at++;
    while (this.at < this.text.length) {
      const ch = this.text.charCodeAt(this.at++);
      if (ch == 0x22) return true;
      if (ch < 0x20) return this.fail("a control character in a string");
      if (ch == 0x5c) {
        if (this.at >= this.text.length) break;
        const e = this.text.charCodeAt(this.at++);
        if (e == 0x75) {
          for (let i = 0; i < 4; i++) {
            const h = this.at < this.text.length ? this.text.charCodeAt(this.at++) : 0;
            const hex = (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66);
            if (!hex) return this.fail("a bad \\u escape");
          }
        } else if ("\"\\/bfnrt".indexOf(String.fromCharCode(e)) < 0) {
          return this.fail("a bad escape");
        }
      }
    }
    return this.fail("an unterminated string");
  }

  digits(): i32 {
    const from = this.at;
    while (this.at < this.text.length) {
      const d = this.text.charCodeAt(this.at);
      if (d < 0x30 || d > 0x39) break;
      this.at++;
    }
    return this.at - from;
  }

  number(): bool {
    const start = this.at;
    if (this.text.charCodeAt(this.at) == 0x2d) this.at++;
    if (this.digits() == 0) {
      this.at = start;
      return this.fail("expected a value");
    }
    if (this.at < this.text.length && this.text.charCodeAt(this.at) == 0x2e) {
      this.at++;
      if (this.digits() == 0) return this.fail("expected digits after `.`");
    }
    if (this.at < this.text.length && (this.text.charCodeAt(this.at) | 0x20) == 0x65) {
      this.at++;
      const sign = this.at < this.text.length ? this.text.charCodeAt(this.at) : 0;
      if (sign == 0x2b || sign == 0x2d) this.at++;
      if (this.digits() == 0) return this.fail("expected digits in the exponent");
    }
    return true;
  }
}

/** `s` as a JSON string. */
export function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

/** A float as JSON: a number, or "NaN", "Infinity", "-Infinity". */
export function float(x: f64): string {
  if (isNaN(x)) return '"NaN"';
  if (!isFinite(x)) return x > 0 ? '"Infinity"' : '"-Infinity"';
  return x.toString();
}

/** A JSON value as a float (integers and the three words included). */
export function toFloat(v: JSON.Value): f64 {
  if (v.isFloat) return (<JSON.Float>v).valueOf();
  if (v.isInteger) return <f64>(<JSON.Integer>v).valueOf();
  if (v.isBool) return (<JSON.Bool>v).valueOf() ? 1.0 : 0.0;
  if (v.isString) {
    const s = (<JSON.Str>v).valueOf();
    if (s == "Infinity") return Infinity;
    if (s == "-Infinity") return -Infinity;
  }
  return NaN;
}

/** One column of a batch: its name, its type, its values as floats and its nulls. */
export class Column {
  name: string = "";
  dataType: string = "";
  values: f64[] = [];
  nulls: bool[] | null = null;

  isNull(row: i32): bool {
    const n = this.nulls;
    return n !== null && row < n.length && n[row];
  }
}

/** Reads a batch's columns; text columns keep no values. */
export function columns(batch: JSON.Obj): Column[] {
  const out: Column[] = [];
  const cols = (<JSON.Arr>batch.getArr("columns")).valueOf();
  for (let i = 0; i < cols.length; i++) {
    const c = <JSON.Obj>cols[i];
    const col = new Column();
    col.name = (<JSON.Str>c.getString("name")).valueOf();
    const data = <JSON.Obj>c.getObj("data");
    col.dataType = data.keys[0];
    if (col.dataType != "text") {
      const values = (<JSON.Arr>data.getArr(col.dataType)).valueOf();
      for (let r = 0; r < values.length; r++) col.values.push(toFloat(values[r]));
    }
    const nulls = c.getArr("nulls");
    if (nulls !== null) {
      const flags = nulls.valueOf();
      const mask: bool[] = [];
      for (let r = 0; r < flags.length; r++) mask.push((<JSON.Bool>flags[r]).valueOf());
      col.nulls = mask;
    }
    out.push(col);
  }
  return out;
}

/** A schema's fields: name, data type and nullability. */
export class Field {
  constructor(public name: string, public dataType: string, public nullable: bool) {}

  toJson(): string {
    return `{"name":${quote(this.name)},"data-type":${quote(this.dataType)},"nullable":${this.nullable}}`;
  }
}

/** Reads a schema. */
export function fields(input: JSON.Arr): Field[] {
  const out: Field[] = [];
  const items = input.valueOf();
  for (let i = 0; i < items.length; i++) {
    const f = <JSON.Obj>items[i];
    out.push(
      new Field(
        (<JSON.Str>f.getString("name")).valueOf(),
        (<JSON.Str>f.getString("data-type")).valueOf(),
        (<JSON.Bool>f.getBool("nullable")).valueOf(),
      ),
    );
  }
  return out;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding. */
export function base64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = bytes.length - i;
    const b0 = <u32>bytes[i];
    const b1 = n > 1 ? <u32>bytes[i + 1] : 0;
    const b2 = n > 2 ? <u32>bytes[i + 2] : 0;
    const v = (b0 << 16) | (b1 << 8) | b2;
    out += ALPHABET.charAt((v >> 18) & 63) + ALPHABET.charAt((v >> 12) & 63);
    out += n > 1 ? ALPHABET.charAt((v >> 6) & 63) : "=";
    out += n > 2 ? ALPHABET.charAt(v & 63) : "=";
  }
  return out;
}

/** Decodes standard base64; null when it is not. */
export function unbase64(s: string): Uint8Array | null {
  if (s.length % 4 != 0) return null;
  let pad = 0;
  if (s.endsWith("==")) pad = 2;
  else if (s.endsWith("=")) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let v: u32 = 0;
    for (let j = 0; j < 4; j++) {
      const ch = s.charAt(i + j);
      const d = ch == "=" ? 0 : ALPHABET.indexOf(ch);
      if (d < 0) return null;
      v = (v << 6) | <u32>d;
    }
    if (o < out.length) out[o++] = <u8>(v >> 16);
    if (o < out.length) out[o++] = <u8>(v >> 8);
    if (o < out.length) out[o++] = <u8>v;
  }
  return out;
}
