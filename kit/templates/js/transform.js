// {{name}}: a transform. Centres the chosen numeric columns on the means it learned in
// training, so serving subtracts exactly the values training saw.
import * as ferry from "./ferry-plugin.js";

const MANIFEST = {
  name: "{{name}}",
  version: "0.1.0",
  description: "{{description}}",
  license: "Apache-2.0",
  keywords: ["transform"],
  configSchema: {{schema}},
};

/** Sums and counts the non-null values of each column. */
class Analyzer {
  constructor(config, schema) {
    this.sums = ferry.numericColumns(config, schema).map((name) => ({ name, total: 0, count: 0 }));
  }
  update(batch) {
    for (const s of this.sums) {
      const column = batch.column(s.name);
      const values = column.numeric();
      for (let row = 0; row < values.length; row++) {
        if (!column.isNull(row)) {
          s.total += values[row];
          s.count += 1;
        }
      }
    }
  }
  finish() {
    return { means: this.sums.map((s) => [s.name, s.count ? s.total / s.count : 0]) };
  }
}

class Transformer {
  constructor(config, state) {
    this.means = state.means;
  }
  apply(batch) {
    return this.means.map(([name, mean]) => {
      const column = batch.column(name);
      const values = column.numeric();
      const out = new Float64Array(values.length);
      for (let row = 0; row < values.length; row++) out[row] = values[row] - mean;
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

// `preparedTransform` is for the `prepared-transform-plugin` world the build names (contract 0.1.1):
// the transformer is built from its state once, and every call starts from a snapshot.
export const { plugin, transform, preparedTransform } = ferry.transformPlugin(MANIFEST, { Analyzer, Transformer, outputSchema });
