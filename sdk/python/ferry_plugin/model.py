"""What a model adapter says about a loaded model: its task, the features it reads and the
columns `predict` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .data import Field


class Task(Enum):
    """What a model predicts."""

    BINARY_CLASSIFICATION = "binary-classification"
    MULTICLASS_CLASSIFICATION = "multiclass-classification"
    REGRESSION = "regression"


@dataclass
class ModelOutput:
    """One column `predict` returns."""

    name: str
    description: str = ""


@dataclass
class ModelInfo:
    """A loaded model's description of itself."""

    task: Task
    inputs: list[Field]
    outputs: list[ModelOutput] = field(default_factory=list)
