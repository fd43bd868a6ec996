"""The project's own errors: what a user did wrong, said plainly."""

from __future__ import annotations


class HightideError(Exception):
    """Base class for errors shown to users without a traceback."""


class ScenarioError(HightideError):
    """A scenario file (or override) is invalid: names the file, the field and what is allowed."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None):
        self.message = message
        self.file = file
        self.field = field
        super().__init__(self.__str__())

    def with_file(self, file: str) -> "ScenarioError":
        return ScenarioError(self.message, file=file, field=self.field)

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.field:
            where.append(f"field `{self.field}`")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class OutputError(HightideError):
    """An output directory cannot be used as asked (exists, incomplete, unreadable)."""
