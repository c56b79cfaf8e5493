"""Each dialect without its framework installed (hidden in a fresh interpreter): the look-alike
state enum and exception classes have the framework's names and attributes, ``install()`` raises
``ImportError``, and a scripted conversation raises the look-alikes."""

from __future__ import annotations

import pytest
from dialect_harness import run_snippet

SNIPPET = """
import asyncio, sys
for name in ("starlette", "lilya", "yaat", "micropie", "bocadillo"):
    sys.modules[name] = None  # import fails: the framework is "not installed"

import fastws
from fastws.dialects import bocadillo, lilya, micropie, starlette, yaat
from fastws.websocket import _errors, _state

for module in (starlette, lilya, yaat, micropie, bocadillo):
    try:
        module.install()
    except ImportError:
        pass
    else:
        raise AssertionError(module.__name__ + ".install() did not raise")

assert starlette.WebSocketDisconnect is _errors.WebSocketDisconnect
assert starlette.WebSocketState is _state.WebSocketState
assert lilya.WebSocketRuntimeError.__name__ == "WebSocketRuntimeError"
assert issubclass(lilya.WebSocketRuntimeError, RuntimeError)
assert [m.name for m in lilya.WebSocketState] == ["CONNECTING", "CONNECTED", "DISCONNECTED"]
assert (lilya.WebSocketDisconnect(1001, None).code, lilya.WebSocketDisconnect(1001, None).reason) == (1001, "")
assert str(yaat.WebSocketException("m")) == "m" and issubclass(yaat.WebSocketException, RuntimeError)
assert yaat.WebSocketDisconnect(1001).code == 1001 and yaat.WebSocketCloseEvent.POLICY_VIOLATION == 1008
assert micropie.ConnectionClosed.__name__ == "ConnectionClosed"
assert bocadillo.WebSocketDisconnect(1001).code == 1001 and bocadillo.WEBSOCKET_CLOSE_CODES[1008] == "Policy Violation"


async def converse(make, steps, events):
    sent = []
    async def receive():
        return events.pop(0) if events else {"type": "websocket.disconnect", "code": 1001}
    async def send(message):
        sent.append(message)
    ws = make(receive, send)
    out = []
    for step in steps:
        try:
            out.append(await step(ws))
        except Exception as exc:
            out.append(type(exc))
    return out, sent

scope = {"type": "websocket", "path": "/", "query_string": b"", "headers": []}
connect = {"type": "websocket.connect"}
steps = [lambda ws: ws.receive_text(), lambda ws: ws.accept(), lambda ws: ws.receive_text(),
         lambda ws: ws.receive_text(), lambda ws: ws.close()]
out, _ = asyncio.run(converse(lambda r, s: lilya.WebSocket(dict(scope), r, s), steps, [connect]))
assert out == [lilya.WebSocketRuntimeError, None, lilya.WebSocketDisconnect, lilya.WebSocketRuntimeError, None], out
out, _ = asyncio.run(converse(lambda r, s: yaat.WebSocket(dict(scope), r, s), steps, [connect]))
assert out == [AssertionError, None, yaat.WebSocketDisconnect, yaat.WebSocketException, None], out
out, _ = asyncio.run(converse(lambda r, s: starlette.WebSocket(dict(scope), r, s), steps, [connect]))
assert out == [fastws.WebSocketDisconnected, None, fastws.WebSocketDisconnect, fastws.WebSocketDisconnected, None], out
out, _ = asyncio.run(converse(lambda r, s: bocadillo.WebSocket(dict(scope), r, s), steps, [connect]))
assert out == [AssertionError, None, bocadillo.WebSocketDisconnect, RuntimeError, None], out
out, sent = asyncio.run(converse(lambda r, s: micropie.WebSocket(r, s), steps, [connect]))
# MicroPie: the first receive consumed the connect, so accept fails and close is a no-op.
assert out == [ValueError, ValueError, micropie.ConnectionClosed, micropie.ConnectionClosed, None], out
assert sent == [], sent

# Lilya's Connection extras with the look-alikes (issue 18).
ws = lilya.WebSocket(dict(scope, server=("h", 443), scheme="wss"), None, None)
assert ws.app is None and tuple(ws.server) == ("h", 443) and ws.is_secure() is True
for name in ("auth", "user", "session"):
    try:
        getattr(ws, name)
    except lilya.ImproperlyConfigured as exc:
        assert isinstance(exc, ValueError) and "must be installed" in str(exc)
    else:
        raise AssertionError(name)
ws.set_session({"a": 1}); assert ws.session == {"a": 1}; ws.clear_session(); assert ws.session is None
try:
    asyncio.run(ws.send_denial_response(None))
except RuntimeError as exc:
    assert "Denial Response" in str(exc)
else:
    raise AssertionError("send_denial_response without the extension did not raise")
# fastws.App builds the Yaat dialect's class, look-alikes and all.
assert fastws.App().websocket_class is yaat.WebSocket
print("OK", fastws.IMPLEMENTATION)
"""


@pytest.mark.parametrize("implementation", ["cython", "python"])
def test_dialects_without_their_frameworks(implementation: str, request: pytest.FixtureRequest) -> None:
    if implementation == "cython" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    assert run_snippet(SNIPPET, implementation).split()[-2:] == ["OK", implementation]
