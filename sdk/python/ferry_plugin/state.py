"""Learned state as JSON bytes, so it can be read and diffed. Python's `json` writes every float
so that it reads back to the same bits."""

from __future__ import annotations

import json
from typing import Any

from .errors import ConfigError, PluginError


def encode(state: Any) -> bytes:
    """`state` (made of dicts, lists, str, int, float, bool and None) as JSON bytes."""
    try:
        return json.dumps(state, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise PluginError(f"could not encode state: {e}") from None


def decode(data: bytes, plugin: str) -> Any:
    """A state `encode` wrote; a `ConfigError` naming `plugin` when it is not one."""
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"the state is not a valid {plugin} state: {e}") from None
