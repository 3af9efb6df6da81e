"""{{name}}: a validator. Every value of the chosen numeric columns lies within `[min, max]`
and is not null."""

import ferry_plugin as ferry

MANIFEST = ferry.Manifest(
    name="{{name}}",
    version="0.1.0",
    description="{{description}}",
    license="Apache-2.0",
    keywords=["validation"],
    config_schema={{schema}},
)


def validate(config, batch):
    lo = ferry.config.get(config, "min", float)
    hi = ferry.config.get(config, "max", float)
    if lo is None or hi is None:
        raise ferry.ConfigError("give both `min` and `max`")
    lo, hi = float(lo), float(hi)
    if lo > hi:
        raise ferry.ConfigError(f"`min` ({ferry.text.number(lo)}) is above `max` ({ferry.text.number(hi)})")
    report = ferry.Report(len(batch), 100)
    for name in ferry.numeric_columns(config, batch.schema):
        column = batch.column(name)
        for row, value in enumerate(column.numeric()):
            if column.is_null(row):
                report.add("not-null", "is null", column=name, row=row)
            elif not lo <= value <= hi:
                report.add("in-range", f"{ferry.text.number(value)} is outside [{ferry.text.number(lo)}, {ferry.text.number(hi)}]",
                           column=name, row=row)
    return report


Plugin, Validator = ferry.validator(MANIFEST, validate)

# Prepared once per configuration, then every call starts from a snapshot
# (contract 0.1.1; the build names the `prepared-validator-plugin` world).
PreparedValidator = ferry.prepared(Validator)
