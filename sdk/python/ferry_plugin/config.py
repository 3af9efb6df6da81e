"""Reading a plugin's JSON configuration and choosing the columns it works on."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from .data import DataType, Field
from .errors import ConfigError


def parse(text: str, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The configuration as a dict (`{}` for empty text). With `keys`, a key outside them is a
    `ConfigError` that names it and lists the accepted ones."""
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"the configuration is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a JSON object, not {type(config).__name__}")
    if keys is not None:
        allowed = list(keys)
        for key in config:
            if key not in allowed:
                raise ConfigError(f"unknown key `{key}` (expected one of: {', '.join(allowed)})")
    return config


def get(config: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """`config[key]`, which must be of `kind` when present; `default` when absent."""
    if key not in config:
        return default
    value = config[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        names = " or ".join(_json_name(k) for k in kinds)
        raise ConfigError(f"`{key}` must be {names}, not {json.dumps(value)}")
    return value


def _json_name(kind: type) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(kind, kind.__name__)


def select_columns(key: str, requested: list[str] | None, schema: list[Field],
                   accept: Callable[[DataType], bool], needs: str) -> list[str]:
    """The columns named in `requested` (each must exist and be accepted), or every column of
    `schema` that `accept` takes when nothing was requested. Errors name the configuration
    `key` and say what the plugin `needs` (e.g. "numbers")."""
    if requested is None:
        return [f.name for f in schema if accept(f.type)]
    if not isinstance(requested, list) or not all(isinstance(n, str) for n in requested):
        raise ConfigError(f"`{key}` must be a list of column names")
    by_name = {f.name: f for f in schema}
    out: list[str] = []
    for name in requested:
        field = by_name.get(name)
        if field is None:
            have = ", ".join(f.name for f in schema)
            raise ConfigError(f"`{key}` names `{name}`, which the data does not have (it has [{have}])")
        if not accept(field.type):
            raise ConfigError(f"`{key}` names `{name}`, a {field.type.value} column; this plugin needs {needs}")
        if name in out:
            raise ConfigError(f"`{key}` names `{name}` twice")
        out.append(name)
    return out


def numeric_columns(config: dict[str, Any], schema: list[Field], key: str = "columns") -> list[str]:
    """The numeric columns named by `key`, or every numeric column when it is absent."""
    return select_columns(key, config.get(key), schema, lambda t: t.numeric, "numbers")
