"""Batches, columns and schemas: the data every plugin kind reads and writes.

A batch is stored column by column; each column holds one typed Python list (`float`, `int`,
`bool` or `str` values) and, when it has nulls, a list of flags with one entry per row."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Iterator, Sequence

from .errors import InputError


class DataType(Enum):
    """The type of a column."""

    FLOAT64 = "float64"
    INT64 = "int64"
    BOOLEAN = "boolean"
    TEXT = "text"

    @property
    def numeric(self) -> bool:
        """True for float64, int64 and boolean (booleans read as 0.0 and 1.0)."""
        return self is not DataType.TEXT


@dataclass
class Field:
    """One field of a schema."""

    name: str
    type: DataType
    nullable: bool = False


_PLACEHOLDER = {DataType.FLOAT64: 0.0, DataType.INT64: 0, DataType.BOOLEAN: False, DataType.TEXT: ""}


class Column:
    """A named column: `values` is a list of one type; `nulls` is `None` or one flag per row
    (`True` marks a null, whose slot in `values` holds a placeholder)."""

    __slots__ = ("name", "type", "values", "nulls")

    def __init__(self, name: str, type: DataType, values: list, nulls: list[bool] | None = None):
        if nulls is not None and len(nulls) != len(values):
            raise ValueError(f"column `{name}`: {len(nulls)} null flags for {len(values)} values")
        self.name = name
        self.type = type
        self.values = values
        self.nulls = nulls if nulls is not None and any(nulls) else None

    @classmethod
    def float64(cls, name: str, values: Iterable[float], nulls: list[bool] | None = None) -> Column:
        """A float64 column."""
        return cls(name, DataType.FLOAT64, [float(v) for v in values], nulls)

    @classmethod
    def int64(cls, name: str, values: Iterable[int], nulls: list[bool] | None = None) -> Column:
        """An int64 column."""
        return cls(name, DataType.INT64, [int(v) for v in values], nulls)

    @classmethod
    def boolean(cls, name: str, values: Iterable[bool], nulls: list[bool] | None = None) -> Column:
        """A boolean column."""
        return cls(name, DataType.BOOLEAN, [bool(v) for v in values], nulls)

    @classmethod
    def text(cls, name: str, values: Iterable[str], nulls: list[bool] | None = None) -> Column:
        """A text column."""
        return cls(name, DataType.TEXT, [str(v) for v in values], nulls)

    @classmethod
    def from_optional(cls, name: str, type: DataType, values: Sequence) -> Column:
        """A column from values where `None` marks a null."""
        nulls = [v is None for v in values]
        filled = [_PLACEHOLDER[type] if v is None else v for v in values]
        return cls(name, type, filled, nulls)

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator:
        """The values, with `None` for nulls."""
        if self.nulls is None:
            return iter(self.values)
        return (None if n else v for v, n in zip(self.values, self.nulls))

    def __repr__(self) -> str:
        return f"Column({self.name!r}, {self.type.value}, {len(self)} rows)"

    @property
    def field(self) -> Field:
        """The column's field in a schema."""
        return Field(self.name, self.type, self.nulls is not None)

    def is_null(self, row: int) -> bool:
        """True when the value in `row` is null."""
        return self.nulls is not None and self.nulls[row]

    def null_count(self) -> int:
        """How many values are null."""
        return 0 if self.nulls is None else sum(1 for n in self.nulls if n)

    def numeric(self) -> list[float]:
        """The values as floats (int64 and boolean converted); an `InputError` naming the
        column for a text column."""
        if self.type is DataType.FLOAT64:
            return self.values
        if self.type is DataType.TEXT:
            raise InputError(f"expected a numeric column, found {self.type.value}", column=self.name)
        return [float(v) for v in self.values]

    def expect(self, type: DataType) -> list:
        """The values, which must be of `type` (an `InputError` naming the column otherwise)."""
        if self.type is not type:
            raise InputError(f"expected a {type.value} column, found {self.type.value}", column=self.name)
        return self.values

    def with_nulls_of(self, other: Column) -> Column:
        """This column with the null flags of `other` (the column it was computed from)."""
        self.nulls = None if other.nulls is None else list(other.nulls)
        return self


class Batch:
    """Rows stored column by column; every column has `len(batch)` values."""

    __slots__ = ("num_rows", "columns", "_index")

    def __init__(self, num_rows: int, columns: list[Column]):
        for c in columns:
            if len(c) != num_rows:
                raise ValueError(f"column `{c.name}` has {len(c)} values in a batch of {num_rows} rows")
        self.num_rows = num_rows
        self.columns = columns
        self._index = {c.name: c for c in columns}

    @classmethod
    def of(cls, columns: list[Column]) -> Batch:
        """A batch of `columns`, which must all have the same length."""
        return cls(len(columns[0]) if columns else 0, columns)

    def __len__(self) -> int:
        return self.num_rows

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> Column:
        return self.column(name)

    def column(self, name: str) -> Column:
        """The column `name`; an `InputError` that lists the batch's columns otherwise."""
        try:
            return self._index[name]
        except KeyError:
            have = ", ".join(c.name for c in self.columns)
            raise InputError(f"no such column (the batch has [{have}])", column=name) from None

    def get(self, name: str) -> Column | None:
        """The column `name`, or `None`."""
        return self._index.get(name)

    @property
    def schema(self) -> list[Field]:
        """The batch's fields, in column order."""
        return [c.field for c in self.columns]
