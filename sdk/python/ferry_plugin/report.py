"""A validator's report: complete counts per rule and column, and at most a set number of
listed violations."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Violation:
    """One broken rule: on a column, at a row where it applies."""

    rule: str
    message: str
    column: str | None = None
    row: int | None = None


@dataclass
class Report:
    """What a validator found in one batch. `add` keeps every count but lists at most
    `max_listed` violations, and then marks the report truncated."""

    rows_checked: int
    max_listed: int = 100
    violations: list[Violation] = field(default_factory=list)
    counts: dict[tuple[str, str | None], int] = field(default_factory=dict)
    truncated: bool = False

    def add(self, rule: str, message: str, column: str | None = None, row: int | None = None) -> None:
        """Records one violation of `rule`."""
        key = (rule, column)
        self.counts[key] = self.counts.get(key, 0) + 1
        if len(self.violations) < self.max_listed:
            self.violations.append(Violation(rule, message, column, row))
        else:
            self.truncated = True

    @property
    def ok(self) -> bool:
        """True when nothing was violated."""
        return not self.counts
