"""Ferry plugins in Python, built into WebAssembly components with componentize-py.

A plugin is a module (`app.py`) that ends by exporting its kind:

    import ferry_plugin as ferry

    MANIFEST = ferry.Manifest(name="my-scaler", version="0.1.0", description="...")
    ...
    Plugin, Transform = ferry.transform(MANIFEST, Analyzer, Transformer, output_schema)

and likewise `ferry.validator`, `ferry.model`, `ferry.deployer` and `ferry.alert_sink`. A
validator, transform or model built for its kind's `prepared-*-plugin` world also exports
`PreparedTransform = ferry.prepared(Transform)` (or `PreparedValidator`, `PreparedModel`), so
the host prepares it once and starts every call from a snapshot.

Raise `ConfigError`, `InputError(message, column=, row=)` or `Unsupported`; any other exception
reaches the host as an `internal` error naming its type, message and line."""

from . import config, log, state, text
from .config import numeric_columns, select_columns
from .data import Batch, Column, DataType, Field
from .errors import ConfigError, InputError, PluginError, Unsupported
from .acting import (Alert, Artifact, Deployment, DeploymentStatus, PluginRef, Severity, TargetState,
                     check_segment, require_granted, write_atomically)
from .kinds import alert_sink, deployer, model, prepared, transform, validator
from .manifest import Directory, Manifest
from .model import ModelInfo, ModelOutput, Task
from .report import Report, Violation

__all__ = [
    "Alert", "Artifact", "Batch", "Column", "ConfigError", "DataType", "Deployment", "DeploymentStatus",
    "Directory", "Field", "InputError", "Manifest", "ModelInfo", "ModelOutput", "PluginError", "PluginRef",
    "Report", "Severity", "TargetState", "Task", "Unsupported", "Violation", "alert_sink", "check_segment",
    "config", "deployer", "log", "model", "numeric_columns", "prepared", "require_granted", "select_columns",
    "state", "text", "transform", "validator", "write_atomically",
]
