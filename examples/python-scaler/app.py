"""`py-standard-scaler`: the `standard-scaler` built-in, written in Python.

Scales numeric columns to zero mean and unit variance. The analysis streams over batches with
Chan's parallel update of count, mean and M2 and skips nulls; a constant column is only
centred. Every operation is the Rust plugin's, in the same order, so the output is
bit-identical to it."""

import math

import ferry_plugin as ferry

MANIFEST = ferry.Manifest(
    name="py-standard-scaler",
    version="0.1.0",
    description="Scales numeric columns to zero mean and unit variance (Python).",
    keywords=["scaling", "normalization", "numeric", "python"],
    license="Apache-2.0",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"},
                        "description": "Columns to scale; all numeric columns when absent."},
            "with_mean": {"type": "boolean", "default": True},
            "with_std": {"type": "boolean", "default": True},
        },
        "examples": [{"columns": ["amount", "score"]}],
    },
)


class Moments:
    """Running count, mean and sum of squared deviations of one column."""

    def __init__(self, name):
        self.name, self.count, self.mean, self.m2 = name, 0, 0.0, 0.0

    def update(self, values):
        n, mean, m2 = 0, 0.0, 0.0
        for x in values:
            n += 1
            d = x - mean
            mean += d / n
            m2 += d * (x - mean)
        if n == 0:
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    def std(self):
        return 0.0 if self.count == 0 else math.sqrt(self.m2 / self.count)


class Analyzer:
    def __init__(self, config, schema):
        self.with_mean = ferry.config.get(config, "with_mean", bool, True)
        self.with_std = ferry.config.get(config, "with_std", bool, True)
        self.moments = [Moments(name) for name in ferry.numeric_columns(config, schema)]

    def update(self, batch):
        for m in self.moments:
            column = batch.column(m.name)
            values = column.numeric()
            for row, v in enumerate(values):
                if not math.isfinite(v) and not column.is_null(row):
                    raise ferry.InputError(f"{v} is not a finite number", column=m.name, row=row)
            m.update(v for row, v in enumerate(values) if not column.is_null(row))

    def finish(self):
        columns = []
        for m in self.moments:
            std = m.std()
            columns.append({
                "name": m.name,
                "offset": m.mean if self.with_mean else 0.0,
                "scale": std if self.with_std and std > 0.0 and math.isfinite(std) else 1.0,
                "count": m.count,
            })
        ferry.log.debug("analysed", columns=len(columns))
        return {"columns": columns}


class Transformer:
    def __init__(self, config, state):
        self.columns = state["columns"]

    def apply(self, batch):
        out = []
        for scale in self.columns:
            column = batch.column(scale["name"])
            offset, inv = scale["offset"], 1.0 / scale["scale"]
            values = [(v - offset) * inv for v in column.numeric()]
            out.append(ferry.Column.float64(scale["name"], values).with_nulls_of(column))
        return ferry.Batch(len(batch), out)


def output_schema(config, schema):
    nullable = {f.name: f.nullable for f in schema}
    return [ferry.Field(name, ferry.DataType.FLOAT64, nullable[name])
            for name in ferry.numeric_columns(config, schema)]


Plugin, Transform = ferry.transform(MANIFEST, Analyzer, Transformer, output_schema)
# Contract 0.1.1: built for `prepared-transform-plugin`, the host builds the transformer from its
# state once and starts every call from a snapshot (a `transform-plugin` build ignores this).
PreparedTransform = ferry.prepared(Transform)
