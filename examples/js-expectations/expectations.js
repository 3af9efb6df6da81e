// `js-expectations`: the `expectations` built-in, written in JavaScript. Checks values against
// `min`/`max`, `allowed` categories, `max_null_fraction`, `unique` and `regex` (on text); every
// failing row is counted and at most `max_violations` are listed. Its reports are the Rust
// plugin's, message for message.
import * as ferry from "./ferry-plugin.js";

const KEYS = ["column", "min", "max", "allowed", "max_null_fraction", "unique", "regex"];

const MANIFEST = {
  name: "js-expectations",
  version: "0.1.0",
  description: "Checks values against ranges, categories, null fractions, uniqueness and patterns (JavaScript).",
  keywords: ["data-quality", "ranges", "categories", "regex", "javascript"],
  license: "Apache-2.0",
  configSchema: {
    type: "object",
    additionalProperties: false,
    required: ["expectations"],
    properties: {
      expectations: { type: "array", items: { type: "object", required: ["column"] } },
      max_violations: { type: "integer", minimum: 0, default: 1000 },
    },
    examples: [
      {
        expectations: [
          { column: "score", min: -1.0, max: 1.5 },
          { column: "segment", allowed: ["retail", "business"] },
        ],
      },
    ],
  },
};

function number(e, i, key) {
  const v = e[key];
  if (v !== undefined && typeof v !== "number") {
    throw new ferry.ConfigError(`expectations[${i}] (\`${e.column}\`): \`${key}\` must be a number`);
  }
  return v;
}

function expectationsOf(config) {
  const list = config.expectations;
  if (!Array.isArray(list)) throw new ferry.ConfigError("`expectations` must be a list");
  return list.map((e, i) => {
    if (e === null || typeof e !== "object" || typeof e.column !== "string") {
      throw new ferry.ConfigError(`expectations[${i}] needs a \`column\` name`);
    }
    for (const key of Object.keys(e)) {
      if (!KEYS.includes(key)) throw new ferry.ConfigError(`expectations[${i}] (\`${e.column}\`): unknown key \`${key}\``);
    }
    const [min, max, fraction] = [number(e, i, "min"), number(e, i, "max"), number(e, i, "max_null_fraction")];
    const where = `expectations[${i}] (\`${e.column}\`)`;
    if (min !== undefined && max !== undefined && min > max) {
      throw new ferry.ConfigError(`${where}: \`min\` ${ferry.formatNumber(min)} is above \`max\` ${ferry.formatNumber(max)}`);
    }
    if (fraction !== undefined && !(fraction >= 0 && fraction <= 1)) {
      throw new ferry.ConfigError(`${where}: \`max_null_fraction\` must be within 0..=1`);
    }
    let pattern;
    if (e.regex !== undefined) {
      try {
        pattern = new RegExp(`^(?:${e.regex})$`, "u");
      } catch (err) {
        throw new ferry.ConfigError(`${where}: invalid \`regex\`: ${err.message}`);
      }
    }
    if (e.allowed !== undefined && !Array.isArray(e.allowed)) throw new ferry.ConfigError(`${where}: \`allowed\` must be a list`);
    const allowed = e.allowed?.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
    return { column: e.column, min, max, allowed, fraction, unique: e.unique === true, pattern };
  });
}

function validate(config, batch) {
  const expectations = expectationsOf(config);
  const report = new ferry.Report(batch.length, config.max_violations ?? 1000);
  for (const e of expectations) {
    const column = batch.get(e.column);
    if (column === undefined) {
      report.add("column_exists", "the column is missing", { column: e.column });
      continue;
    }
    const at = (row) => ({ column: e.column, row });
    if (e.min !== undefined || e.max !== undefined) {
      if (column.type === "text") {
        report.add("min_max", "min/max needs a numeric column", { column: e.column });
      } else {
        const values = column.numeric();
        for (let row = 0; row < values.length; row++) {
          if (column.isNull(row)) continue;
          const v = values[row];
          if (e.min !== undefined && (v < e.min || Number.isNaN(v))) {
            report.add("min", `${ferry.formatNumber(v)} is below the minimum ${ferry.formatNumber(e.min)}`, at(row));
          }
          if (e.max !== undefined && (v > e.max || Number.isNaN(v))) {
            report.add("max", `${ferry.formatNumber(v)} is above the maximum ${ferry.formatNumber(e.max)}`, at(row));
          }
        }
      }
    }
    if (e.allowed !== undefined) {
      for (let row = 0; row < column.length; row++) {
        const v = column.valueString(row);
        if (v !== undefined && !e.allowed.includes(v)) {
          report.add("allowed", `${ferry.quote(v)} is not one of the allowed values`, at(row));
        }
      }
    }
    if (e.fraction !== undefined) {
      const fraction = column.nullCount() / Math.max(column.length, 1);
      if (fraction > e.fraction) {
        report.add(
          "max_null_fraction",
          `${fraction.toFixed(4)} of the values are null, more than the ${ferry.formatNumber(e.fraction)} allowed`,
          { column: e.column },
        );
      }
    }
    if (e.unique) {
      const firstSeen = new Map();
      for (let row = 0; row < column.length; row++) {
        const v = column.valueString(row);
        if (v === undefined) continue;
        const first = firstSeen.get(v);
        if (first !== undefined) report.add("unique", `${ferry.quote(v)} already appears at row ${first}`, at(row));
        else firstSeen.set(v, row);
      }
    }
    if (e.pattern !== undefined) {
      if (column.type !== "text") {
        report.add("regex", "regex needs a text column", { column: e.column });
      } else {
        for (let row = 0; row < column.length; row++) {
          const v = column.valueString(row);
          if (v !== undefined && !e.pattern.test(v)) report.add("regex", `${ferry.quote(v)} does not match the pattern`, at(row));
        }
      }
    }
  }
  return report;
}

// `preparedValidator` is exported by a `prepared-validator-plugin` build (contract 0.1.1): the
// configuration is parsed once and every call starts from a snapshot.
export const { plugin, validator, preparedValidator } = ferry.validatorPlugin(MANIFEST, validate);
