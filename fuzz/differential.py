"""Differential fuzzer: the compiled kernels (``fastws.<package>._*_c``) against their pure-Python
twins (``fastws.<package>._*_py``), on arbitrary inputs, for a fixed time budget; and both twins of the frame
codec against an independent third party, the ``websockets`` library's frame parser (target
``frame_oracle``, tests/frame_oracle.py).

Every target draws an input with hypothesis, calls both implementations and requires the same
outcome: the same result (JSON compared structurally: ``1`` is not ``1.0``, NaN equals NaN, key
order matters), or the same exception type and message. A disagreement is shrunk by hypothesis
to a minimal input, printed, and the run exits with status 1. A crash of the compiled code (a
segfault, or an AddressSanitizer report when run under the sanitizer build) ends the process.

Usage::

    python fuzz/differential.py --budget 60             # all targets, 60 s in all
    python fuzz/differential.py --budget 10 --target cookie --target query_bytes
    python fuzz/differential.py --list

The budget is split evenly over the chosen targets; each runs hypothesis batches of
``--batch`` examples (fresh random seeds, no example database) until its share is spent.
The last line printed is a summary: executions per target and in all.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastws.codec._json_c as codec_c
import fastws.datastructures._core_c as ds_c
import fastws.protocol._frame_c as frame_c
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fastws.codec._json_py as codec_py
import fastws.datastructures._core_py as ds_py
import fastws.protocol._frame_py as frame_py

# The third party for the frame codec: the websockets library's frame parser (tests/frame_oracle.py),
# so a bug both twins share shows up too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from frame_oracle import oracle_feed  # noqa: E402 (after the path it needs)

# -- comparison ---------------------------------------------------------------------------------


def outcome(func: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """``("ok", result)`` or ``("raise", exception type, message)``; for a protocol error also its
    close code and the events completed before it."""
    try:
        return ("ok", func(*args))
    except Exception as exc:  # noqa: BLE001 - the exception is the result under comparison
        if hasattr(exc, "events"):
            return ("raise", type(exc), str(exc), getattr(exc, "code", None), exc.events)
        return ("raise", type(exc), str(exc))


def same_value(a: Any, b: Any) -> bool:
    """Structural identity: same types, NaN equals NaN, ``-0.0`` is not ``0.0``, order matters."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


def check(name: str, got: tuple[Any, ...], want: tuple[Any, ...]) -> None:
    if (
        got[0] != want[0]
        or (got[0] == "ok" and not same_value(got[1], want[1]))
        or (got[0] == "raise" and got[1:] != want[1:])
    ):
        raise AssertionError(f"{name}: compiled {got!r} != pure {want!r}")


# -- inputs -------------------------------------------------------------------------------------

# Bytes and characters that the parsers treat specially, mixed with anything at all.
_QUERY_BYTES = st.lists(
    st.one_of(
        st.sampled_from([b"%", b"&", b"=", b"+", b";", b"#", b"?", b"%2", b"%zz", b"%C3", b"%A9", b"%ff", b"%00"]),
        st.sampled_from([b"a", b"B", b"0", b"f", b"F", b"9", b" ", b"\x00", b"\x80", b"\xc3\xa9", b"\xff"]),
        st.binary(max_size=6),
    ),
    max_size=40,
).map(b"".join)
_COOKIE_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ";",
                "=",
                '"',
                "\\",
                "\\0",
                "\\12",
                "\\377",
                '\\"',
                " ",
                "\t",
                "\x1c",
                "\x85",
                "\xa0",
                "\u2003",
                "\u3000",
                "a",
                "Z",
                "=",
                ";;",
                "; ",
            ]
        ),
        st.text(max_size=5),
    ),
    max_size=30,
).map("".join)
_HEADER_NAMES = st.one_of(
    st.sampled_from([b"host", b"Host", b"cookie", b"x-a", b"X-A", b"x-\xe9", b"X-\xc9", b"\xff", b"", b"x-a "]),
    st.binary(max_size=5),
)
_HEADER_LISTS = st.lists(st.tuples(_HEADER_NAMES, st.binary(max_size=16)), max_size=30)
_LOOKUPS = st.one_of(
    _HEADER_NAMES.map(lambda b: b.decode("latin-1")),
    _HEADER_NAMES.map(lambda b: b.decode("latin-1").upper()),
    st.text(max_size=5),
)
_HOSTS = st.one_of(
    st.sampled_from(
        [
            b"example.com",
            b"example.com:8000",
            b"[::1]:8080",
            b"[::1]",
            b"::1",
            b"host:",
            b":80",
            b"h:99999",
            b"h:-1",
            b"h:0x10",
            b"EXAMPLE.com:443",
            b"a b",
            b"\xff",
            b"",
            b"h:1:2",
            b"[v1.x]",
            b"h:\xd9\xa1",
            b"h:\xef\xbc\x91",
            b"xn--e-ss.x",
        ]
    ),
    st.binary(max_size=12),
)
_SCOPES = st.fixed_dictionaries(
    {
        "path": st.one_of(st.sampled_from(["/", "//x", "/a?b#c\\d", "", "/\u00e9", "/%2F"]), st.text(max_size=12)),
        "headers": st.lists(
            st.one_of(st.tuples(st.just(b"host"), _HOSTS), st.tuples(_HEADER_NAMES, st.binary(max_size=6))),
            max_size=4,
        ),
    },
    optional={
        "scheme": st.sampled_from(["ws", "wss", "http", "https", "ftp", ""]),
        "server": st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from(["127.0.0.1", "::1", "[::1]", "example.com", "", "fe80::1%eth0"]),
                st.sampled_from([80, 443, 8000, 0, 65535]),
            ),
        ),
        "query_string": st.one_of(_QUERY_BYTES, st.sampled_from([b"a=1", b"\xff", b"\xc3\xa9"])),
    },
)

_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2),
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=5),
        st.dictionaries(
            st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.text(max_size=3)), inner, max_size=3
        ),
    ),
    max_leaves=20,
)


class _Str(str):
    pass


class _Int(int):
    pass


_ENCODE_VALUES = st.one_of(
    _JSON_VALUES,
    st.builds(_Str, st.text(max_size=4)),
    st.builds(_Int, st.integers()),
    st.lists(st.one_of(st.just(object()), st.just(b"bytes"), st.just({1, 2}), st.complex_numbers()), max_size=2),
)


def _json_texts(draw: Any) -> str:
    """Valid JSON (possibly with long digit runs), or valid JSON with a few characters changed."""
    import json

    text = json.dumps(draw(_JSON_VALUES), ensure_ascii=draw(st.booleans()))
    choice = draw(st.integers(0, 4))
    if choice == 0 and text:
        # Corrupt: insert, delete or replace one character.
        pos = draw(st.integers(0, len(text) - 1))
        junk = draw(st.sampled_from(["", "{", "]", ",", '"', "\\", "\x00", "\ud800", "1" * 20, "NaN", " ", "\ufeff"]))
        text = text[:pos] + junk + text[pos + draw(st.integers(0, 1)) :]
    elif choice == 1:
        text = draw(st.text(alphabet='{}[]",:0123456789.eE+-tfnrulsa \\\n\ud800\ufeff', max_size=30))
    elif choice == 2:
        text = draw(
            st.sampled_from(["", " ", "1" * 19, "-" + "9" * 25, "[" * 50 + "]" * 50, "1e400", "-0", "0.0e-9999"])
        )
    return text


@st.composite
def json_texts(draw: Any) -> str:
    return _json_texts(draw)


@st.composite
def json_bytes(draw: Any) -> Any:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=30))
    if kind == 1:
        return bytearray(_json_texts(draw).encode("utf-8", "surrogatepass"))
    return _json_texts(draw).encode("utf-8", "surrogatepass")


# -- targets ------------------------------------------------------------------------------------


def _headers_view(headers: Any, lookups: list[str]) -> list[tuple[Any, ...]]:
    view: list[tuple[Any, ...]] = [
        outcome(headers.keys),
        outcome(headers.values),
        outcome(headers.items),
        outcome(headers.multi_items),
        outcome(len, headers),
        outcome(list, headers),
        outcome(lambda: headers.raw),
    ]
    for key in lookups:
        view += [
            outcome(headers.getlist, key),
            outcome(headers.get, key, "<default>"),
            outcome(headers.__getitem__, key),
            outcome(headers.__contains__, key),
        ]
    return view


def target_query_bytes(data: st.DataObject) -> None:
    qs = data.draw(_QUERY_BYTES)
    check("parse_query_string(bytes)", outcome(ds_c.parse_query_string, qs), outcome(ds_py.parse_query_string, qs))
    check(
        "QueryParams(bytes).multi_items",
        outcome(lambda: ds_c.QueryParams(qs).multi_items()),
        outcome(lambda: ds_py.QueryParams(qs).multi_items()),
    )


def target_query_text(data: st.DataObject) -> None:
    qs = data.draw(st.one_of(_QUERY_BYTES.map(lambda b: b.decode("latin-1")), st.text(max_size=20)))
    check("parse_query_string(str)", outcome(ds_c.parse_query_string, qs), outcome(ds_py.parse_query_string, qs))
    check("str(QueryParams)", outcome(lambda: str(ds_c.QueryParams(qs))), outcome(lambda: str(ds_py.QueryParams(qs))))


def target_cookie(data: st.DataObject) -> None:
    text = data.draw(_COOKIE_TEXT)
    check("parse_cookie", outcome(ds_c.parse_cookie, text), outcome(ds_py.parse_cookie, text))


def target_headers(data: st.DataObject) -> None:
    raw = data.draw(_HEADER_LISTS)
    lookups = data.draw(st.lists(_LOOKUPS, max_size=5))
    via_scope = data.draw(st.booleans())

    def build(module: Any) -> Any:
        return module.Headers(scope={"headers": list(raw)}) if via_scope else module.Headers(raw=list(raw))

    hc, hp = build(ds_c), build(ds_py)
    for got, want in zip(_headers_view(hc, lookups), _headers_view(hp, lookups), strict=True):
        check("Headers", got, want)
    other = list(reversed(raw))
    check(
        "Headers.__eq__",
        outcome(lambda: hc == ds_c.Headers(raw=other)),
        outcome(lambda: hp == ds_py.Headers(raw=other)),
    )


def target_url(data: st.DataObject) -> None:
    scope = data.draw(_SCOPES)
    check("url_from_scope", outcome(ds_c.url_from_scope, dict(scope)), outcome(ds_py.url_from_scope, dict(scope)))


def target_decode_text(data: st.DataObject) -> None:
    text = data.draw(json_texts())
    check("decode_json_text", outcome(codec_c.decode_json_text, text), outcome(codec_py.decode_json_text, text))


def target_decode_bytes(data: st.DataObject) -> None:
    raw = data.draw(json_bytes())
    check("decode_json_bytes", outcome(codec_c.decode_json_bytes, raw), outcome(codec_py.decode_json_bytes, raw))


def target_encode(data: st.DataObject) -> None:
    value = data.draw(_ENCODE_VALUES)
    check("encode_json_text", outcome(codec_c.encode_json_text, value), outcome(codec_py.encode_json_text, value))
    check("encode_json_bytes", outcome(codec_c.encode_json_bytes, value), outcome(codec_py.encode_json_bytes, value))


_OPCODES = st.sampled_from([0, 1, 2, 8, 9, 10])
_MASKS = st.one_of(st.none(), st.binary(min_size=4, max_size=4))
_PAYLOADS = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=12).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\xf0\x9f\x98", b"\x80", b"\xed\xa0\x80", b"\x03\xe8", b"\x03\xe8\xff", b"\x03", b"\x0f\xa0ok"]),
    st.integers(120, 70_000).map(bytes),
)


def _raw_frame(opcode: int, payload: bytes, fin: bool, mask: bytes | None, rsv: int) -> bytes:
    # Any frame at all, legal or not (the codec's own writer refuses illegal ones).
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@st.composite
def frame_streams(draw: Any) -> tuple[bytes, list[int]]:
    """Client frames and where to split them: half the time a well-formed conversation (text and
    binary messages, fragmented or not, pings and pongs between fragments, maybe a close), half the
    time anything (bad opcodes, RSV bits, unmasked, non-final control frames, a flipped byte,
    random bytes)."""
    parts = []
    if draw(st.booleans()):
        for _ in range(draw(st.integers(0, 4))):
            opcode = draw(st.sampled_from([1, 2]))
            if opcode == 1:
                payload = draw(st.text(max_size=30)).encode("utf-8", "replace")
            else:
                payload = draw(st.one_of(st.binary(max_size=30), st.integers(126, 70_000).map(bytes)))
            cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
            pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
            for i, piece in enumerate(pieces):
                if i and draw(st.integers(0, 3)) == 0:
                    parts.append(
                        _raw_frame(draw(st.sampled_from([9, 10])), draw(st.binary(max_size=125)), True, b"abcd", 0)
                    )
                parts.append(
                    _raw_frame(0 if i else opcode, piece, i == len(pieces) - 1, draw(_MASKS) or b"\0\0\0\0", 0)
                )
        if draw(st.booleans()):
            close = draw(st.sampled_from([b"", b"\x03\xe8", b"\x03\xe8bye", b"\x0f\xa0\xc3\xa9", b"\x03\xe9\xff"]))
            parts.append(_raw_frame(8, close, True, b"wxyz", 0))
    for _ in range(draw(st.integers(0, 6)) if not parts else 0):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            parts.append(draw(st.binary(max_size=12)))
            continue
        opcode = draw(st.sampled_from([0, 1, 2, 8, 9, 10, 3, 11])) if kind == 1 else draw(_OPCODES)
        payload = draw(_PAYLOADS)
        if opcode >= 8 and kind != 2:
            payload = payload[:125]
        mask = draw(st.one_of(st.binary(min_size=4, max_size=4), st.none() if kind == 3 else st.nothing()))
        fin = draw(st.booleans()) if kind < 6 or opcode == 0 else True
        frame = _raw_frame(opcode, payload, fin, mask, draw(st.integers(1, 7)) if kind == 4 else 0)
        if kind == 5 and frame:
            i = draw(st.integers(0, len(frame) - 1))
            frame = frame[:i] + bytes([frame[i] ^ draw(st.integers(1, 255))]) + frame[i + 1 :]
        parts.append(frame)
    stream = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    return stream, cuts


def target_frame_parser(data: st.DataObject) -> None:
    stream, cuts = data.draw(frame_streams())
    max_size = data.draw(st.sampled_from([None, 0, 5, 125, 1000, 16 * 1024 * 1024]))
    require_mask = data.draw(st.booleans())
    pc, pp = frame_c.FrameParser(max_size, require_mask), frame_py.FrameParser(max_size, require_mask)
    bounds = [0, *cuts, len(stream)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        chunk = stream[start:end]
        check("FrameParser.feed", outcome(pc.feed, chunk), outcome(pp.feed, chunk))
        check("FrameParser state", ("ok", (pc.closed, pc.failed)), ("ok", (pp.closed, pp.failed)))


def target_frame_oracle(data: st.DataObject) -> None:
    # Both twins against websockets' parser: the same events and the same close code.
    stream, cuts = data.draw(frame_streams())
    max_size = data.draw(st.sampled_from([None, 0, 5, 125, 1000, 16 * 1024 * 1024]))
    require_mask = data.draw(st.booleans())
    want = oracle_feed([stream], max_size, require_mask)
    bounds = [0, *cuts, len(stream)]
    for twin in (frame_c, frame_py):
        parser = twin.FrameParser(max_size, require_mask)
        events: list[Any] = []
        code = None
        for start, end in zip(bounds, bounds[1:], strict=False):
            got = outcome(parser.feed, stream[start:end])
            if got[0] == "ok":
                events += got[1]
            else:
                events += got[4]
                code = got[3]
                break
        if (events, code) != want:
            raise AssertionError(f"frame_oracle: {twin.__name__} {(events, code)!r} != websockets {want!r}")


def target_frame_writer(data: st.DataObject) -> None:
    opcode, payload = data.draw(_OPCODES), data.draw(_PAYLOADS)
    fin, rsv = data.draw(st.booleans()), data.draw(st.integers(0, 7))
    mask = data.draw(st.one_of(_MASKS, st.binary(max_size=6)))
    check(
        "encode_frame",
        outcome(frame_c.encode_frame, opcode, payload, fin, mask, rsv),
        outcome(frame_py.encode_frame, opcode, payload, fin, mask, rsv),
    )
    key = data.draw(st.binary(max_size=6))  # 4 bytes, or the wrong length (ValueError)
    check("apply_mask", outcome(frame_c.apply_mask, payload, key), outcome(frame_py.apply_mask, payload, key))
    text = data.draw(st.text(max_size=70))
    check("encode_text", outcome(frame_c.encode_text, text), outcome(frame_py.encode_text, text))
    code = data.draw(st.one_of(st.integers(0, 6000), st.sampled_from([1000, 1004, 1005, 1006, 1015, 2999, 3000, 4999])))
    check("close_payload", outcome(frame_c.close_payload, code, text), outcome(frame_py.close_payload, code, text))
    check("parse_close", outcome(frame_c.parse_close, payload), outcome(frame_py.parse_close, payload))


TARGETS: dict[str, Callable[[st.DataObject], None]] = {
    "query_bytes": target_query_bytes,
    "query_text": target_query_text,
    "cookie": target_cookie,
    "headers": target_headers,
    "url": target_url,
    "decode_text": target_decode_text,
    "decode_bytes": target_decode_bytes,
    "encode": target_encode,
}
TARGETS["frame_parser"] = target_frame_parser
TARGETS["frame_writer"] = target_frame_writer
TARGETS["frame_oracle"] = target_frame_oracle


# -- driver -------------------------------------------------------------------------------------


def fuzz(name: str, seconds: float, batch: int) -> int:
    """Run one target for ``seconds``; return the number of executions. Raises on a mismatch."""
    body = TARGETS[name]
    count = 0

    def counted(data: st.DataObject) -> None:
        nonlocal count
        count += 1
        body(data)

    test = settings(
        max_examples=batch,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )(given(st.data())(counted))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        test()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds in all, split over the targets")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="repeatable; default: all")
    parser.add_argument("--batch", type=int, default=200, help="examples per hypothesis run (default 200)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(TARGETS))
        return 0
    names = args.target or list(TARGETS)
    share = args.budget / len(names)
    total = 0
    counts: list[str] = []
    started = time.monotonic()
    for name in names:
        print(f"fuzz: {name} for {share:.1f} s", flush=True)
        try:
            n = fuzz(name, share, args.batch)
        except AssertionError as exc:
            print(f"fuzz: MISMATCH in {name}: {exc}", file=sys.stderr, flush=True)
            return 1
        total += n
        counts.append(f"{name}={n}")
    elapsed = time.monotonic() - started
    print(f"fuzz: {total} executions in {elapsed:.1f} s, no mismatch ({', '.join(counts)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
