"""CPU per compressed message of fastws.server's permessage-deflate (docs/protocol.md, "Memory
per connection"): compressing with a per-connection compressor and context takeover (what the
server did before issue 14) against the shared compressor with a full flush per message (what it
does now), and parsing + inflating with the window kept between messages (context takeover) or
nothing kept (``client_no_context_takeover``), against one persistent inflater.

    python stress/deflate_cpu.py

Compiled codec; the same 64-byte and 1 KiB JSON messages repeated 20,000 times (the best case for
context takeover). Prints µs per message and the compressed size; read the ratios, the machine's
noise moves every line alike. Bounded: a few seconds.
"""

from __future__ import annotations

import json
import timeit
import zlib
from collections.abc import Callable

from fastws import server
from fastws.protocol import _frame_c as codec

N = 20_000


def _per_connection(bits: int = 12) -> Callable[[bytes], bytes]:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits, 5)
    return lambda data: (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def main() -> None:
    """Measure and print one line per case."""
    tick = {"type": "tick", "id": 12345, "price": 101.25, "sym": "ABC"}
    msg64 = json.dumps(tick).encode()[:64].ljust(64, b" ")
    msg1k = json.dumps([dict(tick, id=i, price=100 + i / 7) for i in range(16)]).encode()[:1024]
    negotiated = server.negotiate_deflate([b"permessage-deflate"])
    assert negotiated is not None
    shared = negotiated[1]
    for name, msg in (("64 B", msg64), ("1 KiB", msg1k)):
        before = _per_connection()
        t_before = timeit.timeit(lambda: before(msg), number=N) / N * 1e6  # noqa: B023
        t_shared = timeit.timeit(lambda: shared.compress(msg), number=N) / N * 1e6  # noqa: B023
        print(
            f"compress {name}: per-connection compressor with context {t_before:.1f} us "
            f"({len(before(msg))} B), shared compressor with full flush {t_shared:.1f} us "
            f"({len(shared.compress(msg))} B)"
        )
        client = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        payloads = [client.compress(msg) + client.flush(zlib.Z_SYNC_FLUSH) for _ in range(N)]
        frames = [codec.encode_frame(2, p[:-4], mask=b"abcd", rsv=4) for p in payloads]
        alone = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        lone = codec.encode_frame(2, (alone.compress(msg) + alone.flush(zlib.Z_FULL_FLUSH))[:-4], mask=b"abcd", rsv=4)
        for label, parser, stream in (
            ("window kept (context takeover)", codec.FrameParser(inflate=True), frames),
            (
                "nothing kept (client_no_context_takeover)",
                codec.FrameParser(inflate=True, inflate_reset=True),
                [lone] * N,
            ),
        ):
            it = iter(stream)
            t = timeit.timeit(lambda: parser.feed(next(it)), number=N) / N * 1e6  # noqa: B023
            print(f"  parse + inflate {name}, {label}: {t:.1f} us")
        inflater = zlib.decompressobj(-15)
        it = iter(payloads)
        t = timeit.timeit(lambda: inflater.decompress(next(it)), number=N) / N * 1e6  # noqa: B023
        print(f"  reference: one persistent inflater, inflate alone {name}: {t:.1f} us")


if __name__ == "__main__":
    main()
