"""Test harness: every test that takes the ``impl`` fixture runs once per implementation.

``c`` imports the compiled ``_c`` modules directly, so a missing extension is an error, not a
skip; ``py`` imports the pure-Python twins. ``--no-c-extensions`` runs only ``py`` (a platform with
no compiler).

``FASTWS_STRICT_TESTS=1`` (set by ``.ci/run`` and the GitHub jobs) turns every skip into a failure
unless its reason is listed in ``ALLOWED_SKIPS`` below: in CI a missing test dependency (a module-level
``importorskip`` dropping a whole file, a server that did not start) fails the run instead of
hiding a regression.
"""

from __future__ import annotations

import asyncio
import importlib
import os
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


#: Skip reasons that CI accepts under ``FASTWS_STRICT_TESTS=1``, each with where those tests do run.
#: A reason matches by prefix.
ALLOWED_SKIPS: dict[str, str] = {
    # Bocadillo pins Starlette 0.12, which conflicts with the main environment: .ci/bocadillo runs
    # tests/dialects/test_dialect_bocadillo.py in a virtual environment of its own.
    "could not import 'bocadillo'": ".ci/bocadillo",
    # The browser tests need Chromium, which .ci/reliability installs and runs them with.
    "no Chromium installed": ".ci/reliability",
    # The installed-wheel legs (.ci/wheels) test a copy of tests/ without docs/: the nginx test
    # reads its configuration from docs/deploy.md and runs in .ci/run's suite from the checkout.
    "docs/deploy.md is not next to this copy of the tests": ".ci/run (the README test command)",
    # Likewise tests/test_layout.py reads README.md, docs/ and .ci/import-cycles.py from the checkout.
    "README.md, docs/ and .ci/ are not next to this copy of the tests": ".ci/run (the README test command)",
    # matplotlib is in the bench extra, not the test extra: .ci/no-orjson installs both and runs
    # tests/test_bench.py's plot test.
    "could not import 'matplotlib'": ".ci/no-orjson",
    # The old-orjson stand-in of tests/codec/test_codec.py needs orjson; every leg but .ci/no-orjson has it.
    "could not import 'orjson'": ".ci/run, .ci/lowest (orjson 3.9.15) and the installed-wheel legs",
    # tests/test_threads.py's GIL check needs a free-threaded interpreter: the 3.14t job of
    # .github/workflows/ci.yml (no free-threaded Python is installable on the CI machine).
    "not a free-threaded interpreter": "the 3.14t job of .github/workflows/ci.yml",
}
#: Allowed only when the run itself asked for the pure-Python twins alone.
NO_C_EXTENSION_SKIPS = (
    "needs the compiled extension (--no-c-extensions)",
    "run without the compiled extensions (--no-c-extensions)",
)


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return str(longrepr)


def _strict_skip(config: pytest.Config, report: pytest.CollectReport | pytest.TestReport) -> None:
    # Under FASTWS_STRICT_TESTS=1, turn a skip whose reason is not allowed into a failure.
    if not report.skipped or os.environ.get("FASTWS_STRICT_TESTS", "") in ("", "0"):
        return
    if hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if reason.startswith(tuple(ALLOWED_SKIPS)):
        return
    if reason.startswith(NO_C_EXTENSION_SKIPS) and config.getoption("--no-c-extensions"):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"FASTWS_STRICT_TESTS=1: skipped ({reason}); in CI a skip is a failure unless tests/conftest.py "
        "ALLOWED_SKIPS names where these tests run instead"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    _strict_skip(item.config, outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    outcome = yield
    _strict_skip(collector.config, outcome.get_result())


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
    websocket = importlib.import_module(f"fastws.websocket._core_{name}")
    datastructures = importlib.import_module(f"fastws.datastructures._core_{name}")
    codec = importlib.import_module(f"fastws.codec._json_{name}")
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
