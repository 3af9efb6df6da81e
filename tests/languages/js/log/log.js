// `js-log`: `log(x + offset)` in base e, like the `log-transform` built-in; the transform
// side of the JavaScript SDK (resources, state, output schema).
import * as ferry from "./ferry-plugin.js";

const MANIFEST = {
  name: "js-log",
  version: "0.1.0",
  description: "Natural logarithm of x + offset (JavaScript).",
  license: "Apache-2.0",
  configSchema: {
    type: "object",
    additionalProperties: false,
    properties: { columns: { type: "array" }, offset: { type: "number" } },
    examples: [{ columns: ["score"], offset: 2 }],
  },
};

class Analyzer {
  constructor(config, schema) {
    this.state = { columns: ferry.numericColumns(config, schema), offset: config.offset ?? 1 };
  }
  update(batch) {
    for (const name of this.state.columns) batch.column(name).numeric();
  }
  finish() {
    return this.state;
  }
}

class Transformer {
  constructor(config, state) {
    this.state = state;
  }
  apply(batch) {
    const { columns, offset } = this.state;
    return columns.map((name) => {
      const column = batch.column(name);
      const values = column.numeric();
      const out = new Float64Array(values.length);
      for (let row = 0; row < values.length; row++) {
        if (column.isNull(row)) continue;
        const x = values[row] + offset;
        if (Number.isNaN(x) || x <= 0) {
          throw new ferry.InputError(
            `${ferry.formatNumber(values[row])} + offset ${ferry.formatNumber(offset)} is not positive, so it has no logarithm`,
            { column: name, row },
          );
        }
        out[row] = Math.log(x);
      }
      return new ferry.Column(name, "float64", out, column.nulls);
    });
  }
}

function outputSchema(config, schema) {
  return ferry.numericColumns(config, schema).map((name) => ({
    name,
    dataType: "float64",
    nullable: schema.find((f) => f.name === name).nullable,
  }));
}

export const { plugin, transform } = ferry.transformPlugin(MANIFEST, { Analyzer, Transformer, outputSchema });
