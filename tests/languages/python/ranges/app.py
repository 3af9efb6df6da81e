"""`py-ranges`: the `min`/`max` rules of the `expectations` built-in, as a Python validator
(the validator side of the Python SDK)."""

import ferry_plugin as ferry

MANIFEST = ferry.Manifest(
    name="py-ranges",
    version="0.1.0",
    description="Checks numeric columns against a minimum and a maximum (Python).",
    license="Apache-2.0",
    config_schema={"type": "object", "additionalProperties": False,
                   "properties": {"expectations": {"type": "array"}, "max_violations": {"type": "integer"}},
                   "examples": [{"expectations": [{"column": "score", "min": -2, "max": 2}]}]},
)


def validate(config, batch):
    report = ferry.Report(len(batch), ferry.config.get(config, "max_violations", int, 1000))
    for i, e in enumerate(ferry.config.get(config, "expectations", list, [])):
        name, lo, hi = e.get("column"), e.get("min"), e.get("max")
        if not isinstance(name, str):
            raise ferry.ConfigError(f"expectations[{i}] needs a `column` name")
        if lo is not None and hi is not None and lo > hi:
            raise ferry.ConfigError(f"expectations[{i}] (`{name}`): `min` {ferry.text.number(lo)} is above `max` {ferry.text.number(hi)}")
        column = batch.get(name)
        if column is None:
            report.add("column_exists", "the column is missing", column=name)
            continue
        if lo is None and hi is None:
            continue
        if column.type is ferry.DataType.TEXT:
            report.add("min_max", "min/max needs a numeric column", column=name)
            continue
        for row, v in enumerate(column.numeric()):
            if column.is_null(row):
                continue
            if lo is not None and (v < lo or v != v):
                report.add("min", f"{ferry.text.number(v)} is below the minimum {ferry.text.number(lo)}", column=name, row=row)
            if hi is not None and (v > hi or v != v):
                report.add("max", f"{ferry.text.number(v)} is above the maximum {ferry.text.number(hi)}", column=name, row=row)
    return report


Plugin, Validator = ferry.validator(MANIFEST, validate)
