"""The ``fastws`` command line (``python -m fastws``) and the bundled demo app.

``fastws serve`` runs as a real subprocess on an ephemeral port; the test reads its banner,
fetches the demo page with httpx, echoes through ``/ws`` with the ``websockets`` client, then
stops it with a signal and checks that it exits promptly and cleanly. Everything is bounded by
``asyncio.timeout``; a process that outlives its test is killed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import re
import shutil
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
from websockets.exceptions import ConnectionClosed

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
    importlib.util.find_spec(f"fastws.{name}_c") is not None
    for name in ("websocket._core", "datastructures._core", "codec._json")
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


# -- uvicorn's options, forwarded (subprocess, both implementations) -----------------------------

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
#: The tests below stop servers with POSIX signals (SIGINT, SIGHUP).
posix_signals = pytest.mark.skipif(sys.platform == "win32", reason="stops the server with POSIX signals")
ANY_BANNER = re.compile(r"^fastws \S+ \((?P<impl>cython|python)\) serving (?P<app>\S+) on (?P<where>\S+) ")


def impl_env(impl_name: str) -> dict[str, str]:
    return child_env(no_extensions=impl_name == "py")


def check_landing(hello: dict[str, Any], impl_name: str) -> None:
    """The deploy app's first message says fastws.server served it, on the expected implementation."""
    assert hello["protocol"] == "fastws.server:WebSocketProtocol"
    assert hello["impl"] == ("python" if impl_name == "py" else "cython")
    assert hello["codec"] == f"fastws.protocol._frame_{impl_name}"


async def read_banner(process: asyncio.subprocess.Process) -> re.Match[str]:
    assert process.stdout is not None
    async with asyncio.timeout(BANNER_TIMEOUT):
        line = (await process.stdout.readline()).decode().rstrip("\n")
    banner = ANY_BANNER.match(line)
    assert banner is not None, f"unexpected banner {line!r}"
    return banner


async def stop(process: asyncio.subprocess.Process, sig: signal.Signals = signal.SIGINT) -> str:
    process.send_signal(sig)
    async with asyncio.timeout(EXIT_TIMEOUT):
        _, stderr = await process.communicate()
    return stderr.decode(errors="replace")


@posix_signals
@pytest.mark.e2e
def test_serve_forwards_uvicorn_options_to_every_worker(impl: Any) -> None:
    # The example: fastws serve app:app --ws-max-size 1048576 --proxy-headers --workers 4,
    # scaled down (--ws-max-size 1024, 2 workers), plus --root-path and --app-dir; each option is
    # checked where it shows, on connections served by both workers.
    from websockets.exceptions import ConnectionClosedError

    async def scenario() -> tuple[dict[int, dict[str, Any]], str]:
        async with asyncio.timeout(SCENARIO_TIMEOUT + 15):
            args = ("serve", "deploy_app:app", "--app-dir", TESTS_DIR, "--port", "0", "--workers", "2")
            args += ("--ws-max-size", "1024", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
            args += ("--root-path", "/api", "--log-level", "warning")
            async with fastws_process(*args, env=impl_env(impl.name)) as process:
                banner = await read_banner(process)
                url = banner["where"].replace("http://", "ws://") + "ws"
                forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
                by_pid: dict[int, dict[str, Any]] = {}
                opened = []
                first_on_worker = []
                try:
                    # The kernel picks the worker. Connect once, then stop the worker that served
                    # (SIGSTOP) so that the next connection can only be accepted by the other one
                    # (which may still be starting): both workers serve, deterministically.
                    for attempt in range(2):
                        ws = await connect(url, open_timeout=20, close_timeout=2, additional_headers=forwarded)
                        opened.append(ws)
                        hello = json.loads(await asyncio.wait_for(ws.recv(), 20))
                        assert hello["pid"] not in by_pid, "a stopped worker accepted a connection"
                        by_pid[hello["pid"]] = hello
                        first_on_worker.append(ws)
                        if attempt == 0:
                            os.kill(hello["pid"], signal.SIGSTOP)
                    for pid in by_pid:
                        os.kill(pid, signal.SIGCONT)
                    for ws in first_on_worker:
                        await ws.send("hi")
                        assert await asyncio.wait_for(ws.recv(), 5) == "ack:hi"
                    for ws in first_on_worker:  # one connection on each worker
                        await ws.send("x" * 1025)  # one byte over --ws-max-size
                        with pytest.raises(ConnectionClosedError) as closed:
                            await asyncio.wait_for(ws.recv(), 5)
                        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
                finally:
                    for pid in by_pid:
                        os.kill(pid, signal.SIGCONT)
                    for ws in opened:
                        await ws.close()
                return by_pid, await stop(process)

    by_pid, stderr = asyncio.run(scenario())
    assert "Traceback" not in stderr, stderr
    assert len(by_pid) == 2
    for hello in by_pid.values():
        check_landing(hello, impl.name)
        assert hello["root_path"] == "/api"  # --root-path
        assert hello["client"][0] == "203.0.113.9"  # --proxy-headers: X-Forwarded-For from a trusted peer
        assert hello["scheme"] == "wss"  # X-Forwarded-Proto: https


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform == "win32", reason="UNIX domain sockets")
def test_serve_factory_on_a_unix_socket(impl: Any, tmp_path: Any) -> None:
    # --factory (the app is deploy_app.create_app()) and --uds: the banner names the socket, the
    # socket is removed on exit; --proxy-headers is off here, so X-Forwarded-For is not trusted.
    from websockets.asyncio.client import unix_connect

    path = str(tmp_path / "fastws.sock")

    async def scenario() -> tuple[re.Match[str], dict[str, Any], str, int]:
        async with asyncio.timeout(SCENARIO_TIMEOUT):
            args = ("serve", "deploy_app:create_app", "--factory", "--app-dir", TESTS_DIR, "--uds", path)
            async with fastws_process(*args, "--no-proxy-headers", env=impl_env(impl.name)) as process:
                banner = await read_banner(process)
                async with unix_connect(
                    path, "ws://localhost/ws", open_timeout=5, additional_headers={"X-Forwarded-For": "203.0.113.9"}
                ) as ws:
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    await ws.send(b"\x00\xff")
                    assert await asyncio.wait_for(ws.recv(), 5) == b"\x00\xff"
                stderr = await stop(process)
                assert process.returncode is not None
                return banner, hello, stderr, process.returncode

    banner, hello, stderr, returncode = asyncio.run(scenario())
    assert banner["app"] == "deploy_app:create_app"
    assert banner["where"] == f"unix:{path}"
    check_landing(hello, impl.name)
    assert hello["client"] is None or hello["client"][0] != "203.0.113.9"
    assert returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert not os.path.exists(path)  # removed on the way out, as uvicorn does


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform == "win32", reason="uvicorn's supervisor restarts workers on SIGHUP on UNIX")
def test_serve_workers_sighup_restarts_workers_closing_with_1012(impl: Any) -> None:
    # uvicorn's multiprocess supervisor restarts every worker on SIGHUP: each open WebSocket is
    # closed with 1012 (service restart) and new worker processes serve the reconnections.
    async def scenario() -> tuple[set[int], list[int | None], set[int], str]:
        async with asyncio.timeout(SCENARIO_TIMEOUT + 15):
            args = ("serve", "deploy_app:app", "--app-dir", TESTS_DIR, "--port", "0", "--workers", "2")
            async with fastws_process(*args, "--log-level", "warning", env=impl_env(impl.name)) as process:
                banner = await read_banner(process)
                url = banner["where"].replace("http://", "ws://") + "ws"
                opened = []
                old: set[int] = set()
                deadline = asyncio.get_running_loop().time() + 15
                while len(old) < 2 and len(opened) < 200 and asyncio.get_running_loop().time() < deadline:
                    ws = await connect(url, open_timeout=5, close_timeout=2)
                    opened.append(ws)
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    check_landing(hello, impl.name)
                    old.add(hello["pid"])
                    await asyncio.sleep(0.05)
                process.send_signal(signal.SIGHUP)
                codes: list[int | None] = []
                for ws in opened:
                    try:
                        await asyncio.wait_for(ws.recv(), 10)
                    except ConnectionClosed as exc:
                        codes.append(exc.rcvd.code if exc.rcvd is not None else None)
                new: set[int] = set()
                for _ in range(50):  # the new workers may still be starting
                    try:
                        async with connect(url, open_timeout=5, close_timeout=2) as ws:
                            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
                            await ws.send("again")
                            assert await asyncio.wait_for(ws.recv(), 5) == "ack:again"
                    except (OSError, ConnectionClosed):
                        await asyncio.sleep(0.1)
                        continue
                    new.add(hello["pid"])
                    break
                return old, codes, new, await stop(process)

    old, codes, new, stderr = asyncio.run(scenario())
    assert codes == [1012] * len(codes) and codes, codes
    assert new and not new & old  # served by a restarted worker
    assert "Traceback" not in stderr, stderr


@posix_signals
@pytest.mark.e2e
def test_serve_reload_restarts_on_a_code_change(impl: Any, tmp_path: Any) -> None:
    # --reload/--reload-dir: editing the app's module restarts the worker process; its open
    # WebSocket is closed with 1012 and the next connection is served by the new code.
    module = tmp_path / "reloadme.py"
    module.write_text("from deploy_app import app\n\nVERSION = 1\n")
    env = impl_env(impl.name)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [TESTS_DIR, env.get("PYTHONPATH")]))

    async def scenario() -> tuple[int, int | None, int, str, int | None]:
        async with asyncio.timeout(SCENARIO_TIMEOUT + 15):
            args = ("serve", "reloadme:app", "--app-dir", str(tmp_path), "--port", "0", "--reload")
            args += ("--reload-dir", str(tmp_path), "--log-level", "warning")
            async with fastws_process(*args, env=env) as process:
                banner = await read_banner(process)
                url = banner["where"].replace("http://", "ws://") + "ws"
                ws = await connect(url, open_timeout=10, close_timeout=2)
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                check_landing(first, impl.name)
                await asyncio.sleep(0.5)  # the reloader has seen the file's first version
                module.write_text("from deploy_app import app\n\nVERSION = 2\n")
                later = module.stat().st_mtime + 2  # a newer mtime even on a coarse-grained filesystem
                os.utime(module, (later, later))
                code: int | None = None
                try:
                    await asyncio.wait_for(ws.recv(), 15)
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd is not None else None
                second = None
                for _ in range(100):  # the new worker may still be starting
                    try:
                        async with connect(url, open_timeout=5, close_timeout=2) as again:
                            second = json.loads(await asyncio.wait_for(again.recv(), 5))
                        break
                    except (OSError, ConnectionClosed):
                        await asyncio.sleep(0.1)
                assert second is not None
                stderr = await stop(process)
                return first["pid"], code, second["pid"], stderr, process.returncode

    first_pid, code, second_pid, stderr, returncode = asyncio.run(scenario())
    assert code == 1012
    assert second_pid != first_pid
    assert returncode == 0, stderr
    assert "Traceback" not in stderr, stderr


@posix_signals
@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command for a self-signed certificate")
def test_serve_tls_banner_and_wss(impl: Any, tmp_path: Any) -> None:
    # --ssl-keyfile/--ssl-certfile: the banner names https:// and wss:// URLs, and a wss client
    # that trusts the certificate is served by fastws.server.
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"this openssl cannot make the certificate: {made.stderr[-200:]!r}")
    context = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> tuple[str, dict[str, Any], str]:
        async with asyncio.timeout(SCENARIO_TIMEOUT):
            args = ("serve", "deploy_app:app", "--app-dir", TESTS_DIR, "--port", "0")
            args += ("--ssl-keyfile", str(key), "--ssl-certfile", str(cert))
            async with fastws_process(*args, env=impl_env(impl.name)) as process:
                assert process.stdout is not None
                async with asyncio.timeout(BANNER_TIMEOUT):
                    line = (await process.stdout.readline()).decode().rstrip("\n")
                port = re.search(r"https://127\.0\.0\.1:(\d+)/", line)
                assert port is not None, line
                async with connect(f"wss://127.0.0.1:{port[1]}/ws", ssl=context, open_timeout=5) as ws:
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
                return line, hello, await stop(process)

    line, hello, stderr = asyncio.run(scenario())
    assert "(WebSocket: wss://127.0.0.1:" in line
    check_landing(hello, impl.name)
    assert hello["scheme"] == "wss"
    assert "Traceback" not in stderr, stderr


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
    "argv, message",
    [
        (["serve", "--port", "70000"], "70000 is not in the range 0<=x<=65535"),
        (["serve", "--port", "eighty"], "'eighty'"),
        (["serve", "--log-level", "loud"], "'loud'"),
        (["serve", "--ws", "fastws_no_such_module_xyz:Protocol"], "cannot load the WebSocket protocol"),
        (["serve", "--broker", "kafka://127.0.0.1"], "invalid broker URL 'kafka://127.0.0.1'"),
        (["serve", "--no-such-option"], "--no-such-option"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    # `fastws serve` is uvicorn's click command line: click's "Usage: fastws serve ..." and its
    # messages; the top level is argparse's "usage: fastws ...".
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "usage: fastws" in err.lower()
    assert message in err


def test_serve_defaults() -> None:
    # uvicorn's defaults, except the app (the demo) and --ws (fastws's protocol); --loop auto is
    # uvloop when it is installed.
    ctx = cli.serve_command().make_context("fastws serve", [])
    params = dict(ctx.params)
    assert params.pop("broker") is None
    assert (params["app"], params["host"], params["port"], params["workers"], params["loop"], params["ws"]) == (
        "fastws.demo:app",
        "127.0.0.1",
        8000,
        None,
        "auto",
        "fastws.server:WebSocketProtocol",
    )
    app, kwargs = cli.uvicorn_run_arguments(**params)
    assert app == "fastws.demo:app"
    assert kwargs["ws"] == "fastws.server:WebSocketProtocol"
    assert kwargs["ws_max_size"] == 16 * 1024 * 1024 and kwargs["proxy_headers"] is True


def test_serve_takes_every_uvicorn_option() -> None:
    # Every parameter of the installed uvicorn's command line, under the same name and flags, and
    # what they map to is exactly what uvicorn.run takes (so fastws serve stays in step).
    import click
    import uvicorn
    from uvicorn.main import main as uvicorn_main

    ours = {param.name: param for param in cli.serve_command().params}
    for param in uvicorn_main.params:
        assert param.name in ours, param.name
        assert ours[param.name].opts == param.opts
        if isinstance(param, click.Option):
            assert ours[param.name].secondary_opts == param.secondary_opts  # type: ignore[attr-defined]
    assert set(ours) - {param.name for param in uvicorn_main.params} == {"broker"}

    argv = [
        "myapp:app",
        "--ws-max-size",
        "1048576",
        "--proxy-headers",
        "--workers",
        "4",
        "--header",
        "x-served-by:fastws",
        "--root-path",
        "/api",
        "--ws",
        "fastws",
    ]
    params = dict(cli.serve_command().make_context("fastws serve", argv).params)
    params.pop("broker")
    params["ws"] = cli.WS_PROTOCOLS[params["ws"]]
    app, kwargs = cli.uvicorn_run_arguments(**params)
    inspect.signature(uvicorn.run).bind(app, **kwargs)  # every keyword is one uvicorn.run takes
    assert app == "myapp:app"
    assert (kwargs["ws_max_size"], kwargs["proxy_headers"], kwargs["workers"], kwargs["root_path"]) == (
        1048576,
        True,
        4,
        "/api",
    )
    assert kwargs["headers"] == [["x-served-by", "fastws"]]  # uvicorn's own mapping of --header
    assert kwargs["ws"] == "fastws.server:WebSocketProtocol"
    kwargs.pop("app_dir")
    config = uvicorn.Config(app, **kwargs)  # and uvicorn.Config takes the rest
    assert config.ws_max_size == 1048576 and config.workers == 4


def test_serve_help_is_uvicorns_with_fastws_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: fastws serve [OPTIONS] [MODULE:APP]")
    for option in ("--ws-max-size", "--proxy-headers", "--root-path", "--uds", "--factory", "--reload", "--broker"):
        assert option in out
    assert "[default: fastws.server:WebSocketProtocol]" in " ".join(out.split())


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


def test_bench_missing_dependency_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
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
    from fastws.websocket._core_py import WebSocket as PyWebSocket

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
