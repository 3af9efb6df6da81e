// {{name}}: a model adapter. A nearest-centroid classifier: training keeps each class's mean
// feature vector; prediction names the class whose centroid is nearest.
import * as ferry from "./ferry-plugin.js";

const MANIFEST = {
  name: "{{name}}",
  version: "0.1.0",
  description: "{{description}}",
  license: "Apache-2.0",
  keywords: ["model", "classification"],
  configSchema: {{schema}},
};

/** Each row's feature values, or null where any is null. */
function rows(features, names) {
  const columns = names.map((name) => features.column(name));
  const values = columns.map((c) => c.numeric());
  const out = [];
  for (let row = 0; row < features.length; row++) {
    out.push(columns.some((c) => c.isNull(row)) ? null : values.map((v) => v[row]));
  }
  return out;
}

function train(features, labels) {
  const names = features.schema.map((f) => f.name);
  const sums = new Map();
  rows(features, names).forEach((x, row) => {
    if (x === null || labels.isNull(row)) return;
    const label = labels.valueString(row);
    const acc = sums.get(label) ?? { total: names.map(() => 0), count: 0 };
    x.forEach((v, i) => (acc.total[i] += v));
    acc.count += 1;
    sums.set(label, acc);
  });
  if (sums.size === 0) throw new ferry.InputError("no row has a label and every feature", { column: labels.name });
  const classes = [...sums.keys()].sort().map((label) => {
    const { total, count } = sums.get(label);
    return [label, total.map((t) => t / count)];
  });
  return { features: names, classes };
}

class Centroids {
  constructor(artifact) {
    ({ features: this.features, classes: this.classes } = artifact);
  }
  describe() {
    return {
      task: this.classes.length > 2 ? "multiclass-classification" : "binary-classification",
      inputs: this.features.map((name) => ({ name, dataType: "float64", nullable: true })),
      outputs: [{ name: "prediction", description: "the class whose centroid is nearest" }],
    };
  }
  predict(features) {
    const found = rows(features, this.features).map((x) => {
      if (x === null) return null;
      let best = null;
      for (const [label, c] of this.classes) {
        const d = c.reduce((s, v, i) => s + (v - x[i]) * (v - x[i]), 0);
        if (best === null || d < best.d) best = { d, label };
      }
      return best.label;
    });
    const nulls = found.map((p) => p === null);
    return [ferry.Column.text("prediction", found.map((p) => p ?? ""), nulls)];
  }
}

function load(artifact) {
  try {
    return new Centroids(JSON.parse(new TextDecoder().decode(artifact)));
  } catch (e) {
    throw new ferry.ConfigError(`the artifact is not a ${MANIFEST.name} model: ${e.message}`);
  }
}

// `preparedModel` is for the `prepared-model-plugin` world the build names (contract 0.1.1):
// the model is loaded once, and every call starts from a snapshot.
export const { plugin, model, preparedModel } = ferry.modelPlugin(MANIFEST, { load, train });
