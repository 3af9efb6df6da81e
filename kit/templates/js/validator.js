// {{name}}: a validator. Every value of the chosen numeric columns lies within [min, max] and
// is not null.
import * as ferry from "./ferry-plugin.js";

const MANIFEST = {
  name: "{{name}}",
  version: "0.1.0",
  description: "{{description}}",
  license: "Apache-2.0",
  keywords: ["validation"],
  configSchema: {{schema}},
};

function validate(config, batch) {
  const { min, max } = config;
  if (typeof min !== "number" || typeof max !== "number") throw new ferry.ConfigError("give both `min` and `max` as numbers");
  if (min > max) throw new ferry.ConfigError(`\`min\` (${ferry.formatNumber(min)}) is above \`max\` (${ferry.formatNumber(max)})`);
  const report = new ferry.Report(batch.length, 100);
  for (const name of ferry.numericColumns(config, batch.schema)) {
    const column = batch.column(name);
    const values = column.numeric();
    for (let row = 0; row < values.length; row++) {
      if (column.isNull(row)) {
        report.add("not-null", "is null", { column: name, row });
      } else if (!(values[row] >= min && values[row] <= max)) {
        const range = `[${ferry.formatNumber(min)}, ${ferry.formatNumber(max)}]`;
        report.add("in-range", `${ferry.formatNumber(values[row])} is outside ${range}`, { column: name, row });
      }
    }
  }
  return report;
}

// `preparedValidator` is for the `prepared-validator-plugin` world the build names (contract 0.1.1):
// the configuration is parsed once, and every call starts from a snapshot.
export const { plugin, validator, preparedValidator } = ferry.validatorPlugin(MANIFEST, validate);
