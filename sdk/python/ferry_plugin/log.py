"""Structured logging through the host: each line is attributed to the plugin.

    from ferry_plugin import log
    log.info("fitted", columns=3)
"""

from __future__ import annotations

from typing import Any


def _emit(level: str, message: str, fields: dict[str, Any]) -> None:
    try:
        from wit_world.imports import host
    except ImportError:  # outside a component (unit tests): print instead
        print(f"[{level}] {message} {fields}" if fields else f"[{level}] {message}")
        return
    host.log(getattr(host.LogLevel, level.upper()), message, [(k, str(v)) for k, v in fields.items()])


def trace(message: str, **fields: Any) -> None:
    """A trace-level line."""
    _emit("trace", message, fields)


def debug(message: str, **fields: Any) -> None:
    """A debug-level line."""
    _emit("debug", message, fields)


def info(message: str, **fields: Any) -> None:
    """An info-level line."""
    _emit("info", message, fields)


def warn(message: str, **fields: Any) -> None:
    """A warning."""
    _emit("warn", message, fields)


def error(message: str, **fields: Any) -> None:
    """An error line (for errors the plugin recovers from; raise the others)."""
    _emit("error", message, fields)
