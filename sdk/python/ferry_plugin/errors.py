"""The errors a plugin raises. Each becomes the matching `plugin-error` case of the contract;
any other exception becomes an `internal` error that names its type and message."""


class PluginError(Exception):
    """Base class of the errors below."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(PluginError):
    """The configuration is invalid; the message should name the key."""


class InputError(PluginError):
    """The data is invalid: name the column and, where it applies, the row."""

    def __init__(self, message: str, column: str | None = None, row: int | None = None):
        super().__init__(message)
        self.column = column
        self.row = row

    def __str__(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column `{self.column}`")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class Unsupported(PluginError):
    """The plugin does not support this operation."""
