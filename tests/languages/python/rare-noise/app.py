"""`py-rare-noise`: a careless transform, as the purity check once missed it. `h` is `column`
plus `random.random()`, drawn on every row but added only where the value passes `threshold`
(4 rows of the churn example's 2,000 at the default). Ferry refuses a draw while a batch is
computed, so this plugin is refused at `plugin test`, publish and train."""

import ferry_plugin as ferry

import random

MANIFEST = ferry.Manifest(
    name="py-rare-noise",
    version="0.1.0",
    description="Adds noise to a column where it passes a threshold (a careless plugin, for tests).",
    license="Apache-2.0",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "column": {"type": "string"},
            "threshold": {"type": "number"},
        },
        "examples": [{"column": "score", "threshold": 1.0}],
    },
)


class Analyzer:
    def __init__(self, config, schema):
        pass

    def update(self, batch):
        pass

    def finish(self):
        return {}


class Transformer:
    def __init__(self, config, state):
        self.column = ferry.config.get(config, "column", str, "monthly_charges")
        self.threshold = ferry.config.get(config, "threshold", float, 119.64)

    def apply(self, batch):
        out = []
        for v in batch.column(self.column).numeric():
            noise = random.random()
            out.append(v + noise if v > self.threshold else v)
        return [ferry.Column.float64("h", out)]


def output_schema(config, schema):
    return [ferry.Field("h", ferry.DataType.FLOAT64, False)]


Plugin, Transform = ferry.transform(MANIFEST, Analyzer, Transformer, output_schema)
