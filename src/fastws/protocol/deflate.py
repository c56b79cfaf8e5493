"""permessage-deflate (RFC 7692) on the server side: negotiating an offer and compressing outgoing
messages with one shared compressor per window size and thread (no zlib state per connection). The
frame codec (``_frame_c``/``_frame_py``) inflates incoming messages; ``fastws.server`` negotiates
with ``negotiate_deflate`` and compresses with ``PerMessageDeflate``.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any

from fastws.protocol._frame_types import DEFLATE_TAIL

__all__ = ["SERVER_MEM_LEVEL", "SERVER_WINDOW_BITS", "PerMessageDeflate", "negotiate_deflate", "shared_compressors"]

#: The server compresses with at most this window (bits) and zlib memLevel: about 32 KiB of
#: compressor state per connection instead of about 256 KiB. A smaller window than negotiated is
#: always valid (RFC 7692 section 7.1.2.1): the client inflates with the window it announced.
SERVER_WINDOW_BITS = 12
SERVER_MEM_LEVEL = 5


#: One compressor per window size, shared by every connection: the server always asks for
#: ``server_no_context_takeover`` (RFC 7692 section 7.1.1.1), so each message is compressed from an
#: empty window and ends with a full flush (which empties it again), and no message refers to
#: another. Compressing runs start to end without yielding, so connections cannot interleave in one
#: stream. About 40 KiB per window size and thread (one per event loop's thread, in practice one
#: per worker process) instead of per connection.
_SHARED = threading.local()  # per thread: an event loop in another thread must not interleave


def shared_compressors() -> dict[int, Any]:
    """This thread's shared compressors, ``{window bits: zlib compressobj}`` (created empty)."""
    compressors: dict[int, Any] | None = getattr(_SHARED, "compressors", None)
    if compressors is None:
        compressors = _SHARED.compressors = {}
    return compressors


class PerMessageDeflate:
    """The negotiated permessage-deflate parameters (RFC 7692 section 7.1) and the server's
    compressor.

    ``server_window_bits`` (int 9-15) bounds the window the server compresses with;
    ``server_no_context_takeover`` starts every outgoing message with a fresh window (always
    true for a negotiated connection: the server asks for it, and then compresses with the shared
    compressor, keeping no zlib state per connection); ``client_no_context_takeover`` tells the
    parser to inflate every incoming message afresh; ``client_window_bits`` (int 9-15, default
    15) is the window the client announced in ``client_max_window_bits`` (an 8-bit stream is
    inflated with 9 bits), which sizes the parser's inflater.
    """

    def __init__(
        self,
        server_window_bits: int,
        server_no_context_takeover: bool,
        client_no_context_takeover: bool,
        client_window_bits: int = 15,
    ) -> None:
        self.server_window_bits = server_window_bits
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.client_window_bits = client_window_bits
        self._compressor: Any = None  # only with context takeover

    def compress(self, data: bytes) -> bytes:
        """``data`` (one whole message, bytes) deflated as RFC 7692 section 7.2.1 says: a sync
        flush with its 4-byte tail removed (a full flush without context takeover, which is a
        sync flush that also empties the window). Send it with RSV1 set.

        Raises ``TypeError`` when ``data`` is not bytes-like."""
        bits = min(self.server_window_bits, SERVER_WINDOW_BITS)
        if self.server_no_context_takeover:
            compressors = shared_compressors()
            compressor = compressors.get(bits)
            if compressor is None:
                compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits, SERVER_MEM_LEVEL)
                compressors[bits] = compressor
            try:
                out = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
            except BaseException:
                # A stream left half written must not prefix the next connection's message.
                compressors.pop(bits, None)
                raise
        else:
            if self._compressor is None:
                self._compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits, SERVER_MEM_LEVEL)
            out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4] if out.endswith(DEFLATE_TAIL) else out


def negotiate_deflate(values: list[bytes]) -> tuple[bytes, PerMessageDeflate] | None:
    """Accept the first permessage-deflate offer in the ``Sec-WebSocket-Extensions`` header
    values (RFC 7692 section 5, RFC 6455 section 9.1) that the server can honour:
    ``(response header value, parameters)``, or ``None`` when there is none.

    Honoured: ``server_no_context_takeover``, ``client_no_context_takeover``,
    ``server_max_window_bits`` 9-15 (8 is declined: zlib's raw deflate cannot produce it) and
    ``client_max_window_bits`` with or without a value (the server inflates with a 15-bit window,
    enough for any). An offer with an unknown, repeated or malformed parameter is declined.
    """
    for offer in b",".join(values).split(b","):
        parts = [part.strip() for part in offer.split(b";")]
        if parts[0].lower() != b"permessage-deflate":
            continue
        seen: set[bytes] = set()
        client_nct = False
        server_bits = 0
        client_bits = 15
        ok = True
        for part in parts[1:]:
            name, eq, value = part.partition(b"=")
            name = name.strip().lower()
            value = value.strip()
            if len(value) >= 2 and value[:1] == value[-1:] == b'"':
                value = value[1:-1]
            if name in seen:
                ok = False
                break
            seen.add(name)
            bits = int(value) if value.isdigit() and len(value) <= 2 else -1
            if name == b"server_no_context_takeover" and not eq:
                pass  # asked for or not, the server does not take over its context
            elif name == b"client_no_context_takeover" and not eq:
                client_nct = True
            elif name == b"server_max_window_bits" and 9 <= bits <= 15 and value[:1] != b"0":
                server_bits = bits
            elif name == b"client_max_window_bits" and (not eq or (8 <= bits <= 15 and value[:1] != b"0")):
                if eq:
                    client_bits = max(9, bits)  # zlib inflates an 8-bit stream with a 9-bit window
            else:
                ok = False
                break
        if not ok:
            continue
        # Always server_no_context_takeover (RFC 7692 section 7.1.1.1: the server may add it):
        # one shared compressor serves every connection.
        response = b"permessage-deflate; server_no_context_takeover"
        if client_nct:
            response += b"; client_no_context_takeover"
        if server_bits:
            response += b"; server_max_window_bits=%d" % server_bits
        return response, PerMessageDeflate(server_bits or 15, True, client_nct, client_bits)
    return None
