"""Domain errors raised inside kg; the CLI turns them into one clear message."""


class PlanError(Exception):
    """A plan file that cannot be read or parsed; names the file and, where it applies, the line."""

    def __init__(self, file: str, why: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.why = why
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {why}")


class PlanReadError(PlanError):
    """The bytes of a file are not a readable text plan (empty, binary, undecodable, too large)."""


class PlanParseError(PlanError):
    """The text reads but is not a service-improvement plan of the expected template."""


class QueryError(Exception):
    """A SPARQL query that is malformed, not allowed (updates) or too costly."""
