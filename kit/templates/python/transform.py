"""{{name}}: a transform. Centres the chosen numeric columns on the means it learned in
training, so serving subtracts exactly the values training saw."""

import ferry_plugin as ferry

MANIFEST = ferry.Manifest(
    name="{{name}}",
    version="0.1.0",
    description="{{description}}",
    license="Apache-2.0",
    keywords=["transform"],
    config_schema={{schema}},
)


class Analyzer:
    """Sums and counts the non-null values of each column."""

    def __init__(self, config, schema):
        self.sums = {name: [0.0, 0] for name in ferry.numeric_columns(config, schema)}

    def update(self, batch):
        for name, acc in self.sums.items():
            column = batch.column(name)
            for row, value in enumerate(column.numeric()):
                if not column.is_null(row):
                    acc[0] += value
                    acc[1] += 1

    def finish(self):
        return {"means": [[name, total / count if count else 0.0] for name, (total, count) in self.sums.items()]}


class Transformer:
    def __init__(self, config, state):
        self.means = state["means"]

    def apply(self, batch):
        out = []
        for name, mean in self.means:
            column = batch.column(name)
            out.append(ferry.Column.float64(name, [v - mean for v in column.numeric()]).with_nulls_of(column))
        return ferry.Batch(len(batch), out)


def output_schema(config, schema):
    nullable = {f.name: f.nullable for f in schema}
    return [ferry.Field(name, ferry.DataType.FLOAT64, nullable[name]) for name in ferry.numeric_columns(config, schema)]


Plugin, Transform = ferry.transform(MANIFEST, Analyzer, Transformer, output_schema)

# Prepared once per configuration and state, then every call starts from a snapshot
# (contract 0.1.1; the build names the `prepared-transform-plugin` world).
PreparedTransform = ferry.prepared(Transform)
