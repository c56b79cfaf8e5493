"""The RFC 6455 frame codec (``_frame_c`` and its twin ``_frame_py``): round trips through the
writer and the streaming parser, every protocol error with its close code, and differential
property tests (the two twins agree on arbitrary byte streams split anywhere)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastws.protocol._frame_types import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    WebSocketProtocolError,
    is_valid_close_code,
)

MASK = b"\x37\xfa\x21\x3d"


@pytest.fixture(params=["c", "py"], scope="module")
def frame_impl(request: pytest.FixtureRequest) -> ModuleType:
    """One twin of the frame codec, imported directly (a missing extension fails loudly)."""
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    return importlib.import_module(f"fastws.protocol._frame_{request.param}")


def c_and_py() -> tuple[ModuleType, ModuleType]:
    return importlib.import_module("fastws.protocol._frame_c"), importlib.import_module("fastws.protocol._frame_py")


def run_stream(mod: ModuleType, chunks: list[bytes], **kwargs: Any) -> tuple[list[Any], Any]:
    """Feed ``chunks`` one by one: ``(events, error)`` where error is ``(code, reason)`` or None."""
    parser = mod.FrameParser(**kwargs)
    events: list[Any] = []
    for chunk in chunks:
        try:
            events.extend(parser.feed(chunk))
        except WebSocketProtocolError as exc:
            events.extend(exc.events)
            assert parser.failed
            assert parser.feed(b"\x81\x80" + MASK) == []
            return events, (exc.code, exc.reason)
    return events, None


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def client(mod: ModuleType, opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    return mod.encode_frame(opcode, payload, fin=fin, mask=MASK, rsv=rsv)


# -- writer --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "header"),
    [
        (0, b"\x82\x00"),
        (125, b"\x82\x7d"),
        (126, b"\x82\x7e\x00\x7e"),
        (65535, b"\x82\x7e\xff\xff"),
        (65536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_server_frame_lengths(frame_impl: ModuleType, n: int, header: bytes) -> None:
    frame = frame_impl.encode_frame(OP_BINARY, b"x" * n)
    assert frame == header + b"x" * n


def test_rfc_examples(frame_impl: ModuleType) -> None:
    # RFC 6455 section 5.7.
    assert frame_impl.encode_frame(OP_TEXT, b"Hello") == b"\x81\x05Hello"
    masked = bytes.fromhex("818537fa213d7f9f4d5158")
    assert frame_impl.encode_frame(OP_TEXT, b"Hello", mask=MASK) == masked
    assert frame_impl.FrameParser().feed(masked) == [(OP_TEXT, "Hello")]
    assert frame_impl.encode_frame(OP_TEXT, b"Hel", fin=False) == b"\x01\x03Hel"
    assert frame_impl.encode_text("Hello") == b"\x81\x05Hello"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(opcode=3, payload=b""),
        dict(opcode=11, payload=b""),
        dict(opcode=1, payload=b"", rsv=8),
        dict(opcode=OP_PING, payload=b"x" * 126),
        dict(opcode=OP_CLOSE, payload=b"", fin=False),
        dict(opcode=1, payload=b"", mask=b"abc"),
    ],
)
def test_writer_rejects(frame_impl: ModuleType, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        frame_impl.encode_frame(**kwargs)


def test_close_payload(frame_impl: ModuleType) -> None:
    assert frame_impl.close_payload() == b"\x03\xe8"
    assert frame_impl.close_payload(4000, "é") == b"\x0f\xa0\xc3\xa9"
    assert frame_impl.parse_close(frame_impl.close_payload(3000, "bye")) == (3000, "bye")
    assert frame_impl.parse_close(b"") == (1005, "")
    for code in (0, 999, 1004, 1005, 1006, 1015, 2999, 5000):
        with pytest.raises(ValueError):
            frame_impl.close_payload(code)
    frame_impl.close_payload(1000, "x" * 123)
    with pytest.raises(ValueError):
        frame_impl.close_payload(1000, "x" * 124)
    with pytest.raises(UnicodeEncodeError):
        frame_impl.encode_text("\ud800")


@pytest.mark.compiled
def test_apply_mask_twins_agree() -> None:
    c, py = c_and_py()
    data = bytes(range(256)) * 3
    for n in range(0, 70):
        assert c.apply_mask(data[:n], MASK) == py.apply_mask(data[:n], MASK)
        assert py.apply_mask(py.apply_mask(data[:n], MASK), MASK) == data[:n]
    for mod in (c, py):
        with pytest.raises(ValueError):
            mod.apply_mask(b"x", b"12345")


# -- parser --------------------------------------------------------------------------------------


def test_fragments_with_interleaved_control(frame_impl: ModuleType) -> None:
    m = frame_impl
    stream = (
        client(m, OP_TEXT, "hé".encode()[:2], fin=False)
        + client(m, OP_PING, b"p1")
        + client(m, OP_CONT, "hé".encode()[2:], fin=False)
        + client(m, OP_PONG, b"")
        + client(m, OP_CONT, b"!", fin=True)
        + client(m, OP_BINARY, b"\x00\xff", fin=False)
        + client(m, OP_CONT, b"", fin=False)
        + client(m, OP_CONT, b"\x01", fin=True)
        + client(m, OP_CLOSE, m.close_payload(1001, "gone"))
        + b"ignored after close"
    )
    for size in (1, 2, 3, 7, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        events, error = run_stream(m, chunks)
        assert error is None
        assert events == [
            (OP_PING, b"p1"),
            (OP_PONG, b""),
            (OP_TEXT, "hé!"),
            (OP_BINARY, b"\x00\xff\x01"),
            (OP_CLOSE, b"\x03\xe9gone"),
        ]


def test_large_lengths(frame_impl: ModuleType) -> None:
    for n in (126, 65535, 65536, 200_000):
        payload = bytes(range(256)) * (n // 256) + b"z" * (n % 256)
        events, error = run_stream(frame_impl, split(client(frame_impl, OP_BINARY, payload), [3, 9, 5000]))
        assert (events, error) == ([(OP_BINARY, payload)], None)


def test_unmasked_allowed_when_not_required(frame_impl: ModuleType) -> None:
    parser = frame_impl.FrameParser(require_mask=False)
    assert parser.feed(b"\x81\x02hi\x89\x00") == [(OP_TEXT, "hi"), (OP_PING, b"")]


def test_max_size_none_and_zero(frame_impl: ModuleType) -> None:
    assert frame_impl.FrameParser(max_size=None).max_size is None
    assert run_stream(frame_impl, [client(frame_impl, OP_BINARY, b"")], max_size=0) == ([(OP_BINARY, b"")], None)
    with pytest.raises(ValueError):
        frame_impl.FrameParser(max_size=-1)


def _errors(m: ModuleType) -> list[tuple[str, bytes, int, dict[str, Any]]]:
    big_header = b"\x82\xff" + (1 << 40).to_bytes(8, "big") + MASK
    return [
        ("unmasked", b"\x81\x02hi", 1002, {}),
        ("rsv1", client(m, OP_TEXT, b"a", rsv=4), 1002, {}),
        ("rsv2", client(m, OP_TEXT, b"a", rsv=2), 1002, {}),
        ("rsv3", client(m, OP_BINARY, b"a", rsv=1), 1002, {}),
        ("rsv on ping", client(m, OP_PING, b"", rsv=1), 1002, {}),
        *[(f"opcode {op}", bytes([0x80 | op, 0x80]) + MASK, 1002, {}) for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)],
        ("fragmented ping", bytes([0x09, 0x80]) + MASK, 1002, {}),
        ("fragmented close", bytes([0x08, 0x80]) + MASK, 1002, {}),
        ("ping 126", bytes([0x89, 0xFE, 0, 126]) + MASK + b"x" * 126, 1002, {}),
        ("close 126 via 16-bit length", bytes([0x88, 0xFE, 0, 126]) + MASK + b"x" * 126, 1002, {}),
        ("continuation first", client(m, OP_CONT, b"a"), 1002, {}),
        ("text inside fragments", client(m, OP_TEXT, b"a", fin=False) + client(m, OP_TEXT, b"b"), 1002, {}),
        ("binary inside fragments", client(m, OP_BINARY, b"a", fin=False) + client(m, OP_BINARY, b"b"), 1002, {}),
        ("64-bit top bit", b"\x82\xff\x80" + b"\x00" * 7 + MASK, 1002, {}),
        ("close 1 byte", client(m, OP_CLOSE, b"\x03"), 1002, {}),
        *[
            (f"close code {c}", client(m, OP_CLOSE, c.to_bytes(2, "big")), 1002, {})
            for c in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535)
        ],
        ("close reason not utf-8", client(m, OP_CLOSE, b"\x03\xe8\xff"), 1007, {}),
        ("text not utf-8", client(m, OP_TEXT, b"\xc3\x28"), 1007, {}),
        ("surrogate in text", client(m, OP_TEXT, b"\xed\xa0\x80"), 1007, {}),
        ("fragment not utf-8 early", client(m, OP_TEXT, b"ok\xff", fin=False), 1007, {}),
        ("continuation not utf-8", client(m, OP_TEXT, b"\xce", fin=False) + client(m, OP_CONT, b"\x41"), 1007, {}),
        ("truncated utf-8 at fin", client(m, OP_TEXT, b"\xce", fin=False) + client(m, OP_CONT, b""), 1007, {}),
        ("too big", client(m, OP_BINARY, b"x" * 11), 1009, {"max_size": 10}),
        ("too big text", client(m, OP_TEXT, b"x" * 11), 1009, {"max_size": 10}),
        (
            "too big in fragments",
            client(m, OP_BINARY, b"x" * 6, fin=False) + client(m, OP_CONT, b"x" * 5),
            1009,
            {"max_size": 10},
        ),
        ("too big from header alone", big_header, 1009, {}),
    ]


@pytest.mark.parametrize("index", range(len(_errors(importlib.import_module("fastws.protocol._frame_py")))))
def test_protocol_errors(frame_impl: ModuleType, index: int) -> None:
    name, stream, code, kwargs = _errors(frame_impl)[index]
    prefix = client(frame_impl, OP_BINARY, b"before")
    for chunks in ([prefix + stream], [prefix, *[bytes([b]) for b in stream]]):
        events, error = run_stream(frame_impl, chunks, **kwargs)
        assert error is not None, name
        assert error[0] == code, (name, error)
        assert events == [(OP_BINARY, b"before")], name


def test_max_size_at_the_limit(frame_impl: ModuleType) -> None:
    m = frame_impl
    stream = client(m, OP_TEXT, b"x" * 6, fin=False) + client(m, OP_CONT, b"x" * 4)
    assert run_stream(m, [stream], max_size=10) == ([(OP_TEXT, "x" * 10)], None)


# -- properties ----------------------------------------------------------------------------------

messages = st.lists(
    st.one_of(
        st.tuples(st.just(OP_TEXT), st.text(max_size=300)),
        st.tuples(st.just(OP_BINARY), st.binary(max_size=300)),
        st.tuples(st.sampled_from([OP_PING, OP_PONG]), st.binary(max_size=125)),
    ),
    max_size=8,
)


@pytest.mark.compiled
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    msgs=messages,
    frag=st.lists(st.integers(0, 400), max_size=20),
    cuts=st.lists(st.integers(0, 10**6), max_size=12),
    mask=st.binary(min_size=4, max_size=4),
)
def test_round_trip(msgs: list[tuple[int, Any]], frag: list[int], cuts: list[int], mask: bytes) -> None:
    """Writer -> parser for both twins: messages fragmented at random sizes, control frames
    between them, the stream split at random points."""
    for mod in c_and_py():
        stream = b""
        expected = []
        for opcode, data in msgs:
            payload = data.encode() if isinstance(data, str) else data
            expected.append((opcode, data))
            if opcode >= OP_CLOSE or not frag:
                stream += mod.encode_frame(opcode, payload, mask=mask)
                continue
            points = sorted({f % (len(payload) + 1) for f in frag})
            pieces = split(payload, points)
            for i, piece in enumerate(pieces):
                stream += mod.encode_frame(opcode if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1, mask=mask)
        stream += mod.encode_frame(OP_CLOSE, mod.close_payload(1000, "done"), mask=mask)
        expected.append((OP_CLOSE, b"\x03\xe8done"))
        assert run_stream(mod, split(stream, cuts)) == (expected, None)


def frame_soup() -> st.SearchStrategy[bytes]:
    """Streams of plausible frames, valid or not: any header bits, short payloads, with and
    without a mask, mixed with raw random bytes."""
    py = importlib.import_module("fastws.protocol._frame_py")

    @st.composite
    def one(draw: st.DrawFn) -> bytes:
        if draw(st.integers(0, 9)) == 0:
            return draw(st.binary(max_size=20))
        b0 = (
            draw(st.sampled_from([0x80, 0x00]))
            | draw(st.sampled_from([0, 0, 0, 0x40, 0x10]))
            | draw(st.sampled_from([0, 1, 2, 8, 9, 10, 1, 2, 0, 3, 11]))
        )
        payload = draw(
            st.one_of(
                st.binary(max_size=140),
                st.text(max_size=40).map(str.encode),
                st.sampled_from([b"\x03\xe8", b"\x03\xe8\xff", b"\x03", b"\x0f\xa0ok", b"\xc3", b"\xa9"]),
            )
        )
        masked = draw(st.integers(0, 9)) > 0
        frame = py.encode_frame(OP_BINARY, payload, mask=MASK if masked else None)
        return bytes([b0]) + frame[1:]

    return st.lists(one(), max_size=10).map(b"".join)


@pytest.mark.compiled
@settings(max_examples=400, deadline=None)
@given(
    stream=frame_soup(),
    cuts=st.lists(st.integers(0, 10**6), max_size=10),
    max_size=st.sampled_from([None, 0, 5, 64, 1000]),
    require_mask=st.booleans(),
)
def test_twins_agree_on_frame_soup(stream: bytes, cuts: list[int], max_size: int | None, require_mask: bool) -> None:
    c, py = c_and_py()
    chunks = split(stream, cuts)
    kwargs = {"max_size": max_size, "require_mask": require_mask}
    assert run_stream(c, chunks, **kwargs) == run_stream(py, chunks, **kwargs)


@pytest.mark.compiled
@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=300), cuts=st.lists(st.integers(0, 10**6), max_size=10), require_mask=st.booleans())
def test_twins_agree_on_random_bytes(stream: bytes, cuts: list[int], require_mask: bool) -> None:
    c, py = c_and_py()
    chunks = split(stream, cuts)
    assert run_stream(c, chunks, require_mask=require_mask) == run_stream(py, chunks, require_mask=require_mask)


@pytest.mark.compiled
def test_close_code_table() -> None:
    valid = [c for c in range(0, 6000) if is_valid_close_code(c)]
    assert valid[:4] == [1000, 1001, 1002, 1003] and 1004 not in valid and 1007 in valid
    c, py = c_and_py()
    for code in range(0, 5100, 7):
        payload = code.to_bytes(2, "big") + b"r"
        results = []
        for mod in (c, py):
            try:
                results.append(mod.parse_close(payload))
            except WebSocketProtocolError as exc:
                results.append((exc.code, exc.reason))
        assert results[0] == results[1]


# -- permessage-deflate (RFC 7692) ---------------------------------------------------------------


def deflate(data: bytes, compressor: Any = None) -> bytes:
    """A message compressed as RFC 7692 section 7.2.1 says: sync flush, tail stripped."""
    import zlib

    c = compressor or zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def test_inflate_messages(frame_impl: ModuleType) -> None:
    import zlib

    m = frame_impl
    shared = zlib.compressobj(6, zlib.DEFLATED, -15)
    text = "héllo wörld " * 50
    first = deflate(text.encode(), shared)
    second = deflate(text.encode(), shared)  # refers back to the first message's window
    assert len(second) < len(first)
    stream = (
        client(m, OP_TEXT, first, rsv=4)
        + client(m, OP_BINARY, b"plain")
        + client(m, OP_TEXT, second[:5], fin=False, rsv=4)
        + client(m, OP_PING, b"between")
        + client(m, OP_CONT, second[5:10], fin=False)
        + client(m, OP_CONT, second[10:])
        + client(m, OP_BINARY, deflate(b""), rsv=4)
    )
    for size in (1, 7, len(stream)):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert run_stream(m, chunks, inflate=True) == (
            [(OP_TEXT, text), (OP_BINARY, b"plain"), (OP_PING, b"between"), (OP_TEXT, text), (OP_BINARY, b"")],
            None,
        )
    # With no context takeover the second message cannot be read without the first's window.
    events, error = run_stream(
        m, [client(m, OP_TEXT, deflate(b"abc" * 10), rsv=4)] * 2, inflate=True, inflate_reset=True
    )
    assert events == [(OP_TEXT, "abc" * 10)] * 2 and error is None


def _deflate_errors(m: ModuleType) -> list[tuple[str, bytes, int, dict[str, Any]]]:
    bomb = deflate(b"\x00" * 100_000)
    return [
        ("rsv1 without inflate", client(m, OP_TEXT, deflate(b"x"), rsv=4), 1002, {}),
        ("rsv2 with inflate", client(m, OP_TEXT, b"x", rsv=2), 1002, {"inflate": True}),
        ("rsv1 on ping", client(m, OP_PING, b"", rsv=4), 1002, {"inflate": True}),
        (
            "rsv1 on continuation",
            client(m, OP_TEXT, b"a", fin=False) + client(m, OP_CONT, b"b", rsv=4),
            1002,
            {"inflate": True},
        ),
        ("bomb", client(m, OP_BINARY, bomb, rsv=4), 1009, {"inflate": True, "max_size": 50_000}),
        ("bomb in text", client(m, OP_TEXT, bomb, rsv=4), 1009, {"inflate": True, "max_size": 99_999}),
        ("not deflate", client(m, OP_BINARY, b"\xff\xff\xff\xff", rsv=4), 1007, {"inflate": True}),
        ("not utf-8 inside", client(m, OP_TEXT, deflate(b"\xc3\x28"), rsv=4), 1007, {"inflate": True}),
    ]


@pytest.mark.parametrize("index", range(8))
def test_inflate_errors(frame_impl: ModuleType, index: int) -> None:
    name, stream, code, kwargs = _deflate_errors(frame_impl)[index]
    events, error = run_stream(frame_impl, [client(frame_impl, OP_BINARY, b"before") + stream], **kwargs)
    assert error is not None and error[0] == code, (name, error)
    assert events == [(OP_BINARY, b"before")]


def test_inflate_at_the_limit(frame_impl: ModuleType) -> None:
    frame = client(frame_impl, OP_BINARY, deflate(b"\x00" * 100_000), rsv=4)
    assert run_stream(frame_impl, [frame], inflate=True, max_size=100_000) == ([(OP_BINARY, b"\x00" * 100_000)], None)


@pytest.mark.compiled
@settings(max_examples=300, deadline=None)
@given(stream=frame_soup(), cuts=st.lists(st.integers(0, 10**6), max_size=10), reset=st.booleans())
def test_twins_agree_with_inflate(stream: bytes, cuts: list[int], reset: bool) -> None:
    c, py = c_and_py()
    chunks = split(stream, cuts)
    kwargs = {"inflate": True, "inflate_reset": reset, "max_size": 1000}
    assert run_stream(c, chunks, **kwargs) == run_stream(py, chunks, **kwargs)


def test_invalid_utf8_fails_before_the_frame_completes(frame_impl: ModuleType) -> None:
    # RFC 6455 section 8.1 / Autobahn 6.4.x: fail fast, from the first bytes of a long frame.
    m = frame_impl
    for prefix in (b"", client(m, OP_TEXT, b"start", fin=False)):
        opcode = OP_CONT if prefix else OP_TEXT
        frame = client(m, opcode, b"ok\xf0\x90" + b"x" * 10_000)
        parser = m.FrameParser()
        assert parser.feed(prefix + frame[:12]) == []  # header + "ok" + 2 bytes: still valid so far
        with pytest.raises(WebSocketProtocolError) as info:
            parser.feed(frame[12:20])
        assert info.value.code == 1007
    # A truncated sequence at the very end of a streamed frame is caught at FIN.
    frame = client(m, OP_TEXT, b"x" * 200 + b"\xe2\x82")
    parser = m.FrameParser()
    assert parser.feed(frame[:50]) == []
    with pytest.raises(WebSocketProtocolError) as info:
        parser.feed(frame[50:])
    assert info.value.code == 1007


def test_streamed_text_with_every_split(frame_impl: ModuleType) -> None:
    m = frame_impl
    text = "aé€😀" * 40
    stream = client(m, OP_TEXT, text.encode()[:77], fin=False) + client(m, OP_CONT, text.encode()[77:])
    for cut in range(1, len(stream)):
        for cut2 in (cut + 1, cut + 5, len(stream)):
            assert run_stream(m, [stream[:cut], stream[cut:cut2], stream[cut2:]]) == ([(OP_TEXT, text)], None)


@pytest.mark.parametrize("payload", [5, 0, True])
def test_encode_frame_refuses_an_int_payload(frame_impl: ModuleType, payload: Any) -> None:
    # bytes(5) would be five zero bytes on the wire: an int is not a bytes-like payload.
    with pytest.raises(TypeError, match="bytes-like, got"):
        frame_impl.encode_frame(OP_BINARY, payload)
