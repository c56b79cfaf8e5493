"""An independent oracle for fastws's frame codec: the ``websockets`` library's own frame parser.

The differential tests compare fastws's two twins with each other, so a bug both share goes
unseen. This module parses the same client byte stream with ``websockets.frames.Frame.parse``
(websockets 13+, a separate implementation of RFC 6455 section 5.2, with its own checks of the
opcode, masking, RSV bits and control frames) and ``websockets.frames.Close.parse`` (close code
and reason), and adds the message layer of RFC 6455 that websockets keeps elsewhere
(``websockets.protocol``): fragmentation (5.4), UTF-8 of text messages (5.6, 8.1) and the
per-message size limit. The result has the shape of ``FrameParser.feed``: the events
``(opcode, data)`` and, on an error, its close code. Where one frame breaks two rules at once,
RFC 6455 sets no order (every one fails the connection); the oracle then checks in fastws's order:
the header before the size, the close code before the reason.

Used by tests/protocol/test_frame_oracle.py and fuzz/differential.py (target ``frame_oracle``).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import Any

from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader

__all__ = ["oracle_feed"]

_CONTROL = {Opcode.CLOSE, Opcode.PING, Opcode.PONG}


def oracle_feed(chunks: Iterable[bytes], max_size: int | None, require_mask: bool = True) -> tuple[list[Any], Any]:
    """Parse the client stream ``chunks`` as fastws's ``FrameParser(max_size, require_mask)``
    does, with websockets' parser: ``(events, close code of the error or None)``.

    ``events`` are ``(opcode, data)``: a text message as ``str``, a binary message, a ping, a
    pong or a close payload as ``bytes``, in wire order, up to the error. Bytes that do not
    complete a frame are left unparsed, as fastws keeps them for the next ``feed``.
    """
    reader = StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    events: list[Any] = []
    message_opcode: int | None = None
    message_parts: list[bytes] = []
    message_size = 0
    decoder: Any = None
    while True:
        buffered = bytes(reader.buffer)
        # fastws checks a frame once its whole header (with the extended length and the masking
        # key) is in; websockets fails some checks from the first two bytes. Wait as fastws does.
        if len(buffered) < 2:
            return events, None
        length_bits = buffered[1] & 0x7F
        header = 2 + (2 if length_bits == 126 else 8 if length_bits == 127 else 0) + (4 if buffered[1] & 0x80 else 0)
        if len(buffered) < header:
            return events, None
        # RFC 6455 5.2: a 64-bit length has its most significant bit 0. websockets does not check
        # it (it would wait for 2**63 bytes); fastws fails at once with 1002.
        if length_bits == 127 and buffered[2] & 0x80:
            return events, 1002
        # Without require_mask fastws takes masked and unmasked frames alike; websockets wants
        # to be told which one to expect.
        mask = True if require_mask else bool(buffered[1] & 0x80)
        # What the header alone breaks fails before the size check, as in fastws (RFC 6455 sets no
        # order; every one of these fails the connection): websockets' own Frame.check on the
        # header's bits (RSV bits, control frames fragmented or over 125 bytes), and 5.4 (a
        # continuation needs a message in progress, a new data message needs none).
        code = _header_error(buffered, message_opcode)
        if code is not None:
            return events, code
        opcode_bits = buffered[0] & 0x0F
        # Each frame's size is bounded by what the message may still grow by (fastws checks the
        # header against max_size minus the bytes already in the message).
        limit = None
        if max_size is not None:
            opcode_bits = buffered[0] & 0x0F
            limit = max_size - message_size if opcode_bits == 0 else max_size
            if opcode_bits >= 8:
                limit = None  # control frames are bounded by 125 bytes, not by max_size
        parser = Frame.parse(reader.read_exact, mask=mask, max_size=limit)
        try:
            next(parser)
        except StopIteration as done:
            frame: Frame = done.value
        except ProtocolError:
            return events, 1002
        except PayloadTooBig:
            return events, 1009
        else:
            # The frame is incomplete: what its header already breaks fails now, as does a text
            # frame whose bytes so far are not UTF-8 (RFC 6455 8.1, fail fast), as in fastws.
            parser.close()
            return events, _incomplete_frame_error(buffered, message_opcode, decoder)
        opcode = frame.opcode
        data = bytes(frame.data)
        if opcode in _CONTROL:
            if opcode is Opcode.CLOSE:
                try:
                    if len(data) >= 2:  # the code before the reason, as fastws (Close.parse decodes first)
                        Close(int.from_bytes(data[:2], "big"), "").check()
                    Close.parse(data)
                except ProtocolError:
                    return events, 1002
                except UnicodeDecodeError:
                    return events, 1007
            events.append((int(opcode), data))
            if opcode is Opcode.CLOSE:
                # RFC 6455 5.5.1: nothing follows a close frame; fastws parses no further.
                return events, None
            continue
        if opcode is Opcode.CONT:
            if message_opcode is None:
                return events, 1002  # RFC 6455 5.4: a continuation with no message to continue
        else:
            if message_opcode is not None:
                return events, 1002  # RFC 6455 5.4: a new message inside a fragmented one
            message_opcode = int(opcode)
            message_parts = []
            message_size = 0
            decoder = codecs.getincrementaldecoder("utf-8")() if opcode is Opcode.TEXT else None
        message_parts.append(data)
        message_size += len(data)
        if decoder is not None:
            try:
                decoder.decode(data, final=frame.fin)
            except UnicodeDecodeError:
                return events, 1007
        if frame.fin:
            payload = b"".join(message_parts)
            events.append((message_opcode, payload.decode() if message_opcode == Opcode.TEXT else payload))
            message_opcode = None
            message_parts = []
            message_size = 0
            decoder = None


def _header_error(buffered: bytes, message_opcode: int | None) -> int | None:
    # 1002 when the frame's header (complete in ``buffered``) already breaks RFC 6455, checked
    # by websockets' Frame.check on a frame with the header's bits; None otherwise (or when the
    # header is not complete yet).
    b0, b1 = buffered[0], buffered[1]
    length = b1 & 0x7F
    offset = 2 + (2 if length == 126 else 8 if length == 127 else 0)
    if len(buffered) < offset + (4 if b1 & 0x80 else 0):  # fastws reads the masking key with the header
        return None
    if length == 126:
        length = int.from_bytes(buffered[2:4], "big")
    elif length == 127:
        length = int.from_bytes(buffered[2:10], "big")
    try:
        op = Opcode(b0 & 0x0F)
    except ValueError:
        return 1002
    rsv = (bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10))
    probe = Frame(op, bytes(min(length, 126)) if op in _CONTROL else b"", bool(b0 & 0x80), *rsv)
    try:
        probe.check()
    except ProtocolError:
        return 1002
    if op is Opcode.CONT and message_opcode is None:
        return 1002
    if op in (Opcode.TEXT, Opcode.BINARY) and message_opcode is not None:
        return 1002
    return None


def _incomplete_frame_error(buffered: bytes, message_opcode: int | None, decoder: Any) -> int | None:
    # The close code an incomplete frame already earns from the payload bytes so far: a text
    # frame whose bytes are not UTF-8 (fail fast), else None.
    b0, b1 = buffered[0], buffered[1]
    opcode = b0 & 0x0F
    if not (opcode == 1 or (opcode == 0 and message_opcode == Opcode.TEXT)):
        return None
    length = b1 & 0x7F
    offset = 2 + (2 if length == 126 else 8 if length == 127 else 0)
    masked = bool(b1 & 0x80)
    if len(buffered) < offset + (4 if masked else 0):
        return None
    key = buffered[offset : offset + 4] if masked else b"\0\0\0\0"
    payload = buffered[offset + (4 if masked else 0) :]
    payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    check = codecs.getincrementaldecoder("utf-8")()
    if opcode == 0 and decoder is not None:
        check.setstate(decoder.getstate())
    try:
        check.decode(payload, final=False)
    except UnicodeDecodeError:
        return 1007
    return None
