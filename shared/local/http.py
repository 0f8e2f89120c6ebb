"""The request and response every local router speaks (edge -> API -> runner)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str  # decoded path, no query string
    query_string: str = ""  # raw, as received
    headers: list[tuple[str, str]] = field(default_factory=list)  # lower-case names, in order
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def with_header(self, name: str, value: str) -> Request:
        name = name.lower()
        headers = [(k, v) for k, v in self.headers if k != name] + [(name, value)]
        return Request(self.method, self.path, self.query_string, headers, self.body,
                       self.source_ip)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def set_header(self, name: str, value: str) -> None:
        name = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k != name] + [(name, value)]

    @classmethod
    def json(cls, status: int, text: str, **headers: str) -> Response:
        pairs = [("content-type", "application/json")]
        pairs += [(k.replace("_", "-").lower(), v) for k, v in headers.items()]
        return cls(status, pairs, text.encode())
