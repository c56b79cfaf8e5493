"""A real browser as the client: headless Chromium talks to fastws through its own WebSocket API.

Chromium (Debian's ``chromium``; ``FASTWS_CHROMIUM`` names another binary) is started by the test
with a fresh profile and ``--remote-debugging-port=0``; the test drives the page over the Chrome
DevTools Protocol with the ``websockets`` client it already depends on (``Runtime.evaluate``), so
no browser-automation package is needed. Every test skips, with the reason, when no Chromium is
installed (``FASTWS_REQUIRE_CHROMIUM=1``, as ``.ci/reliability`` sets, makes that a failure instead).
Everything runs on 127.0.0.1 and every process the test starts is stopped on exit.

* ``test_demo_page_served_by_fastws_serve``: ``fastws serve`` (a subprocess, the bundled demo, the
  default implementation) serves the page; the test types into its text box and presses its JSON
  and binary buttons, and reads the echoes the page logged.
* ``test_browser_exchange_both_sides``: per implementation, a uvicorn server runs the demo app on
  that implementation's class plus a JSON echo built on ``receive_json``/``send_json``; a script in
  the page exchanges text (non-ASCII, astral, empty, 256 KiB), binary (all 256 byte values, empty)
  and JSON (text and binary frames) messages and closes with a code and reason; the test compares
  what the page received with what the server's ASGI ``receive``/``send`` carried.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn
from websockets.sync.client import connect as ws_connect

from fastws.demo import make_app
from fastws.websockets import WebSocketDisconnect

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]
#: Upper bound for Chromium to start and open its DevTools port (seconds).
START_TIMEOUT = 30.0
#: Upper bound for one page-side conversation (seconds).
PAGE_TIMEOUT = 20.0


def chromium_binary() -> str | None:
    configured = os.environ.get("FASTWS_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_binary()
    if binary is None and os.environ.get("FASTWS_REQUIRE_CHROMIUM", "") not in ("", "0"):
        pytest.fail("FASTWS_REQUIRE_CHROMIUM is set but no Chromium is installed")
    if binary is None:
        pytest.skip("no Chromium installed (apt-get install -y chromium, or set FASTWS_CHROMIUM)")
    return binary


def stop_process_group(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM the process group ``proc`` leads, then SIGKILL what is left after ``grace`` s."""
    if proc.poll() is None:
        # The leader first, so that it stops and reaps its own helpers.
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    # Chromium's helpers (zygote, renderer) share the group; make sure none outlives the test.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)


class DevTools:
    """A minimal Chrome DevTools Protocol client for one page target (synchronous)."""

    def __init__(self, url: str) -> None:
        self._stack = contextlib.ExitStack()
        self.conn = self._stack.enter_context(ws_connect(url, max_size=None, open_timeout=10, close_timeout=2))
        self.next_id = 0

    def call(self, method: str, timeout: float = PAGE_TIMEOUT, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        self.conn.send(json.dumps({"id": wanted, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"DevTools {method} did not answer within {timeout} s")
            reply = json.loads(self.conn.recv(timeout=remaining))
            if reply.get("id") == wanted:  # events (no id) and other replies are ignored
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return dict(reply["result"])

    def evaluate(self, expression: str, timeout: float = PAGE_TIMEOUT) -> Any:
        """The JSON value of ``expression`` in the page (a promise is awaited)."""
        result = self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = PAGE_TIMEOUT) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"page condition not met within {timeout} s: {expression}")

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def browser_page(binary: str, url: str) -> Iterator[DevTools]:
    """Headless Chromium with a fresh profile showing ``url``; yields a DevTools client for it."""
    with tempfile.TemporaryDirectory(prefix="fastws-chromium-") as profile:
        proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so every helper is stopped with it
        )
        devtools: DevTools | None = None
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + START_TIMEOUT
            while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
                if proc.poll() is not None:
                    raise RuntimeError(f"chromium exited with status {proc.returncode} before it started")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium did not open its DevTools port within {START_TIMEOUT} s")
                time.sleep(0.05)
            port = int(port_file.read_text().split()[0])
            devtools = DevTools(_page_target(port, url))
            devtools.call("Runtime.enable")
            yield devtools
        finally:
            if devtools is not None:
                devtools.close()
            stop_process_group(proc)


def _page_target(port: int, url: str) -> str:
    """The DevTools WebSocket URL of the page showing ``url`` (waits for it to appear)."""
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            targets = json.load(response)
        for target in targets:
            if target.get("type") == "page" and target.get("url", "").startswith(url):
                return str(target["webSocketDebuggerUrl"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"no page target for {url} in {targets!r}")
        time.sleep(0.1)


# -- fastws serve -----------------------------------------------------------------------------------


@contextlib.contextmanager
def fastws_serve() -> Iterator[str]:
    """``python -m fastws serve --port 0`` in a subprocess; yields the page URL from its banner.

    On exit the server gets SIGINT and must stop with status 0 and nothing on stderr that looks
    like an error or a traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastws", "serve", "--port", "0", "--log-level", "warning"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stderr = ""
    try:
        lines: list[str] = []

        def read_banner() -> None:
            assert proc.stdout is not None
            lines.append(proc.stdout.readline())

        reader = threading.Thread(target=read_banner, daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        banner = lines[0] if lines else ""
        assert " on http://" in banner, f"no banner from fastws serve: {banner!r}"
        yield banner.split(" on ", 1)[1].split()[0]
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
        assert proc.returncode == 0, f"fastws serve exited with {proc.returncode}: {stderr}"
        assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
    finally:
        stop_process_group(proc)


def test_demo_page_served_by_fastws_serve(chromium: str) -> None:
    with fastws_serve() as url, browser_page(chromium, url) as page:
        page.wait_for("document.getElementById('status')?.textContent === 'open'")
        impl = page.evaluate("document.getElementById('impl').textContent")
        # What a user does: type and press Enter, then press the JSON and binary buttons.
        page.evaluate(
            """(() => {
                const input = document.getElementById('text');
                input.value = 'h\\u00e9llo \\u2713 <b>&amp;';
                document.getElementById('form').requestSubmit();
                document.getElementById('json').click();
                document.getElementById('binary').click();
            })()"""
        )
        incoming = page.wait_for(
            """(() => {
                const lines = Array.from(document.querySelectorAll('#log .in'), e => e.textContent);
                return lines.length >= 3 ? lines : null;
            })()"""
        )
        outgoing = page.evaluate("Array.from(document.querySelectorAll('#log .out'), e => e.textContent)")
    import fastws

    assert impl == fastws.IMPLEMENTATION
    sent_json = json.dumps(
        {"hello": "world", "n": 42, "ok": True, "list": [1, 2.5, None], "\u00e9": "\u2713"},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert outgoing == [
        '> text "h\u00e9llo \u2713 <b>&amp;"',
        f"> JSON (as text) {sent_json}",
        "> binary [7 bytes] 00 01 02 7f 80 fe ff",
    ]
    assert incoming == [
        '< text "h\u00e9llo \u2713 <b>&amp;"',
        f"< text {json.dumps(sent_json, ensure_ascii=False)}",
        "< binary [7 bytes] 00 01 02 7f 80 fe ff",
    ]


# -- both implementations, both sides -------------------------------------------------------------


class ThreadServer:
    """uvicorn on 127.0.0.1, an ephemeral port, in a background thread (bounded start and stop)."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="fastws-browser-uvicorn", daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn exited before it started serving"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.005)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive(), "uvicorn did not stop within 10 s"


def recording_app(websocket_class: type) -> tuple[Any, SimpleNamespace]:
    """The demo app on ``websocket_class`` plus ``/json`` (a ``receive_json``/``send_json`` echo
    in the mode the query names), with every ASGI event of every WebSocket recorded."""
    demo = make_app(websocket_class)
    seen = SimpleNamespace(events={}, json={}, disconnects={}, errors=[])

    async def json_echo(ws: Any) -> None:
        mode = ws.query_params.get("mode", "text")
        await ws.accept()
        values = seen.json.setdefault(mode, [])
        try:
            while True:
                value = await ws.receive_json(mode=mode)
                values.append(value)
                await ws.send_json({"echo": value}, mode=mode)
        except WebSocketDisconnect as exc:
            seen.disconnects[mode] = (exc.code, exc.reason)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await demo(scope, receive, send)
            return
        log = seen.events.setdefault(scope["path"] + "?" + scope["query_string"].decode(), [])

        async def recv() -> Any:
            message = await receive()
            log.append(("receive", dict(message)))
            return message

        async def snd(message: Any) -> None:
            log.append(("send", dict(message)))
            await send(message)

        try:
            if scope["path"] == "/json":
                await json_echo(websocket_class(scope, recv, snd))
            else:
                await demo(scope, recv, snd)
        except BaseException as exc:
            seen.errors.append(exc)
            raise

    return app, seen


PAGE_SCRIPT = r"""
(async () => {
  function open(path) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket("ws://" + location.host + path);
      ws.binaryType = "arraybuffer";
      const got = [];
      ws.onmessage = (e) => got.push(typeof e.data === "string" ? {text: e.data}
                                           : {bytes: Array.from(new Uint8Array(e.data))});
      ws.onopen = () => resolve({ws, got});
      ws.onerror = () => reject(new Error("WebSocket error on " + path));
    });
  }
  function closed(ws, code, reason) {
    return new Promise((resolve) => {
      ws.onclose = (e) => resolve({code: e.code, reason: e.reason, wasClean: e.wasClean});
      ws.close(code, reason);
    });
  }
  async function until(got, n) {
    for (let i = 0; i < 400 && got.length < n; i++) await new Promise(r => setTimeout(r, 25));
  }
  const all = new Uint8Array(256).map((_, i) => i);
  const big = "x\u00e9".repeat(64 * 1024);
  const echo = await open("/ws?from=script");
  const texts = ["h\u00e9llo", "\u{1F600} astral", "", big];
  for (const t of texts) echo.ws.send(t);
  echo.ws.send(all);
  echo.ws.send(new Uint8Array(0));
  await until(echo.got, 6);
  const echoClose = await closed(echo.ws, 4001, "bye \u2713");

  const value = {s: "\u2713", n: 42, f: 2.5, neg: -1, l: [true, false, null], nested: {"\u00e9": []}};
  const jt = await open("/json?mode=text");
  jt.ws.send(JSON.stringify(value));
  jt.ws.send("[1,2,3]");
  await until(jt.got, 2);
  const jtClose = await closed(jt.ws, 1000, "");

  const jb = await open("/json?mode=binary");
  jb.ws.send(new TextEncoder().encode(JSON.stringify(value)));
  await until(jb.got, 1);
  const jbClose = await closed(jb.ws, 1000, "");
  return {
    echo: echo.got.map(m => m.text !== undefined && m.text.length > 1000
                            ? {textLength: m.text.length, same: m.text === big} : m),
    echoClose, jt: jt.got, jtClose,
    jb: jb.got.map(m => ({text: new TextDecoder().decode(new Uint8Array(m.bytes))})), jbClose,
  };
})()
"""


def test_browser_exchange_both_sides(chromium: str, impl: SimpleNamespace) -> None:
    app, seen = recording_app(impl.WebSocket)
    with ThreadServer(app) as host, browser_page(chromium, f"http://{host}/") as page:
        page.wait_for("document.getElementById('status')?.textContent === 'open'")
        result = page.evaluate(PAGE_SCRIPT, timeout=PAGE_TIMEOUT)
        # The demo page's own connection stays open until the browser goes away.
    assert not seen.errors, seen.errors
    big = "x\u00e9" * (64 * 1024)
    value = {"s": "\u2713", "n": 42, "f": 2.5, "neg": -1, "l": [True, False, None], "nested": {"\u00e9": []}}

    # What the browser saw.
    assert result["echo"] == [
        {"text": "h\u00e9llo"},
        {"text": "\U0001f600 astral"},
        {"text": ""},
        {"textLength": len(big), "same": True},
        {"bytes": list(range(256))},
        {"bytes": []},
    ]
    assert result["echoClose"] == {"code": 4001, "reason": "bye \u2713", "wasClean": True}
    assert [json.loads(m["text"]) for m in result["jt"]] == [{"echo": value}, {"echo": [1, 2, 3]}]
    assert [json.loads(m["text"]) for m in result["jb"]] == [{"echo": value}]
    assert result["jtClose"]["code"] == 1000 and result["jbClose"]["code"] == 1000

    # What the server saw, event by event, on the echo connection.
    events = seen.events["/ws?from=script"]
    received = [m for direction, m in events if direction == "receive"]
    sent = [m for direction, m in events if direction == "send"]
    assert received[0]["type"] == "websocket.connect"
    payloads = [m.get("text") if m.get("text") is not None else m.get("bytes") for m in received[1:-1]]
    assert payloads == ["h\u00e9llo", "\U0001f600 astral", "", big, bytes(range(256)), b""]
    assert received[-1]["type"] == "websocket.disconnect" and received[-1]["code"] == 4001
    assert received[-1].get("reason", "bye \u2713") == "bye \u2713"
    assert sent[0]["type"] == "websocket.accept"
    assert [m.get("text") if m.get("text") is not None else m.get("bytes") for m in sent[1:]] == payloads
    # ... and through receive_json/send_json, in both modes.
    assert seen.json == {"text": [value, [1, 2, 3]], "binary": [value]}
    assert seen.disconnects == {"text": (1000, ""), "binary": (1000, "")}
    sent_json = [m for direction, m in seen.events["/json?mode=binary"] if direction == "send"][1:]
    assert sent_json == [
        {
            "type": "websocket.send",
            "bytes": json.dumps({"echo": value}, separators=(",", ":"), ensure_ascii=False).encode(),
        }
    ]
