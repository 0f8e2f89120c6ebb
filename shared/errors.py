"""One base exception for Archway; the CLI maps these to one-line messages."""

from __future__ import annotations


class ArchwayError(Exception):
    """An error the user can fix; the CLI prints it without a traceback."""

    exit_code = 1


class ConfigError(ArchwayError):
    """Bad configuration: names the file, the key path and the bad value."""

    exit_code = 2

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file = file
        self.path = path
        self.message = message
        where = f"{file}: {path}: " if path else f"{file}: "
        super().__init__(f"{where}{message}")


class ConfigErrors(ConfigError):
    """Several configuration errors found in one pass; prints one line each."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.path, first.message)
        Exception.__init__(self, "\n".join(str(e) for e in errors))
