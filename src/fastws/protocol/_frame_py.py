"""RFC 6455 frame codec for the server side: the pure-Python twin of ``_frame_c.pyx``.

``FrameParser`` turns a stream of bytes from a client, split anywhere, into complete events:
``(opcode, data)`` tuples in wire order, where ``opcode`` is ``OP_TEXT`` (``data`` is ``str``),
``OP_BINARY``, ``OP_PING``, ``OP_PONG`` or ``OP_CLOSE`` (``data`` is ``bytes``; for a close frame
the validated payload, read it with :func:`parse_close`). Fragmented messages are reassembled;
control frames between fragments come out when they arrive. The writer functions build unmasked
server frames (and masked client frames, for tests and clients).

Errors: :class:`fastws.protocol._frame_types.WebSocketProtocolError` with the close code to send (1002,
1007, 1009); the same class in both twins.
"""

from __future__ import annotations

import codecs
import zlib
from typing import Any

from fastws.protocol._frame_types import (
    DEFLATE_TAIL,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    WebSocketProtocolError,
    is_valid_close_code,
)

__all__ = [
    "FrameParser",
    "apply_mask",
    "close_payload",
    "encode_frame",
    "encode_text",
    "parse_close",
]

_UTF8Decoder = codecs.getincrementaldecoder("utf-8")
_MAX_CONTROL = 125
_MAX_REASON = 123


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """``data`` XOR the 4-byte ``mask`` repeated (RFC 6455 section 5.3); masking and unmasking
    are the same operation. Raises ``ValueError`` if ``mask`` is not 4 bytes long."""
    if len(mask) != 4:
        raise ValueError(f"a mask is 4 bytes, got {len(mask)}")
    n = len(data)
    if n == 0:
        return b""
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def encode_frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = None, rsv: int = 0) -> bytes:
    """One frame on the wire (RFC 6455 section 5.2): ``opcode`` (0, 1, 2, 8, 9 or 10),
    ``payload`` (bytes-like), ``fin``, ``rsv`` (the three RSV bits as an int 0-7, for tests) and
    ``mask`` (``None`` for a server frame, 4 bytes for a client frame), with the shortest of the
    7/16/64-bit length encodings.

    Raises ``ValueError`` for an unknown opcode, ``rsv`` outside 0-7, a mask that is not 4 bytes,
    or a control frame (8, 9, 10) with ``fin`` false or a payload over 125 bytes; ``TypeError`` for
    a payload that is not bytes-like (an ``int`` included: ``bytes(n)`` would be ``n`` zero bytes).
    """
    if opcode not in (OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG):
        raise ValueError(f"unknown opcode {opcode}")
    if not 0 <= rsv <= 7:
        raise ValueError(f"rsv is three bits (0-7), got {rsv}")
    if isinstance(payload, int):  # bytes(n) would be n zero bytes, not an error
        raise TypeError(f"a frame payload is bytes-like, got {type(payload).__name__}")
    payload = bytes(payload)
    n = len(payload)
    if opcode >= OP_CLOSE and (n > _MAX_CONTROL or not fin):
        raise ValueError(f"a control frame is final and carries at most 125 bytes, got {n} bytes")
    head = bytearray()
    head.append((0x80 if fin else 0) | (rsv << 4) | opcode)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head.append(bit | n)
    elif n < 65536:
        head.append(bit | 126)
        head += n.to_bytes(2, "big")
    else:
        head.append(bit | 127)
        head += n.to_bytes(8, "big")
    if mask is None:
        return bytes(head) + payload
    if len(mask) != 4:
        raise ValueError(f"a mask is 4 bytes, got {len(mask)}")
    return bytes(head) + bytes(mask) + apply_mask(payload, mask)


def encode_text(text: str) -> bytes:
    """An unmasked final text frame carrying ``text`` encoded as UTF-8 (RFC 6455 section 5.6).
    Raises ``UnicodeEncodeError`` for a lone surrogate."""
    return encode_frame(OP_TEXT, text.encode("utf-8"))


def close_payload(code: int = 1000, reason: str = "") -> bytes:
    """The payload of a close frame (RFC 6455 section 5.5.1): ``code`` as 2 big-endian bytes
    then ``reason`` in UTF-8. Raises ``ValueError`` if ``code`` may not be sent (see
    ``is_valid_close_code``) or ``reason`` is longer than 123 UTF-8 bytes."""
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent (1000-1003, 1007-1014, 3000-4999)")
    data = reason.encode("utf-8")
    if len(data) > _MAX_REASON:
        raise ValueError(f"a close reason is at most 123 UTF-8 bytes, got {len(data)}")
    return code.to_bytes(2, "big") + data


def parse_close(payload: bytes) -> tuple[int, str]:
    """``(code, reason)`` from a close frame's payload (RFC 6455 section 7.1.5): an empty
    payload gives ``(1005, "")``. Raises ``WebSocketProtocolError`` 1002 for a 1-byte payload or
    a code that may not be sent, 1007 for a reason that is not UTF-8."""
    n = len(payload)
    if n == 0:
        return 1005, ""
    if n == 1:
        raise WebSocketProtocolError(1002, "close frame payload of 1 byte, expected 0 or 2 or more")
    code = (payload[0] << 8) | payload[1]
    if not is_valid_close_code(code):
        raise WebSocketProtocolError(1002, f"invalid close code {code}")
    try:
        reason = bytes(payload[2:]).decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketProtocolError(1007, "close reason is not valid UTF-8") from None
    return code, reason


class FrameParser:
    """Streaming parser of client-to-server frames (RFC 6455 sections 5 and 6.2).

    ``max_size`` (int bytes, or ``None`` for no limit) bounds a message's payload, summed over
    its fragments, and is checked from the frame header before the payload is buffered.
    ``require_mask`` (default true: a server parsing client frames) makes an unmasked frame a
    protocol error.

    ``inflate`` (default false) says permessage-deflate was negotiated (RFC 7692): RSV1 on the
    first frame of a data message marks it compressed, and the whole message is inflated when
    its last frame arrives, bounded by ``max_size`` after decompression too (1009), with a
    window of ``inflate_window_bits`` bits (int 9-15, default 15: enough for any window; the
    client's ``client_max_window_bits``, RFC 7692 section 7.1.2.2; ``ValueError`` outside).
    ``inflate_reset`` (the client's ``client_no_context_takeover``) starts every message with a
    fresh window. No inflater is kept between messages: with context takeover, only the last
    ``2 ** inflate_window_bits`` bytes of output (the LZ77 window, RFC 7692 section 7.2.2), from
    which the next message's inflater is rebuilt; without, nothing. Any other RSV bit, or RSV1 on
    a control or continuation frame, is a protocol error (1002).

    After a close frame the parser ignores further bytes (``closed`` becomes true); after an
    error it ignores everything (``failed``).
    """

    def __init__(
        self,
        max_size: int | None = 16 * 1024 * 1024,
        require_mask: bool = True,
        inflate: bool = False,
        inflate_reset: bool = False,
        inflate_window_bits: int = 15,
    ) -> None:
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size is a byte count >= 0 or None, got {max_size}")
        if not 9 <= inflate_window_bits <= 15:
            raise ValueError(f"inflate_window_bits is 9-15, got {inflate_window_bits}")
        self.max_size = max_size
        self.require_mask = require_mask
        self.inflate = inflate
        self.inflate_reset = inflate_reset
        self.closed = False
        self.failed = False
        self._head = b""
        # Payload state: bytes still to read for the current frame (-1: reading a header).
        self._need = -1
        self._chunks: list[Any] = []
        # A text frame spanning feeds is validated as its bytes arrive (fail fast, RFC 6455
        # section 8.1): _chunks then holds str, _got counts the payload bytes so far.
        self._stream_text = False
        self._got = 0
        self._length = 0
        self._opcode = 0
        self._fin = False
        self._mask: bytes | None = None
        # Fragmented message state.
        self._frag_opcode = 0
        self._frag_parts: list[Any] = []
        self._frag_size = 0
        self._decoder: Any = None
        self._rsv1 = False  # the current frame's RSV1 bit
        self._compressed = False  # the message being reassembled is compressed
        self._window = 1 << inflate_window_bits
        self._wbits = -inflate_window_bits
        self._history = b""  # the inflate window: the last output bytes, with context takeover

    def feed(self, data: bytes) -> list[tuple[int, Any]]:
        """Consume ``data`` (bytes-like, any split) and return the events it completed, as
        ``(opcode, data)`` tuples in wire order.

        Raises ``WebSocketProtocolError`` (close code 1002, 1007 or 1009) when the stream breaks
        the protocol or a message is too big; the events completed before the error are on the
        exception's ``events``.
        """
        events: list[tuple[int, Any]] = []
        if self.closed or self.failed:
            return events
        data = bytes(data)
        if self._head:
            data = self._head + data
            self._head = b""
        try:
            self._parse(data, events)
        except WebSocketProtocolError as exc:
            self.failed = True
            exc.events = events
            raise
        return events

    def _parse(self, data: bytes, events: list[tuple[int, Any]]) -> None:
        pos = 0
        n = len(data)
        while not self.closed:
            if self._need >= 0:
                take = min(self._need, n - pos)
                if take:
                    chunk: Any = data[pos : pos + take]
                    if self._stream_text:
                        if self._mask is not None:
                            k = self._got & 3
                            chunk = apply_mask(chunk, self._mask[k:] + self._mask[:k])
                        try:
                            chunk = self._decoder.decode(chunk, False)
                        except UnicodeDecodeError:
                            raise WebSocketProtocolError(1007, "text message is not valid UTF-8") from None
                    self._chunks.append(chunk)
                    self._got += take
                    pos += take
                    self._need -= take
                if self._need:
                    return
                self._need = -1
                if self._stream_text:
                    text = "".join(self._chunks)
                    self._chunks = []
                    self._text_frame(self._opcode, self._fin, text, self._length, events)
                    continue
                payload = b"".join(self._chunks)
                self._chunks = []
                self._frame(self._opcode, self._fin, self._mask, payload, events)
                continue
            avail = n - pos
            if avail < 2:
                self._head = data[pos:]
                return
            b0 = data[pos]
            b1 = data[pos + 1]
            fin = bool(b0 & 0x80)
            opcode = b0 & 0x0F
            masked = bool(b1 & 0x80)
            length = b1 & 0x7F
            hl = 2
            if length == 126:
                hl = 4
            elif length == 127:
                hl = 10
            if masked:
                hl += 4
            if avail < hl:
                self._head = data[pos:]
                return
            if b0 & 0x70:
                if not self.inflate or b0 & 0x30:
                    raise WebSocketProtocolError(1002, "RSV bits set but no extension was negotiated")
                if opcode != OP_TEXT and opcode != OP_BINARY:
                    raise WebSocketProtocolError(1002, "RSV1 set on a control or continuation frame")
            if opcode > OP_BINARY and opcode < OP_CLOSE or opcode > OP_PONG:
                raise WebSocketProtocolError(1002, f"reserved opcode {opcode}")
            if self.require_mask and not masked:
                raise WebSocketProtocolError(1002, "unmasked frame from a client")
            if length == 126:
                length = (data[pos + 2] << 8) | data[pos + 3]
            elif length == 127:
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                if length >> 63:
                    raise WebSocketProtocolError(1002, "64-bit payload length with the top bit set")
            if opcode >= OP_CLOSE:
                if not fin:
                    raise WebSocketProtocolError(1002, "fragmented control frame")
                if length > _MAX_CONTROL:
                    raise WebSocketProtocolError(1002, "control frame payload over 125 bytes")
            else:
                if opcode == OP_CONT:
                    if not self._frag_opcode:
                        raise WebSocketProtocolError(1002, "continuation frame without a message to continue")
                elif self._frag_opcode:
                    raise WebSocketProtocolError(1002, "new data frame inside a fragmented message")
                total = length + (self._frag_size if opcode == OP_CONT else 0)
                if self.max_size is not None and total > self.max_size:
                    raise WebSocketProtocolError(1009, f"message of at least {total} bytes exceeds the limit")
            mask = data[pos + hl - 4 : pos + hl] if masked else None
            self._rsv1 = bool(b0 & 0x40)
            pos += hl
            if length <= n - pos:
                payload = data[pos : pos + length]
                pos += length
                self._frame(opcode, fin, mask, payload, events)
            else:
                self._opcode = opcode
                self._fin = fin
                self._mask = mask
                self._need = length
                self._chunks = []
                self._got = 0
                self._length = length
                self._stream_text = not self._rsv1 and (
                    opcode == OP_TEXT or (opcode == OP_CONT and self._frag_opcode == OP_TEXT and not self._compressed)
                )
                if opcode == OP_TEXT and self._stream_text:
                    self._decoder = _UTF8Decoder()

    def _text_frame(self, opcode: int, fin: bool, text: str, nbytes: int, events: list[tuple[int, Any]]) -> None:
        # A text frame whose payload was validated chunk by chunk as it arrived (fail fast).
        if fin:
            try:
                text += self._decoder.decode(b"", True)
            except UnicodeDecodeError:
                raise WebSocketProtocolError(1007, "text message is not valid UTF-8") from None
        if opcode == OP_TEXT:
            if fin:
                events.append((OP_TEXT, text))
                self._decoder = None
            else:
                self._frag_opcode = OP_TEXT
                self._frag_size = nbytes
                self._frag_parts = [text]
            return
        self._frag_size += nbytes
        self._frag_parts.append(text)
        if fin:
            events.append((OP_TEXT, "".join(self._frag_parts)))
            self._frag_opcode = 0
            self._frag_parts = []
            self._frag_size = 0
            self._decoder = None

    def _frame(self, opcode: int, fin: bool, mask: bytes | None, payload: bytes, events: list[tuple[int, Any]]) -> None:
        if mask is not None:
            payload = apply_mask(payload, mask)
        if opcode >= OP_CLOSE:
            if opcode == OP_CLOSE:
                parse_close(payload)
                self.closed = True
            events.append((opcode, payload))
            return
        if opcode == OP_CONT:
            self._frag_size += len(payload)
            if self._compressed:
                self._frag_parts.append(payload)
                if fin:
                    message: Any = self._inflate(b"".join(self._frag_parts), self._frag_opcode)
                    events.append((self._frag_opcode, message))
                    self._frag_opcode = 0
                    self._frag_parts = []
                    self._frag_size = 0
                    self._compressed = False
                return
            if self._frag_opcode == OP_TEXT:
                try:
                    self._frag_parts.append(self._decoder.decode(payload, fin))
                except UnicodeDecodeError:
                    raise WebSocketProtocolError(1007, "text message is not valid UTF-8") from None
            else:
                self._frag_parts.append(payload)
            if fin:
                parts = self._frag_parts
                message = ("" if self._frag_opcode == OP_TEXT else b"").join(parts)
                events.append((self._frag_opcode, message))
                self._frag_opcode = 0
                self._frag_parts = []
                self._frag_size = 0
                self._decoder = None
            return
        if self._rsv1:
            if fin:
                events.append((opcode, self._inflate(payload, opcode)))
            else:
                self._compressed = True
                self._frag_opcode = opcode
                self._frag_size = len(payload)
                self._frag_parts = [payload]
            return
        if fin:
            if opcode == OP_TEXT:
                try:
                    events.append((OP_TEXT, payload.decode("utf-8")))
                except UnicodeDecodeError:
                    raise WebSocketProtocolError(1007, "text message is not valid UTF-8") from None
            else:
                events.append((OP_BINARY, payload))
            return
        self._frag_opcode = opcode
        self._frag_size = len(payload)
        if opcode == OP_TEXT:
            self._decoder = _UTF8Decoder()
            try:
                self._frag_parts = [self._decoder.decode(payload, False)]
            except UnicodeDecodeError:
                raise WebSocketProtocolError(1007, "text message is not valid UTF-8") from None
        else:
            self._frag_parts = [payload]

    def _inflate(self, payload: bytes, opcode: int) -> Any:
        # One whole compressed message (RFC 7692 section 7.2.2), bounded by max_size. A fresh
        # inflater each time, primed with the window kept from the messages before (context
        # takeover), dropped afterwards: no zlib state (about 40 KiB) lives between messages.
        history = self._history
        inflater = zlib.decompressobj(self._wbits, zdict=history) if history else zlib.decompressobj(self._wbits)
        limit = self.max_size
        try:
            if limit is None:
                data = inflater.decompress(payload + DEFLATE_TAIL)
            else:
                data = inflater.decompress(payload + DEFLATE_TAIL, limit + 1)
        except zlib.error:
            raise WebSocketProtocolError(1007, "compressed message is not valid deflate data") from None
        if limit is not None and (len(data) > limit or inflater.unconsumed_tail):
            raise WebSocketProtocolError(1009, "decompressed message exceeds the limit")
        if not self.inflate_reset:
            window = self._window
            if len(data) >= window:
                self._history = data[-window:]
            elif data:
                history += data
                self._history = history[-window:] if len(history) > window else history
        if opcode == OP_TEXT:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise WebSocketProtocolError(1007, "text message is not valid UTF-8") from None
        return data
