"""Both twins of the frame codec against an independent oracle, the ``websockets`` library's
frame parser (tests/frame_oracle.py): the same events and the same close code on arbitrary
client byte streams, split anywhere. A bug the twins share shows up here, not in the twin
comparison of tests/protocol/test_frame.py."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from frame_oracle import oracle_feed
from hypothesis import given, settings
from hypothesis import strategies as st
from test_frame import MASK, frame_impl, frame_soup, run_stream, split  # noqa: F401 (frame_impl: fixture)

from fastws.protocol._frame_types import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT


def compare(mod: ModuleType, stream: bytes, cuts: list[int], max_size: int | None, require_mask: bool = True) -> None:
    events, error = run_stream(mod, split(stream, cuts), max_size=max_size, require_mask=require_mask)
    want_events, want_code = oracle_feed([stream], max_size, require_mask)
    assert (events, error[0] if error else None) == (want_events, want_code)


@settings(max_examples=400, deadline=None)
@given(
    stream=frame_soup(),
    cuts=st.lists(st.integers(0, 10**6), max_size=10),
    max_size=st.sampled_from([None, 0, 5, 64, 1000]),
    require_mask=st.booleans(),
)
def test_codec_agrees_with_websockets_on_frame_soup(
    frame_impl: ModuleType,  # noqa: F811
    stream: bytes,
    cuts: list[int],
    max_size: int | None,
    require_mask: bool,
) -> None:
    compare(frame_impl, stream, cuts, max_size, require_mask)


@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=300), cuts=st.lists(st.integers(0, 10**6), max_size=10))
def test_codec_agrees_with_websockets_on_random_bytes(
    frame_impl: ModuleType,  # noqa: F811
    stream: bytes,
    cuts: list[int],
) -> None:
    compare(frame_impl, stream, cuts, None)


@pytest.mark.parametrize(
    ("stream", "code"),
    [
        (bytes([0x81, 0x85]) + MASK, None),  # an incomplete frame: nothing yet
        (bytes([0x89, 0xFE, 0x00, 0x7E]) + MASK, 1002),  # a 126-byte ping, from its header
        (bytes([0x09, 0x80]) + MASK, 1002),  # a fragmented ping
        (bytes([0xC1, 0x80]) + MASK, 1002),  # RSV1 without an extension
        (bytes([0x83, 0x80]) + MASK, 1002),  # reserved opcode
        (bytes([0x81, 0x05]) + b"hello", 1002),  # unmasked
        (bytes([0x80, 0x80]) + MASK, 1002),  # continuation of nothing
        (bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + MASK, 1002),  # 64-bit length, top bit set
    ],
)
def test_oracle_on_known_streams(frame_impl: ModuleType, stream: bytes, code: int | None) -> None:  # noqa: F811
    assert oracle_feed([stream], None)[1] == code
    compare(frame_impl, stream, [], None)


def test_oracle_on_a_conversation(frame_impl: ModuleType) -> None:  # noqa: F811
    m = frame_impl
    stream = (
        m.encode_frame(OP_TEXT, "hé".encode()[:2], fin=False, mask=MASK)
        + m.encode_frame(OP_PING, b"p", mask=MASK)
        + m.encode_frame(OP_CONT, "hé".encode()[2:], mask=MASK)
        + m.encode_frame(OP_BINARY, b"\x00\xff", mask=MASK)
        + m.encode_frame(OP_CLOSE, m.close_payload(1000, "bye"), mask=MASK)
    )
    want: list[Any] = [(OP_PING, b"p"), (OP_TEXT, "hé"), (OP_BINARY, b"\x00\xff"), (OP_CLOSE, b"\x03\xe8bye")]
    assert oracle_feed([stream], None) == (want, None)
    compare(m, stream, [1, 7, 20], None)
