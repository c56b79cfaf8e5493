"""conftest.py that .ci/uvicorn-suite copies next to uvicorn's tests/protocols/test_websocket.py.

It overrides uvicorn's ``ws_protocol_cls`` fixture (tests/conftest.py of the uvicorn sdist, which
parametrizes uvicorn's own wsproto and websockets-sansio protocols) with fastws's protocol, so
every test of uvicorn's WebSocket suite runs against ``fastws.server.WebSocketProtocol``. The codec
twin is chosen by the environment (``FASTWS_NO_EXTENSIONS=1`` loads the pure one);
``FASTWS_EXPECT_IMPLEMENTATION`` (``compiled`` or ``pure``) makes a wrong twin fail loudly.

Not collected by fastws's own test run (its name does not start with ``test_`` and it lives outside
any conftest path).
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(params=["fastws"])
def ws_protocol_cls(request: pytest.FixtureRequest) -> type:
    import fastws
    from fastws.protocol import _frame
    from fastws.server import WebSocketProtocol

    expected = os.environ.get("FASTWS_EXPECT_IMPLEMENTATION")
    loaded = "compiled" if _frame.FrameParser.__module__ == "fastws.protocol._frame_c" else "pure"
    if expected is not None and expected != loaded:
        raise RuntimeError(
            f"expected the {expected} frame codec, loaded {_frame.FrameParser.__module__} ({fastws.IMPLEMENTATION})"
        )
    assert WebSocketProtocol.codec is _frame
    return WebSocketProtocol
