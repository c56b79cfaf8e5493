"""The JSON codec twins against the contract: Starlette 1.10's ``send_json``/``receive_json``.

Encoding must be byte-identical to ``json.dumps(v, separators=(",", ":"), ensure_ascii=False)``
(``.encode("utf-8")`` in binary mode) and raise what it raises; decoding must return exactly what
``json.loads`` returns (value *and* type: int stays int, ``-0.0`` keeps its sign) and raise the
exception type and message it raises.
"""

from __future__ import annotations

import collections
import decimal
import enum
import json
import math
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def starlette_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def starlette_bytes(value: Any) -> bytes:
    return starlette_text(value).encode("utf-8")


def outcome(func: Any, *args: Any) -> tuple[str, Any]:
    """``("ok", result)`` or ``("raise", (exception type, message))``."""
    try:
        return ("ok", func(*args))
    except Exception as exc:  # noqa: BLE001 - the exception is the result under test
        return ("raise", (type(exc), str(exc)))


def same_json(a: Any, b: Any) -> bool:
    """Structural identity of decoded JSON: same types (int is not float, bool is not int), NaN
    equals NaN, ``-0.0`` is not ``0.0``, dict key order matters."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    return bool(a == b)


def assert_same_outcome(got: tuple[str, Any], want: tuple[str, Any]) -> None:
    assert got[0] == want[0], (got, want)
    if want[0] == "ok":
        assert same_json(got[1], want[1]), (got, want)
    else:
        assert got[1] == want[1], (got, want)


def assert_encodes_like_starlette(impl: Any, value: Any) -> None:
    want_text = outcome(starlette_text, value)
    got_text = outcome(impl.encode_json_text, value)
    assert got_text == want_text, (value, got_text, want_text)
    want_bytes = outcome(starlette_bytes, value)
    got_bytes = outcome(impl.encode_json_bytes, value)
    if want_bytes[0] == "raise":
        # Same exception type; for UnicodeEncodeError the position may be reported differently
        # but the type is what callers catch.
        assert got_bytes[0] == "raise" and got_bytes[1][0] is want_bytes[1][0], (value, got_bytes, want_bytes)
        if want_bytes[1][0] is not UnicodeEncodeError:
            assert got_bytes == want_bytes
    else:
        assert got_bytes == want_bytes, (value, got_bytes, want_bytes)
        assert type(got_bytes[1]) is bytes


def starlette_loads_bytes(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def assert_decodes_like_starlette(impl: Any, text: str) -> None:
    assert_same_outcome(outcome(impl.decode_json_text, text), outcome(json.loads, text))


def assert_decodes_bytes_like_starlette(impl: Any, data: bytes) -> None:
    assert_same_outcome(outcome(impl.decode_json_bytes, data), outcome(starlette_loads_bytes, data))


# -- encode: fixed cases -------------------------------------------------------------------------


class Color(enum.IntEnum):
    RED = 1
    GREEN = 2


class Name(str):
    pass


class Ratio(float):
    pass


class Count(int):
    pass


class Plain:
    pass


CIRCULAR_LIST: list[Any] = []
CIRCULAR_LIST.append(CIRCULAR_LIST)
CIRCULAR_DICT: dict[str, Any] = {}
CIRCULAR_DICT["self"] = CIRCULAR_DICT

ENCODE_CASES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    2**63,
    2**64 - 1,
    2**64,
    -(2**63) - 1,
    -(2**64),
    10**30,
    -(10**40),
    0.0,
    -0.0,
    1.0,
    0.1,
    1e-4,
    9.999999999999999e-05,
    1e-5,
    1.5e-05,
    1e-7,
    2.5e-8,
    5e-324,
    -1e-7,
    1e15,
    1e16,
    1.5e16,
    9999999999999998.0,
    1e22,
    1.7976931348623157e308,
    123456789.123456789,
    float("nan"),
    float("inf"),
    float("-inf"),
    [float("nan"), float("inf"), -float("inf")],
    {"x": float("nan")},
    "",
    "plain ascii",
    'quote " backslash \\ slash /',
    "\x00\x01\x1f\x7f\x80\x9f",
    "\b\f\n\r\t",
    "\u2028\u2029",
    "héllo wörld ✓ 日本 🎉",
    "\ud800",
    "\udfff",
    "a\udc00b",
    "\ud83d\ude00",
    ["\ud800", "x"],
    {"\ud800": 1},
    [],
    {},
    (),
    (1, 2, (3, [4])),
    [1, "two", 3.0, None, True, [], {}],
    {"a": 1, "b": [1, 2, {"c": None}]},
    {"b": 1, "a": 2},
    {2: "int key", 2.5: "float key", True: "bool key", False: "f", None: "none key"},
    {float("nan"): 1, float("inf"): 2, -float("inf"): 3},
    {2**70: "big int key"},
    {"a": 1, 1: "mixed"},
    {1: "one", "1": "string one"},
    {Name("sub"): "str subclass key"},
    {Color.RED: "intenum key"},
    Color.GREEN,
    [Color.RED, Color.GREEN],
    Name("str subclass"),
    Ratio(2.5),
    Ratio(float("nan")),
    Count(7),
    collections.OrderedDict([("z", 1), ("a", 2)]),
    collections.defaultdict(int, {"k": 1}),
    {"nested": collections.OrderedDict([("k", [Name("v")])])},
    collections.UserList([1]),
    {(1, 2): "tuple key"},
    {frozenset(): 1},
    Plain(),
    [Plain()],
    {"k": Plain()},
    {1, 2},
    b"bytes",
    bytearray(b"x"),
    decimal.Decimal("1.5"),
    complex(1, 2),
    CIRCULAR_LIST,
    CIRCULAR_DICT,
    [[CIRCULAR_LIST]],
]


@pytest.mark.parametrize("value", ENCODE_CASES, ids=lambda v: ascii(v)[:40])
def test_encode_matches_json_dumps(impl: Any, value: Any) -> None:
    assert_encodes_like_starlette(impl, value)


def test_encode_fixed_expectations(impl: Any) -> None:
    # Spot checks against literal text, so the reference itself is pinned down.
    assert impl.encode_json_text({"a": [1, 2.5, None, True]}) == '{"a":[1,2.5,null,true]}'
    assert impl.encode_json_text(float("nan")) == "NaN"
    assert impl.encode_json_text([float("inf"), float("-inf")]) == "[Infinity,-Infinity]"
    assert impl.encode_json_text(1e-7) == "1e-07"
    assert impl.encode_json_text(1.5e-05) == "1.5e-05"
    assert impl.encode_json_text(1e16) == "1e+16"
    assert impl.encode_json_text(2**64) == "18446744073709551616"
    assert impl.encode_json_text({1: 2, None: 3, False: 4}) == '{"1":2,"null":3,"false":4}'
    assert impl.encode_json_text(Color.RED) == "1"
    assert impl.encode_json_text("é\x00") == '"é\\u0000"'
    assert impl.encode_json_text("\ud800") == '"\ud800"'
    assert impl.encode_json_bytes({"é": "✓"}) == '{"é":"✓"}'.encode()


def test_encode_circular_reference_is_value_error(impl: Any) -> None:
    with pytest.raises(ValueError, match="Circular reference detected"):
        impl.encode_json_text(CIRCULAR_DICT)
    with pytest.raises(ValueError, match="Circular reference detected"):
        impl.encode_json_bytes(CIRCULAR_LIST)


def test_encode_unserialisable_is_type_error_with_json_message(impl: Any) -> None:
    with pytest.raises(TypeError) as info:
        impl.encode_json_text({"when": Plain()})
    assert str(info.value) == "Object of type Plain is not JSON serializable"
    with pytest.raises(TypeError) as info:
        impl.encode_json_bytes([b"raw"])
    assert str(info.value) == "Object of type bytes is not JSON serializable"


def test_encode_lone_surrogate_in_binary_mode_is_unicode_encode_error(impl: Any) -> None:
    with pytest.raises(UnicodeEncodeError):
        impl.encode_json_bytes({"k": "\udcff"})


def nested_list(depth: int, leaf: Any = 0) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_dict(depth: int, leaf: Any = 0) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("depth", [1, 199, 200, 201, 253, 254, 255, 256, 300, 600])
@pytest.mark.parametrize("builder", [nested_list, nested_dict], ids=["list", "dict"])
def test_encode_deep_nesting_matches_json(impl: Any, depth: int, builder: Any) -> None:
    assert_encodes_like_starlette(impl, builder(depth))
    # A value orjson cannot take at the bottom forces the slow path from the top.
    assert_encodes_like_starlette(impl, builder(depth, float("nan")))


def test_encode_nesting_beyond_recursion_limit_raises_like_json(impl: Any) -> None:
    value = nested_list(100_000)
    want = outcome(starlette_text, value)
    assert want[0] == "raise" and want[1][0] is RecursionError
    got = outcome(impl.encode_json_text, value)
    assert got[0] == "raise" and got[1][0] is RecursionError
    got = outcome(impl.encode_json_bytes, value)
    assert got[0] == "raise" and got[1][0] is RecursionError


# -- decode: fixed cases -------------------------------------------------------------------------

DECODE_CASES: list[str] = [
    "null",
    "true",
    "false",
    "0",
    "-0",
    "-0.0",
    "0.0",
    "1",
    "1.0",
    "1e2",
    "1E+2",
    "1e-2",
    "1.5e-05",
    "123456789012345678",
    "-123456789012345678",
    "1234567890123456789",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "[123456789012345678901234567890, 1.5]",
    '"1234567890123456789012"',
    "1.23456789012345678901234567890",
    "1" * 4300,
    "1" * 4301,
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "[NaN, Infinity, -Infinity]",
    '{"a": NaN}',
    "nan",
    "inf",
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
    '"\ud800"',
    '"\\u0000"',
    '"\x7f"',
    '"\t"',
    '"\n"',
    "\ufeff{}",
    "\ufeff",
    "",
    " ",
    " 1 ",
    "\t\n\r1\r\n\t",
    "\x0c1",
    "1\x0c",
    "\u00a01",
    "[1,]",
    '{"a":1,}',
    "[1.]",
    ".5",
    "+1",
    "01",
    "-",
    "1.e5",
    "[",
    "]",
    "{",
    '{"a"}',
    "{1: 2}",
    "'single'",
    '{"a":1,"a":2}',
    '{"b":1,"a":2}',
    '{"":0}',
    "[1] [2]",
    "[1]\x00",
    '"unterminated',
    '"bad \\x escape"',
    '"\\u12"',
    "tru",
    "nul",
    "[" * 100 + "]" * 100,
    "[" * 300 + "]" * 300,
    "[" * 1100 + "]" * 1100,
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 2000 + "1" + "}" * 2000,
]


@pytest.mark.parametrize("text", DECODE_CASES, ids=lambda t: ascii(t)[:30])
def test_decode_text_matches_json_loads(impl: Any, text: str) -> None:
    assert_decodes_like_starlette(impl, text)


@pytest.mark.parametrize("text", [t for t in DECODE_CASES if "\ud800" not in t], ids=lambda t: ascii(t)[:30])
def test_decode_bytes_matches_json_loads(impl: Any, text: str) -> None:
    assert_decodes_bytes_like_starlette(impl, text.encode("utf-8"))


@pytest.mark.parametrize(
    "data",
    [
        b"\xff",
        b'"\xff"',
        b'"\xed\xa0\x80"',  # a UTF-8-encoded surrogate is invalid UTF-8
        b'"\xc3"',
        b"\xc0\xae",
        b"\xef\xbb\xbf{}",
        b"\xef\xbb\xbf",
        b"\xef\xbb\xbf1234567890123456789012",
        b'{"a": "\xe2\x9c\x93"}',
        b"\x00",
        b"",
    ],
    ids=ascii,
)
def test_decode_bytes_edge_cases(impl: Any, data: bytes) -> None:
    assert_decodes_bytes_like_starlette(impl, data)


def test_decode_documented_behaviour(impl: Any) -> None:
    big = impl.decode_json_text("123456789012345678901234567890")
    assert type(big) is int and big == 123456789012345678901234567890
    assert impl.decode_json_bytes(b"[18446744073709551616]") == [2**64]
    assert type(impl.decode_json_bytes(b"[18446744073709551616]")[0]) is int
    assert impl.decode_json_text("1e400") == math.inf
    assert math.isnan(impl.decode_json_text("NaN"))
    assert impl.decode_json_bytes(b"-Infinity") == -math.inf
    with pytest.raises(json.JSONDecodeError) as info:
        impl.decode_json_bytes(b"\xef\xbb\xbf{}")
    assert "BOM" in str(info.value)
    with pytest.raises(UnicodeDecodeError):
        impl.decode_json_bytes(b'{"a": "\xff"}')
    with pytest.raises(json.JSONDecodeError) as info:
        impl.decode_json_text("[1,]")
    # json's own exception class and message, never orjson's subclass.
    assert type(info.value) is json.JSONDecodeError
    assert str(info.value) == "Expecting value: line 1 column 4 (char 3)"
    with pytest.raises(RecursionError):
        impl.decode_json_text("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("value", [None, 1, 1.5, [], object()], ids=repr)
def test_decode_wrong_argument_type_raises_like_starlette(impl: Any, value: Any) -> None:
    # receive_json(mode="text") passes message["text"] to json.loads; mode="binary" calls
    # message["bytes"].decode("utf-8") first.
    want = outcome(json.loads, value)
    got = outcome(impl.decode_json_text, value)
    assert got[0] == "raise" and got[1][0] is want[1][0]
    want = outcome(starlette_loads_bytes, value)
    got = outcome(impl.decode_json_bytes, value)
    assert got[0] == "raise" and got[1][0] is want[1][0]


def test_decode_bytearray_like_starlette(impl: Any) -> None:
    assert impl.decode_json_bytes(bytearray(b'{"a":[1,2]}')) == {"a": [1, 2]}
    assert impl.decode_json_text(b'{"a":1}') == json.loads(b'{"a":1}')


# -- property tests --------------------------------------------------------------------------------

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-7, 1.5e-05, 1e-4, 9.99e-5, 1e16, 1e15, 5e-324, 1.7976931348623157e308, -0.0]),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.floats(min_value=1e14, max_value=1e18),
)
ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
)
texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F)),
    st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010)),  # lone surrogates
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
keys = st.one_of(texts, texts, ints, floats, st.booleans(), st.none())
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(texts, children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=30,
)


@FAST
@given(value=json_like)
@example(value=[1e-7, {"k": 1.5e-05}, 2**64, "\ud800"])
@example(value={1: {None: [float("nan")]}})
def test_encode_property(impl: Any, value: Any) -> None:
    assert_encodes_like_starlette(impl, value)


@FAST
@given(value=json_like)
def test_roundtrip_property(impl: Any, value: Any) -> None:
    want = json.loads(starlette_text(value))
    assert same_json(impl.decode_json_text(impl.encode_json_text(value)), want)
    try:
        data = impl.encode_json_bytes(value)
    except UnicodeEncodeError:
        return
    assert same_json(impl.decode_json_bytes(data), want)


json_alphabet = st.sampled_from(
    list('[]{}",:0123456789.eE+-\\/ ')
    + ["true", "false", "null", "NaN", "Infinity", "-Infinity", "\\u", "\\ud800", "\\udc00", "1234567890123456789"]
    + ["\t", "\n", "\r", "\x0c", "\x00", "\x7f", "é", "\ufeff", "\ud800", "\u00a0", "a", "x"]
)
jsonish_text = st.lists(json_alphabet, max_size=30).map("".join)


def mutate(text: str, data: st.DataObject) -> str:
    if not text:
        return text
    index = data.draw(st.integers(0, len(text) - 1))
    action = data.draw(st.sampled_from(["delete", "insert", "replace", "keep"]))
    piece = data.draw(json_alphabet)
    if action == "delete":
        return text[:index] + text[index + 1 :]
    if action == "insert":
        return text[:index] + piece + text[index:]
    if action == "replace":
        return text[:index] + piece + text[index + 1 :]
    return text


@FAST
@given(text=st.one_of(st.text(), jsonish_text, json_like.map(starlette_text)), data=st.data())
def test_decode_text_property(impl: Any, text: str, data: st.DataObject) -> None:
    text = mutate(text, data)
    assert_decodes_like_starlette(impl, text)


@FAST
@given(
    data=st.one_of(
        st.binary(),
        jsonish_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        json_like.map(lambda v: starlette_text(v).encode("utf-8", "surrogatepass")),
    )
)
def test_decode_bytes_property(impl: Any, data: bytes) -> None:
    assert_decodes_bytes_like_starlette(impl, data)


@FAST
@given(
    number=st.one_of(st.floats(allow_nan=False), st.integers()),
    fmt=st.sampled_from(["{!r}", "{:e}", "{:.17g}", "{:.3E}", "{:f}"]),
)
def test_decode_number_spellings_property(impl: Any, number: Any, fmt: str) -> None:
    text = fmt.format(number)
    if isinstance(number, int) and fmt != "{!r}":
        text = str(number)
    assert_decodes_like_starlette(impl, text)
    assert_decodes_like_starlette(impl, f"[{text}]")
    assert_decodes_bytes_like_starlette(impl, text.encode())


# --- The JSON backend: orjson optional, probed once at import --------------------------------------

# Runs in a fresh interpreter: imports one twin (argv[1]: "c" or "py") after the test's set-up code
# (argv[2]) ran, then prints the backend and what the twin made of values whose text depends on it.
BACKEND_PROBE = r"""
import json, sys
exec(sys.argv[2])
import importlib
import fastws, fastws.codec._backend as backend
codec = importlib.import_module("fastws.codec._json_" + sys.argv[1])
values = [1e16, -1.5e22, 1.7976931348623157e308, {"ts": 1e17, "n": [1, 2.5, None]}, 2**64, 1e-5, 0.1,
          {"a": "é\u2028"}, float("nan")]
def outcome(func, arg):
    try:
        return ["ok", func(arg)]
    except Exception as exc:
        return ["raise", type(exc).__name__, str(exc)]
print(json.dumps({
    "backend": fastws.JSON_BACKEND,
    "describe": backend.describe(),
    "float_max": backend.FLOAT_MAX,
    "orjson_loaded": "orjson" in sys.modules and sys.modules["orjson"] is not None,
    "text": [codec.encode_json_text(v) for v in values],
    "bytes": [codec.encode_json_bytes(v).decode() for v in values],
    "decoded": [outcome(codec.decode_json_text, t)
                for t in ["[1e16, 18446744073709551616]", "[1,]", "\ufeff{}", '{"a":']],
    "decoded_bytes": [outcome(codec.decode_json_bytes, t) for t in [b"[1.5e300]", b"[1,]", b"\xff"]],
}))
"""

NO_ORJSON = "sys.modules['orjson'] = None  # `import orjson` raises ImportError, as where it is not installed"
# orjson before 3.11.7 writes floats from 1e16 up without the exponent's "+" ("1e16"); this stand-in
# does the same on top of the installed orjson, so the probe's routing is tested whatever is installed.
OLD_ORJSON = """
import types, orjson as real
fake = types.ModuleType("orjson")
fake.__version__ = "3.11.6-like"
fake.dumps = lambda value: real.dumps(value).replace(b"e+", b"e")
fake.loads, fake.JSONDecodeError, fake.JSONEncodeError = real.loads, real.JSONDecodeError, real.JSONEncodeError
sys.modules["orjson"] = fake
"""


def run_backend_probe(impl_name: str, setup: str, **env_overrides: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("FASTWS_NO_ORJSON", "FASTWS_NO_EXTENSIONS")}
    env.update(env_overrides)
    result = subprocess.run(
        [sys.executable, "-c", BACKEND_PROBE, impl_name, setup],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def expected_codec_results() -> dict[str, Any]:
    """What Starlette's json path gives for the probe's values, computed here with ``json`` alone."""
    values = [1e16, -1.5e22, 1.7976931348623157e308, {"ts": 1e17, "n": [1, 2.5, None]}, 2**64, 1e-5, 0.1,
              {"a": "é\u2028"}, float("nan")]
    return {"text": [starlette_text(v) for v in values], "bytes": [starlette_text(v) for v in values]}


def test_json_backend_attribute_matches_what_loaded() -> None:
    import fastws
    from fastws.codec import _backend as _jsonbackend

    assert fastws.JSON_BACKEND in ("orjson", "json")
    assert fastws.JSON_BACKEND == ("json" if _jsonbackend.ORJSON_DUMPS is None else "orjson")
    assert _jsonbackend.describe().split()[0] == fastws.JSON_BACKEND


def test_float_probe_rejects_exponents_without_plus() -> None:
    from fastws.codec import _backend as _jsonbackend

    assert _jsonbackend._matches(lambda x: _jsonbackend._encode(x).encode(), _jsonbackend._EXPONENT_PROBES)
    assert not _jsonbackend._matches(
        lambda x: _jsonbackend._encode(x).replace("e+", "e").encode(), _jsonbackend._EXPONENT_PROBES
    )

    def broken(value: Any) -> bytes:
        raise TypeError("not a float")

    assert not _jsonbackend._matches(broken, _jsonbackend._PLAIN_PROBES)


@pytest.mark.parametrize(
    "setup, env, backend",
    [
        (NO_ORJSON, {}, "json"),
        ("", {"FASTWS_NO_ORJSON": "1"}, "json"),
        (OLD_ORJSON, {}, "orjson"),
    ],
    ids=["orjson-not-installed", "FASTWS_NO_ORJSON", "orjson-before-3.11.7"],
)
def test_codec_without_orjson_or_with_an_old_one_sends_starlettes_text(
    impl: Any, setup: str, env: dict[str, str], backend: str
) -> None:
    if backend == "orjson":
        pytest.importorskip("orjson")
    got = run_backend_probe(impl.name, setup, **env)
    assert got["backend"] == backend
    want = expected_codec_results()
    assert got["text"] == want["text"]
    assert got["bytes"] == want["bytes"]
    assert got["decoded"] == [
        ["ok", [1e16, 2**64]],
        ["raise", "JSONDecodeError", "Expecting value: line 1 column 4 (char 3)"],
        ["raise", "JSONDecodeError", "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"],
        ["raise", "JSONDecodeError", "Expecting value: line 1 column 6 (char 5)"],
    ]
    assert got["decoded_bytes"][0] == ["ok", [1.5e300]]
    assert got["decoded_bytes"][1] == ["raise", "JSONDecodeError", "Expecting value: line 1 column 4 (char 3)"]
    assert got["decoded_bytes"][2][:2] == ["raise", "UnicodeDecodeError"]
    if backend == "json":
        assert not got["orjson_loaded"] and got["describe"].startswith("json (standard library")
    else:
        # The stand-in formats big floats like old orjson: the probe keeps them on json's path.
        assert got["float_max"] == 1e16 and "floats >= 1e16 via json" in got["describe"]
