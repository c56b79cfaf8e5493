"""The ``fastws`` command line (``python -m fastws``) and the bundled demo app.

``fastws serve`` runs as a real subprocess on an ephemeral port; the test reads its banner,
fetches the demo page with httpx, echoes through ``/ws`` with the ``websockets`` client, then
stops it with a signal and checks that it exits promptly and cleanly. Everything is bounded by
``asyncio.timeout``; a process that outlives its test is killed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

import fastws
from fastws import cli, demo

#: Upper bound for a whole subprocess scenario (seconds).
SCENARIO_TIMEOUT = 30.0
#: Upper bound for the server to print its banner (seconds).
BANNER_TIMEOUT = 15.0
#: How long a signalled server may take to exit (seconds).
EXIT_TIMEOUT = 5.0

#: Whether the compiled extension modules were built for this interpreter.
COMPILED = all(
    importlib.util.find_spec(f"fastws.{name}_c") is not None for name in ("_websocket", "_datastructures", "_codec")
)

BANNER = re.compile(
    r"^fastws (?P<version>\S+) \((?P<impl>cython|python)\) serving (?P<app>\S+) "
    r"on http://127\.0\.0\.1:(?P<port>\d+)/ \(WebSocket: ws://127\.0\.0\.1:(?P=port)/ws; "
    r"protocol: (?P<protocol>\S+)\)$"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(no_extensions: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if no_extensions:
        env["FASTWS_NO_EXTENSIONS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@asynccontextmanager
async def fastws_process(*args: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m fastws ARGS`` as an asyncio subprocess; killed on the way out if still alive."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fastws",
        *args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


async def exercise_demo(port: int) -> dict[str, Any]:
    """Fetch the demo page and echo a text and a binary message through ``/ws``."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        page = await http.get("/")
        missing = await http.get("/nope")
    async with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5, close_timeout=2) as ws:
        await ws.send("hello ✓")
        text = await ws.recv()
        await ws.send(b"\x00\x01\xfe\xff")
        data = await ws.recv()
    return {"page": page, "missing": missing, "echoes": [text, data]}


def serve_scenario(
    port_arg: int, no_extensions: bool, stop_signal: signal.Signals, extra: tuple[str, ...] = ()
) -> tuple[re.Match[str], dict[str, Any], int, str]:
    """Start ``fastws serve``, exercise the demo, send ``stop_signal`` and collect the outcome:
    (banner match, demo results, exit status, stderr)."""

    async def scenario() -> tuple[re.Match[str], dict[str, Any], int, str]:
        async with asyncio.timeout(SCENARIO_TIMEOUT):
            async with fastws_process(
                "serve", "--port", str(port_arg), *extra, env=child_env(no_extensions)
            ) as process:
                assert process.stdout is not None
                async with asyncio.timeout(BANNER_TIMEOUT):
                    line = (await process.stdout.readline()).decode().rstrip("\n")
                banner = BANNER.match(line)
                assert banner is not None, f"unexpected banner {line!r}"
                results = await exercise_demo(int(banner["port"]))
                process.send_signal(stop_signal)
                async with asyncio.timeout(EXIT_TIMEOUT):
                    _, stderr = await process.communicate()
                assert process.returncode is not None
                return banner, results, process.returncode, stderr.decode(errors="replace")

    return asyncio.run(scenario())


def check_demo_results(results: dict[str, Any], implementation: str) -> None:
    page = results["page"]
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>fastws demo</title>" in page.text
    assert f'id="impl">{implementation}<' in page.text
    assert results["missing"].status_code == 404
    assert results["echoes"] == ["hello ✓", b"\x00\x01\xfe\xff"]


# -- fastws serve (subprocess) --------------------------------------------------------------------


@pytest.mark.e2e
def test_serve_demo_then_sigterm() -> None:
    port = free_port()
    banner, results, returncode, stderr = serve_scenario(port, no_extensions=False, stop_signal=signal.SIGTERM)
    # Without FASTWS_NO_EXTENSIONS the child runs the compiled modules whenever they were built.
    expected = "cython" if COMPILED else "python"
    assert banner["impl"] == expected
    assert banner["version"] == fastws.__version__
    assert banner["app"] == "fastws.demo:app"
    assert banner["protocol"] == "fastws.server:WebSocketProtocol"  # fastws's own protocol by default
    assert int(banner["port"]) == port
    check_demo_results(results, expected)
    # uvicorn shuts down gracefully, then re-raises SIGTERM: the process ends by that signal.
    assert returncode == -signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    assert "Application shutdown complete." in stderr  # the demo's lifespan shutdown ran


@pytest.mark.e2e
def test_serve_falls_back_to_uvicorns_websocket_protocol() -> None:
    banner, results, returncode, stderr = serve_scenario(
        0, no_extensions=False, stop_signal=signal.SIGINT, extra=("--ws", "websockets-sansio")
    )
    assert banner["protocol"] == "websockets-sansio"
    check_demo_results(results, "cython" if COMPILED else "python")
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.e2e
def test_serve_pure_python_on_port_zero_then_ctrl_c() -> None:
    banner, results, returncode, stderr = serve_scenario(0, no_extensions=True, stop_signal=signal.SIGINT)
    assert banner["impl"] == "python"
    assert int(banner["port"]) > 0  # the real port the OS picked, not 0
    check_demo_results(results, "python")
    assert returncode == 0, stderr  # Ctrl-C: graceful shutdown, exit status 0, no traceback
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert "Application shutdown complete." in stderr


@pytest.mark.e2e
def test_serve_port_in_use_fails_fast() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "fastws", "serve", "--port", str(port)],
            env=child_env(False),
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT,
        )
    assert completed.returncode == 3  # uvicorn's STARTUP_FAILURE
    assert "Address already in use" in completed.stderr
    assert completed.stdout == ""  # no banner for a server that never listened


def test_version() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "fastws", "--version"],
        env=child_env(True),
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(f"fastws {fastws.__version__} (implementation: python;")


def test_serve_bad_app_is_a_usage_error() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "fastws", "serve", "fastws_no_such_module_xyz:app", "--port", "0"],
        env=child_env(False),
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT,
    )
    assert completed.returncode == 2
    assert "cannot load the app 'fastws_no_such_module_xyz:app'" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""


# -- argument handling (in process) ---------------------------------------------------------------


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "serve" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "70000"],
        ["serve", "--port", "eighty"],
        ["serve", "--workers", "0"],
        ["serve", "--log-level", "loud"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert "usage: fastws" in capsys.readouterr().err


def test_serve_defaults() -> None:
    args = cli.build_parser().parse_args(["serve"])
    assert (args.app, args.host, args.port, args.workers, args.log_level) == (
        "fastws.demo:app",
        "127.0.0.1",
        8000,
        1,
        "info",
    )


def test_banner_brackets_ipv6_and_names_the_app() -> None:
    banner = cli.server_banner("myapp:app", "::1", 9000)
    assert banner == (
        f"fastws {fastws.__version__} ({fastws.IMPLEMENTATION}) serving myapp:app "
        "on http://[::1]:9000/ (WebSocket: ws://[::1]:9000/; protocol: fastws.server:WebSocketProtocol)"
    )
    fallback = cli.server_banner("myapp:app", "127.0.0.1", 9000, ws="websockets-sansio")
    assert fallback.endswith("(WebSocket: ws://127.0.0.1:9000/; protocol: websockets-sansio)")


def test_bench_delegates_every_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        calls.append(argv)
        return 7

    fake = types.ModuleType("fastws.bench")
    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fastws.bench", fake)
    assert cli.main(["bench", "--help", "-k", "send_text", "--rounds=3", "serve"]) == 7
    assert calls == [["--help", "-k", "send_text", "--rounds=3", "serve"]]


def test_bench_unavailable_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "fastws.bench", None)  # makes `import fastws.bench` fail
    assert cli.main(["bench", "--quick"]) == 2
    assert "fastws.bench is not available" in capsys.readouterr().err


def test_bench_missing_dependency_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_import(name: str, package: str | None = None) -> Any:
        raise ModuleNotFoundError("No module named 'some_bench_dependency'", name="some_bench_dependency")

    monkeypatch.setattr(cli.importlib, "import_module", failing_import)
    assert cli.main(["bench"]) == 2
    assert "'some_bench_dependency'" in capsys.readouterr().err


# -- the demo app (in process) ------------------------------------------------------------------


def test_demo_lifespan_completes_startup_and_shutdown() -> None:
    async def scenario() -> list[dict[str, Any]]:
        events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            assert events, "the demo asked for more lifespan events than the server sends"
            return events.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async with asyncio.timeout(5):
            await demo.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        return sent

    assert asyncio.run(scenario()) == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]


def test_demo_rejects_unknown_scope_type() -> None:
    async def nothing() -> dict[str, Any]:
        raise AssertionError("not called")

    async def ignore(message: dict[str, Any]) -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="'webtransport'"):
        asyncio.run(demo.app({"type": "webtransport"}, nothing, ignore))


def test_demo_default_app_uses_fastws_websocket() -> None:
    # `app` (make_app() without a class) is built on fastws.WebSocket, whose implementation the
    # page names.
    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=demo.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=5) as http:
            return await http.get("/")

    page = asyncio.run(scenario())
    assert page.status_code == 200
    assert f'id="impl">{fastws.IMPLEMENTATION}<' in page.text
    assert f"fastws {fastws.__version__}" in page.text


def test_demo_wraps_connections_in_the_given_class() -> None:
    from fastws._websocket_py import WebSocket as PyWebSocket

    built: list[Any] = []

    class Spy(PyWebSocket):  # type: ignore[misc]
        def __init__(self, scope: Any, receive: Any, send: Any) -> None:
            built.append(scope["path"])
            super().__init__(scope, receive, send)

    async def scenario() -> list[dict[str, Any]]:
        events = [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": "hi"},
            {"type": "websocket.receive", "bytes": b"\x01"},
            {"type": "websocket.disconnect", "code": 1000},
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            assert events, "the demo asked for more events than the client sent"
            return events.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "websocket", "path": "/ws", "query_string": b"", "headers": [], "subprotocols": []}
        async with asyncio.timeout(5):
            await demo.make_app(Spy)(scope, receive, send)
        return sent

    sent = asyncio.run(scenario())
    assert built == ["/ws"]
    assert sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.send", "text": "hi"},
        {"type": "websocket.send", "bytes": b"\x01"},
    ]
