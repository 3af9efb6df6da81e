"""What deployers and alert sinks are handed, and what deployers keep on their target.

A deployer gets a `Deployment` (the model version, its pinned plugins and its artifacts) and
answers with a `DeploymentStatus`. `TargetState` keeps, in one JSON file on the target, the
version that is live and the history a rollback returns to, with the same rules as the Rust
SDK's, so plan, apply, status and rollback mean the same on every target."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from enum import Enum

from .errors import ConfigError, InputError, PluginError


@dataclass
class PluginRef:
    """A plugin pinned by name, version and digest."""

    name: str
    version: str
    digest: str


@dataclass
class Artifact:
    """A file that belongs to a deployment (`model/model.bin`, `lineage.json`, ...)."""

    path: str
    digest: str
    contents: bytes


@dataclass
class Deployment:
    """What to deploy. `settings` is the target's configuration, parsed."""

    name: str
    model_name: str
    model_version: str
    model_plugin: PluginRef
    pipeline: list[PluginRef]
    artifacts: list[Artifact]
    settings: dict


@dataclass
class DeploymentStatus:
    """What is live on a target, and the versions a rollback returns to (newest first)."""

    name: str
    active_version: str | None
    history: list[str] = field(default_factory=list)
    message: str = ""


class Severity(Enum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass
class Alert:
    """An alert to deliver."""

    severity: Severity
    title: str
    text: str
    labels: dict[str, str]
    source: str
    time_ms: int

    def to_json(self) -> dict:
        """The alert as the JSON object Ferry's sinks send."""
        return {"severity": self.severity.value, "title": self.title, "text": self.text,
                "labels": dict(sorted(self.labels.items())), "source": self.source, "time_ms": self.time_ms}


_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,128}")


def check_segment(what: str, s: str) -> None:
    """Refuses `s` as one path segment on a target (a deployment name, a version) unless it is
    letters, digits, `.`, `-` and `_`, at most 128 of them, and not `.` or `..`."""
    if not _SEGMENT.fullmatch(s) or s in (".", ".."):
        raise ConfigError(f"{what} {json.dumps(s)} may only hold letters, digits, `.`, `-` and `_`")


def require_granted(folder: str) -> None:
    """Refuses to go on unless `folder`, a directory the manifest asks for, was granted: a plugin
    sees only the directories the operator granted, so a missing one means the operator did not,
    and a deployer must say so rather than report that nothing is deployed."""
    if not os.path.isdir(folder):
        raise ConfigError(f"{folder} was not granted: grant this deployer a folder there "
                          f"(`--allow-dir {folder}=FOLDER`)")


def write_atomically(path: str, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file and a rename, so a reader sees the old
    file or the new one, never half of one."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        raise PluginError(f"writing {path}: {e}") from None


@dataclass
class TargetState:
    """The live version of one deployment on a target, and its rollback history."""

    active: str | None = None
    history: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str) -> TargetState:
        """The state at `path`; a missing file is a deployment never applied."""
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as e:
            raise PluginError(f"{path} is damaged or unreadable: {e}") from None
        return cls(data.get("active"), list(data.get("history", [])))

    def save(self, path: str) -> None:
        """Writes the state to `path` atomically."""
        write_atomically(path, json.dumps({"active": self.active, "history": self.history}, indent=2).encode())

    def promote(self, version: str, keep: int) -> None:
        """Makes `version` live; the version it replaces heads the history, which keeps `keep`."""
        previous, self.active = self.active, version
        if previous is not None and previous != version:
            self.history = [previous] + [v for v in self.history if v != previous]
        self.history = [v for v in self.history if v != version][:keep]

    def step_back(self, name: str) -> tuple[str | None, str]:
        """Returns deployment `name` to the newest earlier version: the version left and the
        version now live."""
        if not self.history:
            raise InputError("there is no earlier version to roll back to", column=name)
        back = self.history.pop(0)
        left, self.active = self.active, back
        return left, back

    def status(self, name: str, message: str) -> DeploymentStatus:
        """The status a deployer reports for deployment `name`."""
        return DeploymentStatus(name, self.active, list(self.history), message)

    def summary(self) -> str:
        """`version N is active`, or `not deployed`."""
        return f"version {self.active} is active" if self.active is not None else "not deployed"
