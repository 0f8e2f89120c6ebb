"""One base exception for Archway; the CLI maps these to one-line messages."""

from __future__ import annotations


def one_line(text: str, limit: int = 400) -> str:
    """Messages are one line: newlines folded, runaway text cut with its length noted."""
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class ArchwayError(Exception):
    """An error the user can fix; the CLI prints it without a traceback."""

    exit_code = 1


class ConfigError(ArchwayError):
    """Bad configuration: names the file, the key path and the bad value."""

    exit_code = 2

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file = file
        self.path = one_line(path)
        self.message = one_line(message)
        path, message = self.path, self.message
        where = f"{file}: {path}: " if path else f"{file}: "
        super().__init__(f"{where}{message}")


class ConfigErrors(ConfigError):
    """Several configuration errors found in one pass.

    Still one line: the first error in full, then where the others are (each is shown in
    full once the one before it is fixed). ``errors`` holds all of them.
    """

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.path, first.message)
        rest = [f"{e.file}: {e.path}" if e.file != first.file else e.path or e.file
                for e in errors[1:]]
        named = ", ".join(rest[:3]) + (", ..." if len(rest) > 3 else "")
        more = len(rest)
        Exception.__init__(self, f"{first} (and {more} more error{'s' * (more != 1)}: {named})")
