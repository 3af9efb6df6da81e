"""{{name}}: an alert sink. Appends each alert as one JSON line to a file in the granted
`/alerts` folder."""

import json
import re

import ferry_plugin as ferry

ALERTS_DIR = "/alerts"

MANIFEST = ferry.Manifest(
    name="{{name}}",
    version="0.1.0",
    description="{{description}}",
    license="Apache-2.0",
    keywords=["alerting", "file"],
    directories=[ferry.Directory(ALERTS_DIR, writable=True, purpose="the folder the alert log is written to")],
    config_schema={{schema}},
)


def deliver(config, alert):
    name = ferry.config.get(config, "file", str, "alerts.jsonl")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or name in (".", ".."):
        raise ferry.ConfigError(f"`file` must be a plain file name, got {json.dumps(name)}")
    path = f"{ALERTS_DIR}/{name}"
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(alert.to_json()) + "\n")
    except OSError as e:
        raise ferry.PluginError(f"cannot write {path}: {e} (was {ALERTS_DIR} granted?)") from None


Plugin, AlertSink = ferry.alert_sink(MANIFEST, deliver)
