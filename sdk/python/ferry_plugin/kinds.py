"""One export function per plugin kind. Each returns the classes componentize-py looks for in
the app module, so an app ends with one of:

    Plugin, Validator = ferry_plugin.validator(MANIFEST, validate)
    Plugin, Transform = ferry_plugin.transform(MANIFEST, Analyzer, Transformer, output_schema)
    Plugin, Model = ferry_plugin.model(MANIFEST, load, train)
    Plugin, Deployer = ferry_plugin.deployer(MANIFEST, plan, apply, status, rollback)
    Plugin, AlertSink = ferry_plugin.alert_sink(MANIFEST, deliver)

A validator, transform or model may also be prepared once (contract 0.1.1): add

    PreparedTransform = ferry_plugin.prepared(Transform)

(or `PreparedValidator = ferry_plugin.prepared(Validator)`, `PreparedModel =
ferry_plugin.prepared(Model)`) and build for the kind's `prepared-*-plugin` world. The host
then builds the transformer (loads the model, reads the configuration) once, snapshots the
instance, and starts every call's fresh instance from that snapshot instead of doing it again.

Configuration arrives parsed (a dict). When the manifest's `config_schema` is an object schema
with `"additionalProperties": false`, a key outside its `properties` is refused, naming it."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from . import _draws, config as _config, state as _state
from .acting import Alert, Deployment, DeploymentStatus
from .data import Batch, Column, Field
from .errors import PluginError, Unsupported
from .manifest import Manifest
from .model import ModelInfo
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


class _Kept:
    """What `prepare` built, kept in the instance for the calls after it. The host snapshots
    the instance once `prepare` returns, so every instance started from the snapshot finds it
    here."""

    def __init__(self) -> None:
        self._value: Any = None
        self._set = False

    def set(self, value: Any) -> None:
        self._value, self._set = value, True

    def get(self) -> Any:
        if not self._set:
            raise PluginError("called before `prepare` succeeded in this instance")
        return self._value


def prepared(kind: type) -> type:
    """The class that exports the `prepared-*` interface of `kind`, the `Validator`,
    `Transform` or `Model` class `validator`, `transform` or `model` returned."""
    found = getattr(kind, "_ferry_prepared", None)
    if found is None:
        raise TypeError(
            f"prepared() takes the Validator, Transform or Model class that ferry_plugin.validator, "
            f"transform or model returned, not {getattr(kind, '__name__', kind)!r}"
        )
    return found


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
        @_draws.computing
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

    kept = _Kept()

    class PreparedTransform:
        @_wit.guarded
        def prepare(self, config: str, state: bytes) -> None:
            kept.set(transformer(read_config(config), _state.decode(state, manifest.name)))

        @_wit.guarded
        @_draws.computing
        def apply(self, data: Any) -> Any:
            return _wit.batch_out(kept.get().apply(_wit.batch_in(data)), "apply")

    Transform._ferry_prepared = PreparedTransform
    return _plugin_class(manifest, wit.PluginKind.TRANSFORM), Transform


def validator(manifest: Manifest, validate: Callable[[dict[str, Any], Batch], Report]) -> tuple[type, type]:
    """The `Plugin` and `Validator` classes of a validator whose `validate(config, batch)`
    returns a `Report`."""
    # The contract's bindings exist only inside a component build; importing them here keeps
    # the rest of the SDK importable (and testable) in plain Python.
    from wit_world.imports import types as wit

    from . import _wit

    read_config = _config_reader(manifest)

    def checked(config: dict[str, Any], data: Any) -> Any:
        report = validate(config, _wit.batch_in(data))
        if not isinstance(report, Report):
            raise TypeError(f"validate must return a ferry_plugin.Report, not {type(report).__name__}")
        return wit.Report(
            rows_checked=report.rows_checked,
            violations=[wit.Violation(v.rule, v.column, v.row, v.message) for v in report.violations],
            counts=[wit.ViolationCount(rule, column, n) for (rule, column), n in report.counts.items()],
            truncated=report.truncated,
        )

    class Validator:
        @_wit.guarded
        @_draws.computing
        def validate(self, config: str, data: Any) -> Any:
            return checked(read_config(config), data)

    kept = _Kept()

    class PreparedValidator:
        @_wit.guarded
        def prepare(self, config: str) -> None:
            kept.set(read_config(config))

        @_wit.guarded
        @_draws.computing
        def validate(self, data: Any) -> Any:
            return checked(kept.get(), data)

    Validator._ferry_prepared = PreparedValidator
    return _plugin_class(manifest, wit.PluginKind.VALIDATOR), Validator


class PredictorType(Protocol):
    """What `model` needs of a loaded model."""

    def describe(self) -> ModelInfo: ...
    def predict(self, features: Batch) -> Batch | list[Column]: ...


def model(manifest: Manifest, load: Callable[[bytes, dict[str, Any]], PredictorType],
          train: Callable[[Batch, Column, dict[str, Any]], Any] | None = None) -> tuple[type, type]:
    """The `Plugin` and `Model` classes of a model adapter. `load(artifact, config)` returns an
    object with `describe()` (a `ModelInfo`) and `predict(features)`. `train(features, labels,
    config)`, when given, returns the artifact: `bytes` as they are, anything else as JSON.
    Without it, training answers `unsupported`."""
    # The contract's bindings exist only inside a component build; importing them here keeps
    # the rest of the SDK importable (and testable) in plain Python.
    from wit_world.imports import types as wit

    from . import _wit

    read_config = _config_reader(manifest)

    class Loaded:
        def __init__(self, inner: PredictorType):
            self.inner = inner

        def describe(self) -> Any:
            # `describe` has no error in the contract: an exception here traps, and the host
            # reports the plugin as failed.
            return _wit.model_info_out(self.inner.describe())

        @_wit.guarded
        @_draws.computing
        def predict(self, features: Any) -> Any:
            return _wit.batch_out(self.inner.predict(_wit.batch_in(features)), "predict")

    class Model:
        @_wit.guarded
        def load(self, artifact: bytes, config: str) -> Loaded:
            return Loaded(load(bytes(artifact), read_config(config)))

        @_wit.guarded
        def train(self, features: Any, labels: Any, config: str) -> bytes:
            if train is None:
                raise Unsupported(f"{manifest.name} loads models trained elsewhere; it cannot train")
            out = train(_wit.batch_in(features), _wit.column_in(labels), read_config(config))
            return bytes(out) if isinstance(out, (bytes, bytearray)) else _state.encode(out)

    kept = _Kept()

    class PreparedModel:
        @_wit.guarded
        def prepare(self, artifact: bytes, config: str) -> None:
            kept.set(load(bytes(artifact), read_config(config)))

        @_wit.guarded
        @_draws.computing
        def predict(self, features: Any) -> Any:
            return _wit.batch_out(kept.get().predict(_wit.batch_in(features)), "predict")

    Model._ferry_prepared = PreparedModel
    return _plugin_class(manifest, wit.PluginKind.MODEL), Model


def deployer(manifest: Manifest, plan: Callable[[Deployment], list[str]],
             apply: Callable[[Deployment], DeploymentStatus],
             status: Callable[[str, dict[str, Any]], DeploymentStatus],
             rollback: Callable[[str, dict[str, Any]], DeploymentStatus]) -> tuple[type, type]:
    """The `Plugin` and `Deployer` classes of a deployer. `plan(deployment)` returns the
    actions `apply` would take, as text, and takes none of them; `apply(deployment)`,
    `status(name, settings)` and `rollback(name, settings)` return a `DeploymentStatus`. The
    deployment's settings arrive parsed, like a configuration."""
    from wit_world.imports import types as wit

    from . import _wit

    read_config = _config_reader(manifest)

    class Deployer:
        @_wit.guarded
        def plan(self, target: Any) -> Any:
            actions = plan(_wit.deployment_in(target, read_config(target.settings)))
            if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
                raise PluginError("plan must return a list of str")
            return wit.DeploymentPlan(actions)

        @_wit.guarded
        def apply(self, target: Any) -> Any:
            return _wit.status_out(apply(_wit.deployment_in(target, read_config(target.settings))), "apply")

        @_wit.guarded
        def status(self, name: str, settings: str) -> Any:
            return _wit.status_out(status(name, read_config(settings)), "status")

        @_wit.guarded
        def rollback(self, name: str, settings: str) -> Any:
            return _wit.status_out(rollback(name, read_config(settings)), "rollback")

    return _plugin_class(manifest, wit.PluginKind.DEPLOYER), Deployer


def alert_sink(manifest: Manifest, deliver: Callable[[dict[str, Any], Alert], None]) -> tuple[type, type]:
    """The `Plugin` and `AlertSink` classes of an alert sink whose `deliver(config, alert)`
    delivers one alert or raises."""
    from wit_world.imports import types as wit

    from . import _wit

    read_config = _config_reader(manifest)

    class AlertSink:
        @_wit.guarded
        def deliver(self, config: str, alert: Any) -> None:
            deliver(read_config(config), _wit.alert_in(alert))

    return _plugin_class(manifest, wit.PluginKind.ALERT_SINK), AlertSink
