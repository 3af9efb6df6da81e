// A careless JavaScript validator: `validate` misbehaves as its configuration's `do` says.
import * as ferry from "./ferry-plugin.js";

function validate(config, batch) {
  switch (config.do) {
    case "throw-number":
      throw 42;
    case "throw-undefined":
      throw undefined;
    case "throw-object":
      throw { reason: "not an Error" };
    case "type-error":
      return null.rows;
    case "loop":
      for (;;) {}
    case "hog": {
      const hog = [];
      for (;;) hog.push(new Float64Array(1 << 21));
    }
    case "bad-return":
      return { rowsChecked: 1 };
    default:
      return new ferry.Report(batch.length);
  }
}

export const { plugin, validator } = ferry.validatorPlugin(
  { name: "js-hostile", version: "0.1.0", description: "Misbehaves on request." },
  validate,
);
