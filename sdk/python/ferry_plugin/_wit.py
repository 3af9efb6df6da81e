"""Conversions between the contract's generated types (`wit_world`, made by componentize-py at
build time) and the SDK's, and the one place exceptions become `plugin-error`s."""

from __future__ import annotations

import functools
import traceback
from typing import Any, Callable

from componentize_py_types import Err
from wit_world.imports import types as wit

from .acting import Alert, Artifact, Deployment, DeploymentStatus, PluginRef, Severity
from .data import Batch, Column, DataType, Field
from .errors import ConfigError, InputError, PluginError, Unsupported
from .manifest import Manifest
from .model import ModelInfo, Task

_TO_TYPE = {
    wit.DataType.FLOAT64: DataType.FLOAT64,
    wit.DataType.INT64: DataType.INT64,
    wit.DataType.BOOLEAN: DataType.BOOLEAN,
    wit.DataType.TEXT: DataType.TEXT,
}
_FROM_TYPE = {v: k for k, v in _TO_TYPE.items()}
_DATA = {
    wit.ColumnData_Float64: DataType.FLOAT64,
    wit.ColumnData_Int64: DataType.INT64,
    wit.ColumnData_Boolean: DataType.BOOLEAN,
    wit.ColumnData_Text: DataType.TEXT,
}
_TO_DATA = {
    DataType.FLOAT64: wit.ColumnData_Float64,
    DataType.INT64: wit.ColumnData_Int64,
    DataType.BOOLEAN: wit.ColumnData_Boolean,
    DataType.TEXT: wit.ColumnData_Text,
}


def schema_in(fields: list[wit.Field]) -> list[Field]:
    """The SDK's fields for the contract's."""
    return [Field(f.name, _TO_TYPE[f.data_type], f.nullable) for f in fields]


def schema_out(fields: list[Field]) -> list[wit.Field]:
    """The contract's fields for the SDK's."""
    return [wit.Field(f.name, _FROM_TYPE[f.type], f.nullable) for f in fields]


def batch_in(batch: wit.Batch) -> Batch:
    """The SDK's batch for the contract's; the value lists are shared, not copied."""
    columns = [column_in(c) for c in batch.columns]
    return Batch(batch.num_rows, columns)


def batch_out(batch: Batch | list[Column], what: str) -> wit.Batch:
    """The contract's batch for the SDK's (a list of columns is taken as a batch) that `what`
    returned."""
    if isinstance(batch, list):
        if not all(isinstance(c, Column) for c in batch):
            raise PluginError(f"{what} returned a list that holds something other than Columns")
        batch = Batch.of(batch)
    if not isinstance(batch, Batch):
        raise PluginError(f"{what} returned {type(batch).__name__}; it must return a Batch or a list of Columns")
    return wit.Batch(batch.num_rows, [wit.Column(c.name, _TO_DATA[c.type](c.values), c.nulls) for c in batch.columns])


_TASK = {
    Task.BINARY_CLASSIFICATION: wit.Task.BINARY_CLASSIFICATION,
    Task.MULTICLASS_CLASSIFICATION: wit.Task.MULTICLASS_CLASSIFICATION,
    Task.REGRESSION: wit.Task.REGRESSION,
}
_SEVERITY = {
    wit.Severity.INFO: Severity.INFO,
    wit.Severity.WARNING: Severity.WARNING,
    wit.Severity.CRITICAL: Severity.CRITICAL,
}


def column_in(c: wit.Column) -> Column:
    """The SDK's column for the contract's."""
    return Column(c.name, _DATA[type(c.data)], c.data.value, c.nulls)


def model_info_out(info: ModelInfo) -> wit.ModelInfo:
    """The contract's model description that `describe` returned."""
    if not isinstance(info, ModelInfo):
        raise PluginError(f"describe returned {type(info).__name__}; it must return a ferry_plugin.ModelInfo")
    return wit.ModelInfo(_TASK[info.task], schema_out(info.inputs),
                         [wit.ModelOutput(o.name, o.description) for o in info.outputs])


def _ref_in(r: wit.PluginRef) -> PluginRef:
    return PluginRef(r.name, r.version, r.digest)


def deployment_in(d: wit.Deployment, settings: dict) -> Deployment:
    """The SDK's deployment for the contract's, with its settings parsed."""
    return Deployment(d.name, d.model_name, d.model_version, _ref_in(d.model_plugin),
                      [_ref_in(r) for r in d.pipeline],
                      [Artifact(a.path, a.digest, bytes(a.contents)) for a in d.artifacts], settings)


def status_out(s: DeploymentStatus, what: str) -> wit.DeploymentStatus:
    """The contract's deployment status that `what` returned."""
    if not isinstance(s, DeploymentStatus):
        raise PluginError(f"{what} returned {type(s).__name__}; it must return a ferry_plugin.DeploymentStatus")
    return wit.DeploymentStatus(s.name, s.active_version, list(s.history), s.message)


def alert_in(a: wit.Alert) -> Alert:
    """The SDK's alert for the contract's."""
    return Alert(_SEVERITY[a.severity], a.title, a.text, dict(a.labels), a.source, a.time_ms)


def manifest_out(m: Manifest, kind: wit.PluginKind) -> wit.Manifest:
    """The contract's manifest."""
    return wit.Manifest(
        name=m.name,
        version=m.version,
        kind=kind,
        description=m.description,
        authors=list(m.authors),
        license=m.license,
        repository=m.repository,
        keywords=list(m.keywords),
        capabilities=wit.Capabilities(
            directories=[wit.DirectoryRequest(d.guest_path, d.writable, d.purpose) for d in m.directories],
            http_hosts=list(m.http_hosts),
            env=list(m.env),
        ),
        limits=wit.Limits(memory_mib=m.memory_mib, timeout_ms=m.timeout_ms),
        config_schema=m.schema_text(),
    )


def error_out(e: BaseException) -> wit.PluginError:
    """The `plugin-error` for an exception: the SDK's errors map case by case; anything else
    is `internal`, naming the exception's type, message and where it was raised."""
    if isinstance(e, ConfigError):
        return wit.PluginError_Config(e.message)
    if isinstance(e, InputError):
        return wit.PluginError_Input(wit.InputError(e.column, e.row, e.message))
    if isinstance(e, Unsupported):
        return wit.PluginError_Unsupported(e.message)
    if isinstance(e, PluginError):
        return wit.PluginError_Internal(e.message)
    return wit.PluginError_Internal(f"{type(e).__name__}: {e}{where_raised(e)}")


def _is_library(filename: str) -> bool:
    """Whether a frame's file is Python's own or the SDK's rather than the plugin's."""
    name = filename.replace("\\", "/")
    return (name.startswith("<") or "/python3." in name or "/lib/python" in name
            or "/ferry_plugin/" in name)


def where_raised(e: BaseException) -> str:
    """` (at FILE:LINE)` of the innermost frame; when that frame is in Python's library,
    the plugin's own innermost frame too (` (at <frozen os>:709, from app.py:12)`)."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return ""
    # The component's Python path is /0, /1, ...: the file's name says more than its folder.
    def at(frame: traceback.FrameSummary) -> str:
        return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
    innermost = frames[-1]
    if not _is_library(innermost.filename):
        return f" (at {at(innermost)})"
    own = next((f for f in reversed(frames) if not _is_library(f.filename)), None)
    return f" (at {at(innermost)}, from {at(own)})" if own else f" (at {at(innermost)})"


def guarded(f: Callable[..., Any]) -> Callable[..., Any]:
    """`f` with every exception raised as the contract's `Err(plugin-error)`."""

    @functools.wraps(f)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except Err:
            raise
        except BaseException as e:  # noqa: BLE001 - every error must reach the host typed
            raise Err(error_out(e)) from None

    return call
