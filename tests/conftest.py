"""Test harness: every test that takes the ``impl`` fixture runs once per implementation.

``c`` imports the compiled ``_c`` modules directly, so a missing extension is an error, not a
skip; ``py`` imports the pure-Python twins. ``--no-c-extensions`` runs only ``py`` (a platform with
no compiler).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import pytest

IMPLEMENTATIONS = ("c", "py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-c-extensions",
        action="store_true",
        default=False,
        help="run only the pure-Python twins (for a platform where the extension is not built)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "impl" in metafunc.fixturenames:
        ids = ["py"] if metafunc.config.getoption("--no-c-extensions") else list(IMPLEMENTATIONS)
        metafunc.parametrize("impl", ids, indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked `compiled` compare against the compiled modules themselves (twin parity);
    # they cannot run where the extension is not built, and --no-c-extensions says so.
    if config.getoption("--no-c-extensions"):
        skip = pytest.mark.skip(reason="needs the compiled extension (--no-c-extensions)")
        for item in items:
            if item.get_closest_marker("compiled") is not None:
                item.add_marker(skip)


def load_impl(name: str) -> SimpleNamespace:
    """The kernels of one implementation, imported from its own modules (no selector)."""
    websocket = importlib.import_module(f"fastws._websocket_{name}")
    datastructures = importlib.import_module(f"fastws._datastructures_{name}")
    codec = importlib.import_module(f"fastws._codec_{name}")
    return SimpleNamespace(
        name=name,
        WebSocket=websocket.WebSocket,
        Headers=datastructures.Headers,
        MutableHeaders=datastructures.MutableHeaders,
        QueryParams=datastructures.QueryParams,
        parse_cookie=datastructures.parse_cookie,
        parse_query_string=datastructures.parse_query_string,
        url_from_scope=datastructures.url_from_scope,
        encode_json_text=codec.encode_json_text,
        encode_json_bytes=codec.encode_json_bytes,
        decode_json_text=codec.decode_json_text,
        decode_json_bytes=codec.decode_json_bytes,
    )


@pytest.fixture(scope="session")
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    return load_impl(request.param)


class FakeServer:
    """In-memory ASGI server side of one WebSocket: ``receive`` pops the given client events (an
    exhausted list raises ``AssertionError``, so a test cannot hang), ``send`` records messages and
    can be told to fail with ``OSError``."""

    def __init__(self, events: Iterable[dict[str, Any]] = (), fail_send: bool = False) -> None:
        self.events = list(events)
        self.sent: list[dict[str, Any]] = []
        self.fail_send = fail_send

    async def receive(self) -> dict[str, Any]:
        assert self.events, "the app received more events than the test provided"
        return self.events.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        if self.fail_send:
            raise OSError("connection reset by peer")
        self.sent.append(message)


def make_scope(**overrides: Any) -> dict[str, Any]:
    """A realistic ASGI ``websocket`` scope as uvicorn builds it."""
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51000),
        "root_path": "",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            (b"sec-websocket-version", b"13"),
        ],
        "subprotocols": [],
        "state": {},
        "extensions": {"websocket.http.response": {}},
    }
    scope.update(overrides)
    return scope


def run(coro: Any) -> Any:
    """Run one coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)
