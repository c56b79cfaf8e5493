"""permessage-deflate without per-connection zlib state (issue 14), on both codec twins.

* The server always answers with ``server_no_context_takeover`` (RFC 7692 section 7.1.1.1 lets
  it) and compresses with one compressor per window size shared by every connection: each
  message ends with a full flush, so each stands alone and any client inflates it afresh.
* The parser keeps no inflater between messages: with ``client_no_context_takeover`` nothing at
  all; with context takeover only the last ``2 ** inflate_window_bits`` bytes of output (the LZ77
  window, RFC 7692 section 7.2.2), from which the next message's inflater is rebuilt.
* ``client_max_window_bits=N`` in the offer sizes the inflater (window ``2 ** N``).
"""

from __future__ import annotations

import importlib
import os
import random
import threading
import tracemalloc
import zlib
from typing import Any

import pytest

from fastws import server as server_module
from fastws.protocol import deflate as deflate_module
from fastws.protocol._frame_types import OP_BINARY, OP_TEXT, WebSocketProtocolError

MASK = b"\x01\x02\x03\x04"


@pytest.fixture(params=["c", "py"])
def codec(request: pytest.FixtureRequest) -> Any:
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    return importlib.import_module(f"fastws.protocol._frame_{request.param}")


def _client_stream(bits: int = 15) -> Any:
    """A client compressor with context takeover: message n may refer to messages before it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -bits, 9)

    def compress(data: bytes) -> bytes:
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    return compress


def _feed(codec: Any, parser: Any, data: bytes, opcode: int = OP_BINARY) -> Any:
    ((got_opcode, message),) = parser.feed(codec.encode_frame(opcode, data, mask=MASK, rsv=4))
    assert got_opcode == opcode
    return message


def test_context_takeover_across_many_messages(codec: Any) -> None:
    """Messages that refer back into earlier ones (up to a whole 32 KiB window) inflate exactly."""
    rng = random.Random(14)
    words = [os.urandom(rng.randrange(3, 40)) for _ in range(50)]
    parser = codec.FrameParser(inflate=True)
    compress = _client_stream()
    for size in [10, 100, 1000, 40_000, 5, 70_000, 3, 20_000, 1] * 3:
        message = b"".join(rng.choice(words) for _ in range(size // 20 + 1))[:size]
        assert _feed(codec, parser, compress(message)) == message


def test_text_messages_with_context(codec: Any) -> None:
    parser = codec.FrameParser(inflate=True)
    compress = _client_stream()
    for text in ["héllo wörld " * 50, "héllo wörld " * 51, "ünïcode " * 3]:
        assert _feed(codec, parser, compress(text.encode()), OP_TEXT) == text


def test_no_context_takeover_keeps_nothing(codec: Any) -> None:
    """With client_no_context_takeover every message stands alone; the parser holds no zlib
    state between messages (traced: far less than one inflater's ~40 KiB)."""
    parser = codec.FrameParser(inflate=True, inflate_reset=True)
    payload = os.urandom(1000) * 40
    message = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = message.compress(payload) + message.flush(zlib.Z_SYNC_FLUSH)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert _feed(codec, parser, data[:-4]) == payload
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4096, held


def test_context_takeover_keeps_only_the_window(codec: Any) -> None:
    """After a message, the parser holds at most 2 ** bits bytes of history, not an inflater."""
    parser = codec.FrameParser(inflate=True, inflate_window_bits=10)
    compress = _client_stream(bits=10)
    payload = os.urandom(300) * 200
    data = compress(payload)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert _feed(codec, parser, data) == payload
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1024 + 512, held
    assert _feed(codec, parser, compress(payload[:5000])) == payload[:5000]


def test_inflate_window_bits_is_enforced(codec: Any) -> None:
    """A client that announced a 9-bit window but refers further back, into an earlier message,
    breaks the stream: 1007 (only the announced window is kept between messages)."""
    block = os.urandom(2000)
    wide = codec.FrameParser(inflate=True)
    compress = _client_stream(15)
    first, second = compress(block), compress(block)  # the second refers 2000 bytes back
    assert _feed(codec, wide, first) == block and _feed(codec, wide, second) == block
    narrow = codec.FrameParser(inflate=True, inflate_window_bits=9)
    assert _feed(codec, narrow, first) == block
    with pytest.raises(WebSocketProtocolError) as info:
        _feed(codec, narrow, second)
    assert info.value.code == 1007


@pytest.mark.parametrize("bits", [7, 16, "x"])
def test_inflate_window_bits_out_of_range(codec: Any, bits: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        codec.FrameParser(inflate=True, inflate_window_bits=bits)


def test_decompressed_limit_still_holds_with_history(codec: Any) -> None:
    parser = codec.FrameParser(max_size=1000, inflate=True)
    compress = _client_stream()
    assert _feed(codec, parser, compress(b"a" * 900)) == b"a" * 900
    with pytest.raises(WebSocketProtocolError) as info:
        _feed(codec, parser, compress(b"a" * 1001))
    assert info.value.code == 1009


def test_shared_compressor_messages_stand_alone() -> None:
    """Interleaved sends of two connections: every message inflates with a fresh inflater."""
    first = server_module.negotiate_deflate([b"permessage-deflate"])
    second = server_module.negotiate_deflate([b"permessage-deflate; server_max_window_bits=10"])
    assert first is not None and second is not None
    assert first[0] == b"permessage-deflate; server_no_context_takeover"
    assert second[0] == b"permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
    messages = [os.urandom(50) * 20, b"hello " * 100, os.urandom(50) * 20, b"hello " * 100]
    for i, data in enumerate(messages):
        for deflate, bits in ((first[1], 15), (second[1], 10)):
            out = deflate.compress(data)
            assert len(out) < len(data) or i == 0
            assert zlib.decompressobj(-bits).decompress(out + b"\x00\x00\xff\xff") == data
    # one compressor per window size, whatever the number of connections
    assert first[1]._compressor is None and second[1]._compressor is None


def test_shared_compressor_is_dropped_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compress that fails half way must not leave a half-written stream for the next message."""
    negotiated = server_module.negotiate_deflate([b"permessage-deflate"])
    assert negotiated is not None
    deflate = negotiated[1]
    deflate.compress(b"warm")
    with pytest.raises(TypeError):
        deflate.compress("not bytes")  # type: ignore[arg-type]
    out = deflate.compress(b"after " * 20)
    assert zlib.decompressobj(-15).decompress(out + b"\x00\x00\xff\xff") == b"after " * 20


@pytest.mark.parametrize(
    ("offer", "bits"),
    [
        (b"permessage-deflate", 15),
        (b"permessage-deflate; client_max_window_bits", 15),
        (b"permessage-deflate; client_max_window_bits=10", 10),
        (b"permessage-deflate; client_max_window_bits=8", 9),  # zlib inflates 8-bit streams with 9
    ],
)
def test_client_max_window_bits_sizes_the_inflater(offer: bytes, bits: int) -> None:
    negotiated = server_module.negotiate_deflate([offer])
    assert negotiated is not None
    assert negotiated[1].client_window_bits == bits


def test_shared_compressor_is_per_thread() -> None:
    """An event loop in another thread gets its own compressors: compress and flush are two zlib
    calls, which another thread could otherwise interleave."""
    negotiated = server_module.negotiate_deflate([b"permessage-deflate"])
    assert negotiated is not None
    negotiated[1].compress(b"main thread")
    seen: list[Any] = []

    def other() -> None:
        negotiated[1].compress(b"other thread")
        seen.append(deflate_module.shared_compressors())

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert seen and seen[0] is not deflate_module.shared_compressors()
    mine = deflate_module.shared_compressors()
    bits = deflate_module.SERVER_WINDOW_BITS  # what a 15-bit negotiation compresses with
    assert seen[0][bits] is not mine[bits]
