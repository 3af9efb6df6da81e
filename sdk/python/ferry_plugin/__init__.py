"""Ferry plugins in Python, built into WebAssembly components with componentize-py.

A plugin is a module (`app.py`) that ends by exporting its kind:

    import ferry_plugin as ferry

    MANIFEST = ferry.Manifest(name="my-scaler", version="0.1.0", description="...")
    ...
    Plugin, Transform = ferry.transform(MANIFEST, Analyzer, Transformer, output_schema)

Raise `ConfigError`, `InputError(message, column=, row=)` or `Unsupported`; any other exception
reaches the host as an `internal` error naming its type, message and line."""

from . import config, log, state, text
from .config import numeric_columns, select_columns
from .data import Batch, Column, DataType, Field
from .errors import ConfigError, InputError, PluginError, Unsupported
from .kinds import transform, validator
from .manifest import Directory, Manifest
from .report import Report, Violation

__all__ = [
    "Batch", "Column", "ConfigError", "DataType", "Directory", "Field", "InputError", "Manifest",
    "PluginError", "Report", "Unsupported", "Violation", "config", "log", "numeric_columns",
    "select_columns", "state", "text", "transform", "validator",
]
