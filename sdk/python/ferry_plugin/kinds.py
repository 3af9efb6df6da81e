"""One export function per plugin kind. Each returns the classes componentize-py looks for in
the app module, so an app ends with, for a transform:

    Plugin, Transform = ferry_plugin.transform(MANIFEST, Analyzer, Transformer, output_schema)

and for a validator:

    Plugin, Validator = ferry_plugin.validator(MANIFEST, validate)

Configuration arrives parsed (a dict). When the manifest's `config_schema` is an object schema
with `"additionalProperties": false`, a key outside its `properties` is refused, naming it."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from . import config as _config, state as _state
from .data import Batch, Column, Field
from .manifest import Manifest
from .report import Report


def _config_reader(manifest: Manifest) -> Callable[[str], dict[str, Any]]:
    import json

    keys = None
    schema = manifest.config_schema
    if isinstance(schema, str):
        schema = json.loads(schema) if schema.strip() else None
    if isinstance(schema, dict) and schema.get("additionalProperties") is False:
        keys = list(schema.get("properties", {}))
    return lambda text: _config.parse(text, keys)


def _plugin_class(manifest: Manifest, kind: Any) -> type:
    from . import _wit

    wit_manifest = _wit.manifest_out(manifest, kind)

    class Plugin:
        def get_manifest(self) -> Any:
            return wit_manifest

    return Plugin


class AnalyzerType(Protocol):
    """What `transform` needs of an analyzer class."""

    def __init__(self, config: dict[str, Any], schema: list[Field]) -> None: ...
    def update(self, batch: Batch) -> None: ...
    def finish(self) -> Any: ...


class TransformerType(Protocol):
    """What `transform` needs of a transformer class."""

    def __init__(self, config: dict[str, Any], state: Any) -> None: ...
    def apply(self, batch: Batch) -> Batch | list[Column]: ...


def transform(manifest: Manifest, analyzer: type[AnalyzerType], transformer: type[TransformerType],
              output_schema: Callable[[dict[str, Any], list[Field]], list[Field]]) -> tuple[type, type]:
    """The `Plugin` and `Transform` classes of a transform. The analyzer's `finish` returns the
    learned state: `bytes` are kept as they are, anything else is stored as JSON and handed
    back decoded to the transformer."""
    # The contract's bindings exist only inside a component build; importing them here keeps
    # the rest of the SDK importable (and testable) in plain Python.
    from wit_world.imports import types as wit

    from . import _wit

    read_config = _config_reader(manifest)

    class Analysis:
        def __init__(self, inner: AnalyzerType):
            self.inner = inner

        @_wit.guarded
        def update(self, data: Any) -> None:
            self.inner.update(_wit.batch_in(data))

        @_wit.guarded
        def finish(self) -> bytes:
            state = self.inner.finish()
            return bytes(state) if isinstance(state, (bytes, bytearray)) else _state.encode(state)

    class Application:
        def __init__(self, inner: TransformerType):
            self.inner = inner

        @_wit.guarded
        def apply(self, data: Any) -> Any:
            return _wit.batch_out(self.inner.apply(_wit.batch_in(data)), "apply")

    class Transform:
        @_wit.guarded
        def new_analyzer(self, config: str, input: list) -> Analysis:
            return Analysis(analyzer(read_config(config), _wit.schema_in(input)))

        @_wit.guarded
        def new_transformer(self, config: str, state: bytes) -> Application:
            decoded = _state.decode(state, manifest.name)
            return Application(transformer(read_config(config), decoded))

        @_wit.guarded
        def output_schema(self, config: str, input: list) -> list:
            return _wit.schema_out(output_schema(read_config(config), _wit.schema_in(input)))

    return _plugin_class(manifest, wit.PluginKind.TRANSFORM), Transform


def validator(manifest: Manifest, validate: Callable[[dict[str, Any], Batch], Report]) -> tuple[type, type]:
    """The `Plugin` and `Validator` classes of a validator whose `validate(config, batch)`
    returns a `Report`."""
    # The contract's bindings exist only inside a component build; importing them here keeps
    # the rest of the SDK importable (and testable) in plain Python.
    from wit_world.imports import types as wit

    from . import _wit

    read_config = _config_reader(manifest)

    class Validator:
        @_wit.guarded
        def validate(self, config: str, data: Any) -> Any:
            report = validate(read_config(config), _wit.batch_in(data))
            if not isinstance(report, Report):
                raise TypeError(f"validate must return a ferry_plugin.Report, not {type(report).__name__}")
            return wit.Report(
                rows_checked=report.rows_checked,
                violations=[wit.Violation(v.rule, v.column, v.row, v.message) for v in report.violations],
                counts=[wit.ViolationCount(rule, column, n) for (rule, column), n in report.counts.items()],
                truncated=report.truncated,
            )

    return _plugin_class(manifest, wit.PluginKind.VALIDATOR), Validator
