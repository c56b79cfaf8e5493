# cython: language_level=3
"""RFC 6455 frame codec for the server side: the compiled twin of ``_frame_py.py``.

``FrameParser`` turns a stream of bytes from a client, split anywhere, into complete events:
``(opcode, data)`` tuples in wire order, where ``opcode`` is ``OP_TEXT`` (``data`` is ``str``),
``OP_BINARY``, ``OP_PING``, ``OP_PONG`` or ``OP_CLOSE`` (``data`` is ``bytes``; for a close frame
the validated payload, read it with :func:`parse_close`). Fragmented messages are reassembled;
control frames between fragments come out when they arrive. The writer functions build unmasked
server frames (and masked client frames, for tests and clients).

Errors: :class:`fastws.protocol._frame_types.WebSocketProtocolError` with the close code to send (1002,
1007, 1009); the same class in both twins.

What this twin adds: header parsing on a C pointer with every wire-derived offset checked against
the buffer length before use, and unmasking 8 bytes at a time.
"""

import codecs
import zlib

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from fastws.protocol._frame_types import DEFLATE_TAIL, WebSocketProtocolError
from fastws.protocol.close import SENDABLE_CLOSE_CODES

__all__ = [
    "FrameParser",
    "apply_mask",
    "close_payload",
    "encode_frame",
    "encode_text",
    "parse_close",
]

cdef object _UTF8Decoder = codecs.getincrementaldecoder("utf-8")
cdef object _Error = WebSocketProtocolError
cdef frozenset _SENDABLE = SENDABLE_CLOSE_CODES
cdef object _decompressobj = zlib.decompressobj
cdef object _ZlibError = zlib.error
cdef bytes _DEFLATE_TAIL = DEFLATE_TAIL

cdef enum:
    OP_CONT = 0
    OP_TEXT = 1
    OP_BINARY = 2
    OP_CLOSE = 8
    OP_PING = 9
    OP_PONG = 10
    MAX_CONTROL = 125
    MAX_REASON = 123


cdef void _xor(const uint8_t* src, uint8_t* dst, Py_ssize_t n, const uint8_t* mask) noexcept nogil:
    # dst[i] = src[i] ^ mask[i % 4]; 8 bytes at a time, memcpy keeps unaligned access defined.
    cdef uint64_t key8
    cdef uint64_t word
    cdef uint32_t key4
    cdef Py_ssize_t i = 0
    memcpy(&key4, mask, 4)
    key8 = (<uint64_t>key4 << 32) | key4
    # The byte order of key8 in memory is mask[0..3] mask[0..3] on any endianness, because both
    # halves are the same 4 bytes.
    while i + 8 <= n:
        memcpy(&word, src + i, 8)
        word ^= key8
        memcpy(dst + i, &word, 8)
        i += 8
    while i < n:
        dst[i] = src[i] ^ mask[i & 3]
        i += 1


cdef bytes _masked(const uint8_t* src, Py_ssize_t n, const uint8_t* mask):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    _xor(src, <uint8_t*>PyBytes_AS_STRING(out), n, mask)
    return out


def apply_mask(data, mask):
    """``data`` XOR the 4-byte ``mask`` repeated (RFC 6455 section 5.3); masking and unmasking
    are the same operation. Raises ``ValueError`` if ``mask`` is not 4 bytes long."""
    cdef bytes m = bytes(mask)
    if PyBytes_GET_SIZE(m) != 4:
        raise ValueError(f"a mask is 4 bytes, got {PyBytes_GET_SIZE(m)}")
    cdef bytes d = data if type(data) is bytes else bytes(data)
    if PyBytes_GET_SIZE(d) == 0:
        return b""
    return _masked(<const uint8_t*>PyBytes_AS_STRING(d), PyBytes_GET_SIZE(d),
                   <const uint8_t*>PyBytes_AS_STRING(m))


def encode_frame(int opcode, payload, bint fin=True, mask=None, int rsv=0):
    """One frame on the wire (RFC 6455 section 5.2): ``opcode`` (0, 1, 2, 8, 9 or 10),
    ``payload`` (bytes-like), ``fin``, ``rsv`` (the three RSV bits as an int 0-7, for tests) and
    ``mask`` (``None`` for a server frame, 4 bytes for a client frame), with the shortest of the
    7/16/64-bit length encodings.

    Raises ``ValueError`` for an unknown opcode, ``rsv`` outside 0-7, a mask that is not 4 bytes,
    or a control frame (8, 9, 10) with ``fin`` false or a payload over 125 bytes; ``TypeError`` for
    a payload that is not bytes-like (an ``int`` included: ``bytes(n)`` would be ``n`` zero bytes).
    """
    if not (0 <= opcode <= 2 or 8 <= opcode <= 10):
        raise ValueError(f"unknown opcode {opcode}")
    if not 0 <= rsv <= 7:
        raise ValueError(f"rsv is three bits (0-7), got {rsv}")
    if isinstance(payload, int):  # bytes(n) would be n zero bytes, not an error
        raise TypeError(f"a frame payload is bytes-like, got {type(payload).__name__}")
    cdef bytes data = payload if type(payload) is bytes else bytes(payload)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    if opcode >= OP_CLOSE and (n > MAX_CONTROL or not fin):
        raise ValueError(f"a control frame is final and carries at most 125 bytes, got {n} bytes")
    cdef bytes m = None
    if mask is not None:
        m = bytes(mask)
        if PyBytes_GET_SIZE(m) != 4:
            raise ValueError(f"a mask is 4 bytes, got {PyBytes_GET_SIZE(m)}")
    return _build(opcode, data, fin, m, rsv)


cdef bytes _build(int opcode, bytes data, bint fin, bytes mask, int rsv):
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t hl = 2 if n < 126 else (4 if n < 65536 else 10)
    if mask is not None:
        hl += 4
    cdef bytes out = PyBytes_FromStringAndSize(NULL, hl + n)
    cdef uint8_t* p = <uint8_t*>PyBytes_AS_STRING(out)
    cdef uint64_t length = <uint64_t>n
    cdef int i
    cdef uint8_t bit = 0x80 if mask is not None else 0
    p[0] = (0x80 if fin else 0) | (rsv << 4) | opcode
    if n < 126:
        p[1] = bit | <uint8_t>n
    elif n < 65536:
        p[1] = bit | 126
        p[2] = <uint8_t>(n >> 8)
        p[3] = <uint8_t>n
    else:
        p[1] = bit | 127
        for i in range(8):
            p[2 + i] = <uint8_t>(length >> (56 - 8 * i))
    if mask is None:
        memcpy(p + hl, PyBytes_AS_STRING(data), n)
    else:
        memcpy(p + hl - 4, PyBytes_AS_STRING(mask), 4)
        _xor(<const uint8_t*>PyBytes_AS_STRING(data), p + hl, n, p + hl - 4)
    return out


def encode_text(str text):
    """An unmasked final text frame carrying ``text`` encoded as UTF-8 (RFC 6455 section 5.6).
    Raises ``UnicodeEncodeError`` for a lone surrogate."""
    return _build(OP_TEXT, text.encode("utf-8"), True, None, 0)


def close_payload(int code=1000, str reason=""):
    """The payload of a close frame (RFC 6455 section 5.5.1): ``code`` as 2 big-endian bytes
    then ``reason`` in UTF-8. Raises ``ValueError`` if ``code`` may not be sent (see
    ``is_valid_close_code``) or ``reason`` is longer than 123 UTF-8 bytes."""
    if code not in _SENDABLE:
        raise ValueError(f"close code {code} may not be sent (1000-1003, 1007-1014, 3000-4999)")
    cdef bytes data = reason.encode("utf-8")
    if PyBytes_GET_SIZE(data) > MAX_REASON:
        raise ValueError(f"a close reason is at most 123 UTF-8 bytes, got {PyBytes_GET_SIZE(data)}")
    return bytes((code >> 8, code & 0xFF)) + data


def parse_close(payload):
    """``(code, reason)`` from a close frame's payload (RFC 6455 section 7.1.5): an empty
    payload gives ``(1005, "")``. Raises ``WebSocketProtocolError`` 1002 for a 1-byte payload or
    a code that may not be sent, 1007 for a reason that is not UTF-8."""
    cdef bytes data = payload if type(payload) is bytes else bytes(payload)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    if n == 0:
        return 1005, ""
    if n == 1:
        raise _Error(1002, "close frame payload of 1 byte, expected 0 or 2 or more")
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(data)
    cdef long code = (<long>p[0] << 8) | p[1]
    if code not in _SENDABLE:
        raise _Error(1002, f"invalid close code {code}")
    try:
        reason = data[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise _Error(1007, "close reason is not valid UTF-8") from None
    return code, reason


cdef class FrameParser:
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

    cdef readonly object max_size
    cdef public bint require_mask
    cdef public bint inflate
    cdef public bint inflate_reset
    cdef public bint closed
    cdef public bint failed
    cdef long long _limit
    cdef bytes _head
    cdef long long _need
    cdef list _chunks
    cdef int _opcode
    cdef bint _fin
    cdef bint _masked
    cdef uint8_t _mask[4]
    cdef int _frag_opcode
    cdef list _frag_parts
    cdef long long _frag_size
    cdef object _decoder
    cdef bint _rsv1
    cdef bint _compressed
    # A text frame spanning feeds is validated as its bytes arrive (fail fast, RFC 6455
    # section 8.1): _chunks then holds str, _got counts the payload bytes so far.
    cdef bint _stream_text
    cdef long long _got
    cdef long long _length
    cdef bytes _history
    cdef Py_ssize_t _window
    cdef int _wbits

    def __init__(self, max_size=16 * 1024 * 1024, bint require_mask=True, bint inflate=False,
                 bint inflate_reset=False, int inflate_window_bits=15):
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size is a byte count >= 0 or None, got {max_size}")
        if not 9 <= inflate_window_bits <= 15:
            raise ValueError(f"inflate_window_bits is 9-15, got {inflate_window_bits}")
        self.max_size = max_size
        # A limit beyond 2**62 is no limit: no message can be that big.
        self._limit = -1 if max_size is None or max_size > (1 << 62) else max_size
        self.require_mask = require_mask
        self.inflate = inflate
        self.inflate_reset = inflate_reset
        self.closed = False
        self.failed = False
        self._head = b""
        self._need = -1
        self._chunks = []
        self._opcode = 0
        self._fin = False
        self._masked = False
        self._frag_opcode = 0
        self._frag_parts = []
        self._frag_size = 0
        self._decoder = None
        self._rsv1 = False
        self._compressed = False
        self._window = 1 << inflate_window_bits
        self._wbits = -inflate_window_bits
        self._history = b""
        self._stream_text = False
        self._got = 0
        self._length = 0

    def feed(self, data):
        """Consume ``data`` (bytes-like, any split) and return the events it completed, as
        ``(opcode, data)`` tuples in wire order.

        Raises ``WebSocketProtocolError`` (close code 1002, 1007 or 1009) when the stream breaks
        the protocol or a message is too big; the events completed before the error are on the
        exception's ``events``.
        """
        cdef list events = []
        if self.closed or self.failed:
            return events
        cdef bytes buf = data if type(data) is bytes else bytes(data)
        if PyBytes_GET_SIZE(self._head):
            buf = self._head + buf
            self._head = b""
        try:
            self._parse(buf, events)
        except WebSocketProtocolError as exc:
            self.failed = True
            exc.events = events
            raise
        return events

    cdef int _parse(self, bytes data, list events) except -1:
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(data)
        cdef Py_ssize_t take, avail, hl
        cdef uint8_t b0, b1
        cdef bint fin, masked
        cdef int opcode, i
        cdef uint64_t length
        cdef uint64_t total
        cdef bytes payload
        cdef bytes chunk
        cdef str text
        cdef int k
        cdef uint8_t rot[4]
        while not self.closed:
            if self._need >= 0:
                take = n - pos
                if take > self._need:
                    take = <Py_ssize_t>self._need
                if take > 0:
                    if self._stream_text:
                        if self._masked:
                            k = <int>(self._got & 3)
                            for i in range(4):
                                rot[i] = self._mask[(k + i) & 3]
                            chunk = _masked(p + pos, take, rot)
                        else:
                            chunk = data[pos:pos + take]
                        try:
                            self._chunks.append(self._decoder.decode(chunk, False))
                        except UnicodeDecodeError:
                            raise _Error(1007, "text message is not valid UTF-8") from None
                    else:
                        self._chunks.append(data[pos:pos + take])
                    self._got += take
                    pos += take
                    self._need -= take
                if self._need:
                    return 0
                self._need = -1
                if self._stream_text:
                    text = "".join(self._chunks)
                    self._chunks = []
                    self._text_frame(self._opcode, self._fin, text, self._length, events)
                    continue
                payload = b"".join(self._chunks)
                self._chunks = []
                if self._masked:
                    payload = _masked(<const uint8_t*>PyBytes_AS_STRING(payload),
                                      PyBytes_GET_SIZE(payload), self._mask)
                self._frame(self._opcode, self._fin, payload, events)
                continue
            avail = n - pos
            if avail < 2:
                self._head = data[pos:]
                return 0
            b0 = p[pos]
            b1 = p[pos + 1]
            fin = (b0 & 0x80) != 0
            opcode = b0 & 0x0F
            masked = (b1 & 0x80) != 0
            length = b1 & 0x7F
            hl = 2
            if length == 126:
                hl = 4
            elif length == 127:
                hl = 10
            if masked:
                hl += 4
            # Every read below is within p[pos:pos + hl], and hl <= avail from here on.
            if avail < hl:
                self._head = data[pos:]
                return 0
            if b0 & 0x70:
                if not self.inflate or b0 & 0x30:
                    raise _Error(1002, "RSV bits set but no extension was negotiated")
                if opcode != OP_TEXT and opcode != OP_BINARY:
                    raise _Error(1002, "RSV1 set on a control or continuation frame")
            if (opcode > OP_BINARY and opcode < OP_CLOSE) or opcode > OP_PONG:
                raise _Error(1002, f"reserved opcode {opcode}")
            if self.require_mask and not masked:
                raise _Error(1002, "unmasked frame from a client")
            if length == 126:
                length = (<uint64_t>p[pos + 2] << 8) | p[pos + 3]
            elif length == 127:
                length = 0
                for i in range(8):
                    length = (length << 8) | p[pos + 2 + i]
                if length >> 63:
                    raise _Error(1002, "64-bit payload length with the top bit set")
            if opcode >= OP_CLOSE:
                if not fin:
                    raise _Error(1002, "fragmented control frame")
                if length > MAX_CONTROL:
                    raise _Error(1002, "control frame payload over 125 bytes")
            else:
                if opcode == OP_CONT:
                    if not self._frag_opcode:
                        raise _Error(1002, "continuation frame without a message to continue")
                elif self._frag_opcode:
                    raise _Error(1002, "new data frame inside a fragmented message")
                # length < 2**63 and _frag_size <= _limit <= 2**62: the sum fits 64 unsigned bits.
                total = length + (<uint64_t>self._frag_size if opcode == OP_CONT else 0)
                if self._limit >= 0 and total > <uint64_t>self._limit:
                    raise _Error(1009, f"message of at least {total} bytes exceeds the limit")
            if masked:
                memcpy(self._mask, p + pos + hl - 4, 4)
            self._rsv1 = (b0 & 0x40) != 0
            pos += hl
            if length <= <uint64_t>(n - pos):
                if masked:
                    payload = _masked(p + pos, <Py_ssize_t>length, self._mask)
                else:
                    payload = data[pos:pos + <Py_ssize_t>length]
                pos += <Py_ssize_t>length
                self._frame(opcode, fin, payload, events)
            else:
                self._opcode = opcode
                self._fin = fin
                self._masked = masked
                self._need = <long long>length
                self._chunks = []
                self._got = 0
                self._length = <long long>length
                self._stream_text = not self._rsv1 and (
                    opcode == OP_TEXT or (opcode == OP_CONT and self._frag_opcode == OP_TEXT and not self._compressed)
                )
                if opcode == OP_TEXT and self._stream_text:
                    self._decoder = _UTF8Decoder()
        return 0

    cdef int _text_frame(self, int opcode, bint fin, str text, long long nbytes, list events) except -1:
        # A text frame whose payload was validated chunk by chunk as it arrived (fail fast).
        if fin:
            try:
                text += self._decoder.decode(b"", True)
            except UnicodeDecodeError:
                raise _Error(1007, "text message is not valid UTF-8") from None
        if opcode == OP_TEXT:
            if fin:
                events.append((OP_TEXT, text))
                self._decoder = None
            else:
                self._frag_opcode = OP_TEXT
                self._frag_size = nbytes
                self._frag_parts = [text]
            return 0
        self._frag_size += nbytes
        self._frag_parts.append(text)
        if fin:
            events.append((OP_TEXT, "".join(self._frag_parts)))
            self._frag_opcode = 0
            self._frag_parts = []
            self._frag_size = 0
            self._decoder = None
        return 0

    cdef int _frame(self, int opcode, bint fin, bytes payload, list events) except -1:
        if opcode >= OP_CLOSE:
            if opcode == OP_CLOSE:
                parse_close(payload)
                self.closed = True
            events.append((opcode, payload))
            return 0
        if opcode == OP_CONT:
            self._frag_size += PyBytes_GET_SIZE(payload)
            if self._compressed:
                self._frag_parts.append(payload)
                if fin:
                    message = self._inflate(b"".join(self._frag_parts), self._frag_opcode)
                    events.append((self._frag_opcode, message))
                    self._frag_opcode = 0
                    self._frag_parts = []
                    self._frag_size = 0
                    self._compressed = False
                return 0
            if self._frag_opcode == OP_TEXT:
                try:
                    self._frag_parts.append(self._decoder.decode(payload, fin))
                except UnicodeDecodeError:
                    raise _Error(1007, "text message is not valid UTF-8") from None
            else:
                self._frag_parts.append(payload)
            if fin:
                if self._frag_opcode == OP_TEXT:
                    message = "".join(self._frag_parts)
                else:
                    message = b"".join(self._frag_parts)
                events.append((self._frag_opcode, message))
                self._frag_opcode = 0
                self._frag_parts = []
                self._frag_size = 0
                self._decoder = None
            return 0
        if self._rsv1:
            if fin:
                events.append((opcode, self._inflate(payload, opcode)))
            else:
                self._compressed = True
                self._frag_opcode = opcode
                self._frag_size = PyBytes_GET_SIZE(payload)
                self._frag_parts = [payload]
            return 0
        if fin:
            if opcode == OP_TEXT:
                try:
                    events.append((OP_TEXT, payload.decode("utf-8")))
                except UnicodeDecodeError:
                    raise _Error(1007, "text message is not valid UTF-8") from None
            else:
                events.append((OP_BINARY, payload))
            return 0
        self._frag_opcode = opcode
        self._frag_size = PyBytes_GET_SIZE(payload)
        if opcode == OP_TEXT:
            self._decoder = _UTF8Decoder()
            try:
                self._frag_parts = [self._decoder.decode(payload, False)]
            except UnicodeDecodeError:
                raise _Error(1007, "text message is not valid UTF-8") from None
        else:
            self._frag_parts = [payload]
        return 0

    cdef object _inflate(self, bytes payload, int opcode):
        # One whole compressed message (RFC 7692 section 7.2.2), bounded by max_size. A fresh
        # inflater each time, primed with the window kept from the messages before (context
        # takeover), dropped afterwards: no zlib state (about 40 KiB) lives between messages.
        cdef bytes history = self._history
        cdef bytes data
        inflater = _decompressobj(self._wbits, zdict=history) if history else _decompressobj(self._wbits)
        try:
            if self._limit < 0:
                data = inflater.decompress(payload + _DEFLATE_TAIL)
            else:
                data = inflater.decompress(payload + _DEFLATE_TAIL, self._limit + 1)
        except _ZlibError:
            raise _Error(1007, "compressed message is not valid deflate data") from None
        if self._limit >= 0 and (len(data) > self._limit or inflater.unconsumed_tail):
            raise _Error(1009, "decompressed message exceeds the limit")
        if not self.inflate_reset:
            if len(data) >= self._window:
                self._history = data[len(data) - self._window:]
            elif data:
                history = history + data
                self._history = history[len(history) - self._window:] if len(history) > self._window else history
        if opcode == OP_TEXT:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise _Error(1007, "text message is not valid UTF-8") from None
        return data
