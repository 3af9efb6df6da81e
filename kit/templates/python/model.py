"""{{name}}: a model adapter. A nearest-centroid classifier: training keeps each class's mean
feature vector; prediction names the class whose centroid is nearest."""

import ferry_plugin as ferry

MANIFEST = ferry.Manifest(
    name="{{name}}",
    version="0.1.0",
    description="{{description}}",
    license="Apache-2.0",
    keywords=["model", "classification"],
    config_schema={{schema}},
)


def rows(features, names):
    """Each row's feature values, or None where any is null."""
    columns = [features.column(name) for name in names]
    values = [c.numeric() for c in columns]
    for row in range(len(features)):
        yield None if any(c.is_null(row) for c in columns) else [v[row] for v in values]


def train(features, labels, config):
    names = [f.name for f in features.schema]
    sums = {}
    for row, x in enumerate(rows(features, names)):
        if x is None or labels.is_null(row):
            continue
        label = str(labels.values[row])
        total, count = sums.get(label, ([0.0] * len(names), 0))
        sums[label] = ([t + v for t, v in zip(total, x)], count + 1)
    if not sums:
        raise ferry.InputError("no row has a label and every feature", column=labels.name)
    classes = [[label, [t / count for t in total]] for label, (total, count) in sorted(sums.items())]
    return {"features": names, "classes": classes}


class Centroids:
    def __init__(self, artifact):
        self.features = artifact["features"]
        self.classes = artifact["classes"]

    def describe(self):
        task = ferry.Task.MULTICLASS_CLASSIFICATION if len(self.classes) > 2 else ferry.Task.BINARY_CLASSIFICATION
        return ferry.ModelInfo(task, [ferry.Field(n, ferry.DataType.FLOAT64, True) for n in self.features],
                               [ferry.ModelOutput("prediction", "the class whose centroid is nearest")])

    def predict(self, features):
        predictions = []
        for x in rows(features, self.features):
            if x is None:
                predictions.append(None)
                continue
            distances = [(sum((a - b) * (a - b) for a, b in zip(c, x)), label) for label, c in self.classes]
            predictions.append(min(distances)[1])
        return [ferry.Column.from_optional("prediction", ferry.DataType.TEXT, predictions)]


def load(artifact, config):
    return Centroids(ferry.state.decode(artifact, MANIFEST.name))


Plugin, Model = ferry.model(MANIFEST, load, train)

# Prepared once per artifact and configuration, then every call starts from a snapshot
# (contract 0.1.1; the build names the `prepared-model-plugin` world).
PreparedModel = ferry.prepared(Model)
