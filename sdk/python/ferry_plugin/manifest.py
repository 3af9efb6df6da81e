"""What a plugin says about itself: name, version, the access it asks for, its default limits
and the JSON Schema of its configuration."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Directory:
    """A directory the plugin asks to have preopened at `guest_path`."""

    guest_path: str
    writable: bool = False
    purpose: str = ""


@dataclass
class Manifest:
    """A plugin's manifest. The kind comes from the export function that uses it."""

    name: str
    version: str
    description: str = ""
    config_schema: dict[str, Any] | str | None = None
    authors: list[str] = field(default_factory=list)
    license: str | None = None
    repository: str | None = None
    keywords: list[str] = field(default_factory=list)
    directories: list[Directory] = field(default_factory=list)
    http_hosts: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    memory_mib: int | None = None
    timeout_ms: int | None = None

    def schema_text(self) -> str:
        """The configuration schema as JSON text (`{}` when there is none)."""
        if self.config_schema is None:
            return "{}"
        if isinstance(self.config_schema, str):
            return self.config_schema
        return json.dumps(self.config_schema)
