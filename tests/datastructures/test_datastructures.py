"""Headers, QueryParams, cookie parsing, URL assembly and the shared URL/Address/State classes,
each compared with its Starlette 1.10 counterpart (``starlette.datastructures``,
``starlette.requests.cookie_parser``)."""

from __future__ import annotations

import collections
import collections.abc
from typing import Any

import pytest
import starlette.datastructures as sd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.requests import cookie_parser

import fastws
import fastws.datastructures._core as selector
from fastws.datastructures import URL, Address, State

FAST = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def outcome(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """``("ok", result)`` or ``("raise", exception type, message)``."""
    try:
        return ("ok", func(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the exception is the result under test
        return ("raise", type(exc), str(exc))


@pytest.fixture
def selected(impl: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the selector module (used by the shared ``URL`` class) serve ``impl``'s kernels."""
    monkeypatch.setattr(selector, "url_from_scope", impl.url_from_scope)
    monkeypatch.setattr(selector, "parse_query_string", impl.parse_query_string)
    return impl


# -- Headers -----------------------------------------------------------------------------------------

RAW = [
    (b"host", b"example.com"),
    (b"content-type", b"text/plain"),
    (b"x-dup", b"1"),
    (b"x-dup", b"2"),
    (b"x-latin", b"caf\xe9 \xff"),
    (b"cookie", b"a=1; b=2"),
]


def header_view(h: Any, lookups: list[Any]) -> dict[str, Any]:
    """Everything observable through the read-only Headers API."""
    view: dict[str, Any] = {
        "keys": outcome(h.keys),
        "values": outcome(h.values),
        "items": outcome(h.items),
        "raw": outcome(lambda: h.raw),
        "len": len(h),
        "iter": list(h),
        "repr": repr(h).split("(", 1)[1],
        "dict": outcome(lambda: dict(h)),
    }
    for key in lookups:
        view[f"getlist {key!r}"] = outcome(h.getlist, key)
        view[f"get {key!r}"] = outcome(h.get, key)
        view[f"get default {key!r}"] = outcome(h.get, key, "dflt")
        view[f"getitem {key!r}"] = outcome(lambda k=key: h[k])
        view[f"contains {key!r}"] = outcome(lambda k=key: k in h)
    return view


LOOKUPS = ["host", "HOST", "Content-Type", "x-dup", "X-DUP", "x-latin", "missing", "", "ĉ", "caf\xe9", 1, None]


def test_headers_from_raw_match_starlette(impl: Any) -> None:
    assert header_view(impl.Headers(raw=list(RAW)), LOOKUPS) == header_view(sd.Headers(raw=list(RAW)), LOOKUPS)


def test_headers_from_mapping_match_starlette(impl: Any) -> None:
    mapping = {"Host": "example.com", "X-Mixed-Case": "Value", "x-latin": "caf\xe9"}
    assert header_view(impl.Headers(headers=mapping), LOOKUPS) == header_view(sd.Headers(headers=mapping), LOOKUPS)
    assert impl.Headers(headers=mapping).raw == sd.Headers(headers=mapping).raw
    assert outcome(impl.Headers, headers={"a": "\u0100"})[:2] == ("raise", UnicodeEncodeError)


def test_headers_empty_match_starlette(impl: Any) -> None:
    assert header_view(impl.Headers(), LOOKUPS) == header_view(sd.Headers(), LOOKUPS)
    assert repr(impl.Headers()) == "Headers({})"


def test_headers_lookups(impl: Any) -> None:
    h = impl.Headers(raw=list(RAW))
    assert h["X-Dup"] == "1"
    assert h.getlist("x-DUP") == ["1", "2"]
    assert h.getlist("nope") == []
    assert h.get("nope") is None
    assert h.get("nope", "d") == "d"
    assert h["x-latin"] == "café ÿ"
    assert "Host" in h and "nope" not in h
    assert h.keys() == [k.decode("latin-1") for k, _ in RAW]
    assert isinstance(h.keys(), list) and isinstance(h.values(), list) and isinstance(h.items(), list)
    with pytest.raises(KeyError) as info:
        h["Missing-Header"]
    assert info.value.args == ("Missing-Header",)
    with pytest.raises(AttributeError):
        h.get(1)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        1 in h  # noqa: B015
    assert isinstance(h, collections.abc.Mapping)
    assert repr(h) == f"Headers(raw={RAW!r})"  # duplicates: the raw form, as Starlette
    assert repr(impl.Headers(raw=[(b"a", b"1")])) == "Headers({'a': '1'})"
    with pytest.raises(TypeError):
        hash(h)


def test_headers_raw_is_a_copy(impl: Any) -> None:
    raw = list(RAW)
    h = impl.Headers(raw=raw)
    copy = h.raw
    assert copy == raw and copy is not raw
    copy.append((b"x", b"y"))
    assert len(h) == len(RAW)


def test_headers_equality(impl: Any) -> None:
    a = impl.Headers(raw=[(b"a", b"1"), (b"b", b"2")])
    b = impl.Headers(raw=[(b"b", b"2"), (b"a", b"1")])
    assert a == b  # order-insensitive, as Starlette
    assert a != impl.Headers(raw=[(b"a", b"1")])
    assert a != impl.Headers(raw=[(b"a", b"1"), (b"b", b"3")])
    assert a == a.mutablecopy()
    assert a != {"a": "1", "b": "2"}
    assert a != [(b"a", b"1"), (b"b", b"2")]
    assert impl.Headers() == impl.Headers(raw=[])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"headers": {}, "raw": []}, 'Cannot set both "headers" and "raw".'),
        ({"headers": {}, "scope": {"headers": []}}, 'Cannot set both "headers" and "scope".'),
        ({"raw": [], "scope": {"headers": []}}, 'Cannot set both "raw" and "scope".'),
    ],
)
def test_headers_assertion_errors_match_starlette(impl: Any, kwargs: dict[str, Any], message: str) -> None:
    got = outcome(impl.Headers, **kwargs)
    want = outcome(sd.Headers, **kwargs)
    assert want == ("raise", AssertionError, message)
    assert got == want


@pytest.mark.parametrize("kind", ["tuple", "list", "generator"])
def test_headers_scope_mode_turns_headers_into_a_list(impl: Any, kind: str) -> None:
    def make(kind: str) -> Any:
        if kind == "tuple":
            return tuple(RAW)
        if kind == "list":
            return list(RAW)
        return (pair for pair in RAW)

    scope: dict[str, Any] = {"headers": make(kind)}
    h = impl.Headers(scope=scope)
    starlette_scope: dict[str, Any] = {"headers": make(kind)}
    sh = sd.Headers(scope=starlette_scope)
    assert type(scope["headers"]) is list
    assert scope["headers"] == starlette_scope["headers"] == RAW
    assert h.items() == sh.items()
    # Both now share the scope's list: a MutableHeaders built on the scope writes through.
    m = impl.MutableHeaders(scope=scope)
    m["x-new"] = "v"
    assert (b"x-new", b"v") in scope["headers"]


def test_headers_scope_mode_does_not_alias_the_callers_list(impl: Any) -> None:
    # Starlette copies scope["headers"] (``list(scope["headers"])``) even when it already is a list,
    # so a later change to the list the caller passed in is not seen by the Headers, and the
    # scope holds the new list.
    original = list(RAW)
    scope: dict[str, Any] = {"headers": original}
    h = impl.Headers(scope=scope)
    starlette_original = list(RAW)
    starlette_scope: dict[str, Any] = {"headers": starlette_original}
    sh = sd.Headers(scope=starlette_scope)
    original.append((b"late", b"1"))
    starlette_original.append((b"late", b"1"))
    assert "late" not in sh
    assert (starlette_scope["headers"] is starlette_original) is False
    assert ("late" in h) == ("late" in sh)
    assert (scope["headers"] is original) == (starlette_scope["headers"] is starlette_original)


def test_headers_thousands_of_entries(impl: Any) -> None:
    raw = [(f"x-h{i % 700}".encode(), f"value-{i}".encode()) for i in range(5000)]
    h = impl.Headers(raw=list(raw))
    s = sd.Headers(raw=list(raw))
    lookups = ["x-h0", "X-H699", "x-h700", "x-h123"]
    assert header_view(h, lookups) == header_view(s, lookups)
    assert len(h.getlist("x-h0")) == len(range(0, 5000, 700))


def test_mutablecopy_and_mutable_headers_ops_match_starlette(impl: Any) -> None:
    h = impl.Headers(raw=list(RAW))
    s = sd.Headers(raw=list(RAW))
    m = h.mutablecopy()
    ms = s.mutablecopy()
    assert type(m) is impl.MutableHeaders
    assert isinstance(m, impl.Headers)
    ops: list[tuple[str, tuple[Any, ...]]] = [
        ("setitem", ("X-Dup", "one")),
        ("setitem", ("New", "v")),
        ("delitem", ("host",)),
        ("delitem", ("absent",)),
        ("append", ("X-Dup", "again")),
        ("append", ("Vary", "Accept")),
        ("add_vary_header", ("Origin",)),
        ("setdefault", ("x-dup", "ignored")),
        ("setdefault", ("x-fresh", "fresh")),
        ("update", ({"A": "1", "x-dup": "z"},)),
        ("ior", ({"B": "2"},)),
        ("setitem", ("x-latin", "\xe9")),
    ]
    for name, args in ops:
        results = []
        for target in (m, ms):
            if name == "setitem":
                results.append(outcome(target.__setitem__, *args))
            elif name == "delitem":
                results.append(outcome(target.__delitem__, *args))
            elif name == "ior":
                before = target
                target |= args[0]
                results.append(("ok", target is before))
            else:
                results.append(outcome(getattr(target, name), *args))
        assert results[0] == results[1], name
        assert m.raw == ms.raw, name
    merged, merged_s = m | {"C": "3"}, ms | {"C": "3"}
    assert type(merged) is impl.MutableHeaders
    assert merged.raw == merged_s.raw
    assert "c" not in m  # `|` made a copy
    # The source Headers were not touched by mutating the copy.
    assert h.raw == RAW
    # MutableHeaders.raw is the live list.
    assert m.raw is m.raw
    for bad in ([("a", "b")], "a=b", 1):
        assert outcome(lambda b=bad: m | b) == outcome(lambda b=bad: ms | b)
        assert outcome(m.__ior__, bad) == outcome(ms.__ior__, bad)
    assert outcome(m.__setitem__, "k", "\u0100")[:2] == outcome(ms.__setitem__, "k", "\u0100")[:2]
    assert outcome(m.append, "\u0100", "v")[:2] == outcome(ms.append, "\u0100", "v")[:2]


def test_mutable_headers_constructors(impl: Any) -> None:
    m = impl.MutableHeaders(headers={"A": "1"})
    assert m.raw == [(b"a", b"1")]
    m["b"] = "2"
    assert repr(m) == "MutableHeaders({'a': '1', 'b': '2'})"
    assert m.mutablecopy() == m and m.mutablecopy() is not m


# Header names: a small alphabet so that duplicates and lookups hit; values: any byte.
header_names = st.one_of(
    st.sampled_from([b"host", b"cookie", b"x-a", b"X-A", b"x-\xe9", b"\xff", b""]),
    st.binary(max_size=4),
)
header_lists = st.lists(st.tuples(header_names, st.binary(max_size=12)), max_size=40)
header_lookups = st.lists(
    st.one_of(
        header_names.map(lambda b: b.decode("latin-1")),
        header_names.map(lambda b: b.decode("latin-1").upper()),
        st.text(max_size=4),
    ),
    max_size=6,
)


@FAST
@given(raw=header_lists, lookups=header_lookups, data=st.data())
@example(raw=[(b"x-\xe9", b"\xff\x00"), (b"X-A", b"1"), (b"x-a", b"2")], lookups=["X-\xc9", "x-a", "X-A"], data=None)
def test_headers_property_vs_starlette(
    impl: Any, raw: list[tuple[bytes, bytes]], lookups: list[str], data: Any
) -> None:
    h = impl.Headers(raw=list(raw))
    s = sd.Headers(raw=list(raw))
    assert header_view(h, lookups) == header_view(s, lookups)
    shuffled = list(reversed(raw))
    assert (h == impl.Headers(raw=shuffled)) == (s == sd.Headers(raw=shuffled))
    scope: dict[str, Any] = {"headers": tuple(raw)}
    assert impl.Headers(scope=scope).items() == s.items()
    assert scope["headers"] == raw
    if data is not None:
        # A random mutation sequence on MutableHeaders.
        m, ms = h.mutablecopy(), s.mutablecopy()
        keys = st.one_of(st.sampled_from(["host", "X-A", "x-\xe9", "cookie"]), st.text(max_size=3))
        values = st.text(alphabet=st.characters(max_codepoint=0x10F), max_size=5)
        for _ in range(data.draw(st.integers(0, 8))):
            op = data.draw(st.sampled_from(["set", "del", "append", "setdefault", "update", "vary"]))
            key, value = data.draw(keys), data.draw(values)
            if op == "set":
                r = outcome(m.__setitem__, key, value), outcome(ms.__setitem__, key, value)
            elif op == "del":
                r = outcome(m.__delitem__, key), outcome(ms.__delitem__, key)
            elif op == "append":
                r = outcome(m.append, key, value), outcome(ms.append, key, value)
            elif op == "setdefault":
                r = outcome(m.setdefault, key, value), outcome(ms.setdefault, key, value)
            elif op == "update":
                r = outcome(m.update, {key: value}), outcome(ms.update, {key: value})
            else:
                r = outcome(m.add_vary_header, value), outcome(ms.add_vary_header, value)
            assert r[0] == r[1], op
            assert m.raw == ms.raw, op


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    seed=st.lists(st.tuples(header_names, st.binary(max_size=6)), min_size=1, max_size=20), size=st.integers(500, 4000)
)
def test_headers_large_lists_property_vs_starlette(impl: Any, seed: list[tuple[bytes, bytes]], size: int) -> None:
    # Thousands of entries, built by repeating a random seed list (cheap to generate).
    raw = (seed * (size // len(seed) + 1))[:size]
    lookups = sorted({name.decode("latin-1") for name, _ in seed} | {"missing"})
    assert header_view(impl.Headers(raw=list(raw)), lookups) == header_view(sd.Headers(raw=list(raw)), lookups)


# -- QueryParams -------------------------------------------------------------------------------------


def qp_view(q: Any, lookups: list[Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "multi_items": q.multi_items(),
        "keys": list(q.keys()),
        "values": list(q.values()),
        "items": list(q.items()),
        "len": len(q),
        "iter": list(q),
        "str": str(q),
        "repr": repr(q),
        "dict": dict(q),
    }
    for key in lookups:
        view[f"getlist {key!r}"] = q.getlist(key)
        view[f"get {key!r}"] = q.get(key)
        view[f"get default {key!r}"] = q.get(key, "dflt")
        view[f"getitem {key!r}"] = outcome(lambda k=key: q[k])
        view[f"contains {key!r}"] = key in q
    return view


QP_LOOKUPS = ["a", "b", "c", "", "é", "1", 1, "missing"]


class Multi:
    """A foreign multidict: anything with ``multi_items()``."""

    def multi_items(self) -> list[tuple[Any, Any]]:
        return [("a", 1), ("a", 2), ("b", None)]


GENERATOR = object()  # stands for a fresh generator of pairs

QP_CONSTRUCTORS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("nothing", (), {}),
    ("str", ("a=1&b=2&a=3",), {}),
    ("bytes", (b"a=1&b=2&a=3",), {}),
    ("empty str", ("",), {}),
    ("empty bytes", (b"",), {}),
    ("str with blanks", ("a=&b&=c&&",), {}),
    ("bytes latin-1", (b"caf\xe9=\xff&%C3%A9=%E2%9C%93",), {}),
    ("str non-ascii", ("é=✓&x=%E2%9C%93",), {}),
    ("list", ([("a", "1"), ("a", "2"), ("b", "3")],), {}),
    ("list non-str", ([(1, 2), ("1", None), (b"x", 1.5)],), {}),
    ("tuple of pairs", ((("a", "1"),),), {}),
    ("dict", ({"a": "1", "b": 2},), {}),
    ("generator", (GENERATOR,), {}),
    ("multidict", (Multi(),), {}),
    ("starlette multidict", (sd.ImmutableMultiDict([("a", "1"), ("a", "2")]),), {}),
    ("starlette queryparams", (sd.QueryParams("x=1&x=2"),), {}),
    ("kwargs", (), {"a": "1", "b": 2}),
    ("str + kwargs", ("a=1&a=2",), {"a": "3", "b": "4"}),
    ("bytes + kwargs", (b"a=1",), {"b": "2"}),
    ("list + kwargs", ([("a", "1")],), {"a": "2"}),
    ("dict + kwargs", ({"a": "1"},), {"z": 0}),
    ("None", (None,), {}),
    ("empty list + kwargs", ([],), {"k": "v"}),
]


@pytest.mark.parametrize(("args", "kwargs"), [c[1:] for c in QP_CONSTRUCTORS], ids=[c[0] for c in QP_CONSTRUCTORS])
def test_query_params_constructors_match_starlette(impl: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # A generator is single-use: each side gets a fresh one.
    def fresh() -> tuple[Any, ...]:
        return tuple((("g", i) for i in range(3)) if a is GENERATOR else a for a in args)

    ours, theirs = impl.QueryParams(*fresh(), **kwargs), sd.QueryParams(*fresh(), **kwargs)
    assert qp_view(ours, QP_LOOKUPS) == qp_view(theirs, QP_LOOKUPS)
    if args and args[0] is GENERATOR:
        assert ours.multi_items() == [("g", "0"), ("g", "1"), ("g", "2")]
    assert ours == impl.QueryParams(ours.multi_items())


def test_query_params_own_multidict_as_argument(impl: Any) -> None:
    q = impl.QueryParams("a=1&a=2&b=3")
    assert impl.QueryParams(q).multi_items() == q.multi_items()
    assert sd.QueryParams(q).multi_items() == q.multi_items()  # Starlette accepts ours too


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("a=1", "b=2"), {}),
        ((5,), {}),
        (([("a",)],), {}),
        (([("a", "b", "c")],), {}),
        ((bytearray(b"a=1"),), {}),
        ((["abc"],), {}),
        ((5,), {"a": 1}),
    ],
    ids=repr,
)
def test_query_params_errors_match_starlette(impl: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    got = outcome(impl.QueryParams, *args, **kwargs)
    want = outcome(sd.QueryParams, *args, **kwargs)
    assert want[0] == "raise"
    assert got[:2] == want[:2]
    if want[1] is AssertionError:
        assert got == want == ("raise", AssertionError, "Too many arguments.")


def test_query_params_semantics(impl: Any) -> None:
    q = impl.QueryParams(b"a=1&b=2&a=3&c")
    assert q["a"] == "3"  # last value wins
    assert q.getlist("a") == ["1", "3"]
    assert q.get("c") == ""
    assert q.get("zz") is None
    assert list(q.keys()) == ["a", "b", "c"]
    assert q.multi_items() == [("a", "1"), ("b", "2"), ("a", "3"), ("c", "")]
    assert str(q) == "a=1&b=2&a=3&c="
    assert repr(q) == "QueryParams('a=1&b=2&a=3&c=')"
    assert q == impl.QueryParams("c=&a=1&b=2&a=3")  # sorted by key: same pairs in another order
    assert q != impl.QueryParams("a=3&b=2&a=1&c=")  # the values of one key keep their order
    assert q != {"a": "3", "b": "2", "c": ""}
    assert q != sd.QueryParams(b"a=1&b=2&a=3&c")
    assert isinstance(q, collections.abc.Mapping)
    with pytest.raises(KeyError):
        q["zz"]
    with pytest.raises(TypeError):
        hash(q)
    items = q.multi_items()
    items.append(("x", "y"))
    assert "x" not in q  # multi_items() is a copy


def test_query_params_str_vs_bytes(impl: Any) -> None:
    # bytes are read as latin-1 (as Starlette does): a raw non-ASCII byte is one character.
    assert impl.QueryParams(b"k=\xc3\xa9").multi_items() == sd.QueryParams(b"k=\xc3\xa9").multi_items() == [("k", "Ã©")]
    assert impl.QueryParams("k=\xc3\xa9").multi_items() == [("k", "Ã©")]
    assert impl.QueryParams("k=%C3%A9").multi_items() == impl.QueryParams(b"k=%C3%A9").multi_items() == [("k", "é")]


@pytest.mark.parametrize(
    "qs",
    [
        b"%",
        b"%4",
        b"%41",
        b"%zz",
        b"%%41",
        b"%%",
        b"a%2",
        b"%4g",
        b"%C3",
        b"%C3%",
        b"%C3%A",
        b"%C3%A9",
        b"%c3%a9",
        b"%C3\xa9",
        b"\xc3%A9",
        b"%E2%9C%93",
        b"%E2%9C",
        b"%FF%FE",
        b"%ED%A0%80",
        b"a+b=c+d",
        b"%2B=%20",
        b"&&a=1&&",
        b"=",
        b"==",
        b"a==b",
        b"&",
        b";a=1;b=2",
        b"a=1;b=2&c=3",
        b"%00=%00",
        b"\x00\x7f\x80\xff",
        b"k=%41%42%zz%4",
        b"\xe9%41",
        b"%41\xe9%42",
        b"a=%\xe9",
        b"a=%4\xe9",
        b"?a=1",
        b"#x=1",
    ],
    ids=ascii,
)
def test_query_string_edge_cases_match_starlette(impl: Any, qs: bytes) -> None:
    want = sd.QueryParams(qs).multi_items()
    assert impl.QueryParams(qs).multi_items() == want
    assert impl.parse_query_string(qs) == want
    text = qs.decode("latin-1")
    assert impl.QueryParams(text).multi_items() == sd.QueryParams(text).multi_items()
    assert str(impl.QueryParams(qs)) == str(sd.QueryParams(qs))


@pytest.mark.parametrize("bad", [None, 1, ["a=1"], bytearray(b"a=1"), memoryview(b"a=1")], ids=repr)
def test_parse_query_string_rejects_other_types(impl: Any, bad: Any) -> None:
    with pytest.raises(TypeError) as info:
        impl.parse_query_string(bad)
    assert str(info.value) == f"Expected a str or bytes query string, got {type(bad).__name__}"


query_pieces = st.sampled_from(
    [
        b"%",
        b"%4",
        b"%41",
        b"%zz",
        b"%%41",
        b"%C3",
        b"%A9",
        b"%e2%9c%93",
        b"%ED%A0%80",
        b"%FF",
        b"+",
        b"&",
        b"=",
        b"a",
        b"b",
        b"\xc3",
        b"\xa9",
        b"\xff",
        b"\x80",
        b" ",
        b";",
        b"\x00",
        b"0",
        b"F",
    ]
)
query_strings = st.one_of(st.lists(query_pieces, max_size=25).map(b"".join), st.binary(max_size=40))


@FAST
@given(qs=query_strings)
@example(qs=b"%%41&%4=%zz+%C3%A9\xe9")
def test_query_params_property_vs_starlette(impl: Any, qs: bytes) -> None:
    ours, theirs = impl.QueryParams(qs), sd.QueryParams(qs)
    assert ours.multi_items() == theirs.multi_items()
    assert qp_view(ours, ["a", "b", "", "%", "é"]) == qp_view(theirs, ["a", "b", "", "%", "é"])
    text = qs.decode("latin-1")
    assert impl.QueryParams(text).multi_items() == theirs.multi_items()


@FAST
@given(qs=st.text(max_size=30), kwargs=st.dictionaries(st.text(max_size=3), st.integers(), max_size=3))
def test_query_params_text_and_kwargs_property_vs_starlette(impl: Any, qs: str, kwargs: dict[str, int]) -> None:
    assert impl.QueryParams(qs, **kwargs).multi_items() == sd.QueryParams(qs, **kwargs).multi_items()
    assert dict(impl.QueryParams(qs, **kwargs)) == dict(sd.QueryParams(qs, **kwargs))


# -- cookies -------------------------------------------------------------------------------------------

COOKIES = [
    "",
    "a=1",
    "a=1; b=2",
    "a=1;b=2;a=3",
    " a = 1 ; b = 2 ",
    "novalue",
    "=empty_name",
    "a=",
    "a==b",
    ";;;",
    "a=1;;b=2",
    'q="quoted"',
    'q="with \\"escaped\\" quotes"',
    'q="back\\\\slash"',
    'q="\\101\\102\\103"',
    'q="\\377\\400"',
    'q="unterminated',
    'q=unstarted"',
    'q="',
    'q=""',
    'q="a"b"',
    'q="a";r="b"',
    "a=\u3000spaced\u3000",
    "\u00a0a\u00a0=\u00a0b\u00a0",
    "a=\x0bb\x0c",
    "a=\u2028",
    "key with space=value with space",
    "é=ü",
    "a=1, b=2",
    "$Version=1; Customer=WILE_E_COYOTE; $Path=/acme",
    'keebler=E=mc2; L="Loves"; fudge=\\012;',
]


@pytest.mark.parametrize("cookie", COOKIES, ids=ascii)
def test_parse_cookie_matches_starlette(impl: Any, cookie: str) -> None:
    got, want = impl.parse_cookie(cookie), cookie_parser(cookie)
    assert got == want
    assert list(got.items()) == list(want.items())


def test_parse_cookie_examples(impl: Any) -> None:
    assert impl.parse_cookie("a=1; b=2; a=3") == {"a": "3", "b": "2"}
    assert impl.parse_cookie("flag") == {"": "flag"}
    assert impl.parse_cookie('q="a\\"b\\101"') == {"q": 'a"bA'}


class CookieStr(str):
    pass


@pytest.mark.parametrize(
    "value", [None, 1, b"a=1", CookieStr("a=1; b=2"), collections.UserString('a=1; b="x"')], ids=repr
)
def test_parse_cookie_other_argument_types_like_starlette(impl: Any, value: Any) -> None:
    # cookie_parser accepts any str (subclasses too) or str-like object whose .split(";") gives
    # strs (collections.UserString), and fails on other types with whatever `.split(";")` raises.
    got, want = outcome(impl.parse_cookie, value), outcome(cookie_parser, value)
    assert got[:2] == want[:2], (got, want)
    if want[0] == "ok":
        assert got[1] == want[1]


cookie_pieces = st.sampled_from(
    [
        '"',
        "\\",
        '\\"',
        "\\012",
        "\\377",
        "\\400",
        "\\1",
        "=",
        ";",
        " ",
        "\t",
        "\u3000",
        "\xa0",
        "\u2028",
        "\x85",
        "\x0b",
        "\x1c",
        "a",
        "b",
        "é",
        "$",
        ",",
    ]
)
cookie_strings = st.one_of(st.lists(cookie_pieces, max_size=25).map("".join), st.text(max_size=30))


@FAST
@given(cookie=cookie_strings)
@example(cookie='a="\\"\\012\\\\"; b = "x" ;\u3000c\u3000=\u3000"y\u3000"')
def test_parse_cookie_property_vs_starlette(impl: Any, cookie: str) -> None:
    got, want = impl.parse_cookie(cookie), cookie_parser(cookie)
    assert list(got.items()) == list(want.items())


# -- url_from_scope --------------------------------------------------------------------------------------


def scope_with(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "websocket",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "path": "/ws",
        "query_string": b"",
        "headers": [(b"host", b"example.com:8000")],
    }
    for key, value in overrides.items():
        if value is ...:
            scope.pop(key, None)
        else:
            scope[key] = value
    return scope


URL_SCOPES: list[tuple[str, dict[str, Any]]] = [
    ("host header", scope_with()),
    ("query", scope_with(query_string=b"a=1&b=%20")),
    ("host default port", scope_with(headers=[(b"host", b"example.com:80")])),
    ("host no port", scope_with(headers=[(b"host", b"example.com")])),
    ("host ipv6", scope_with(headers=[(b"host", b"[::1]:8000")])),
    ("host bad ipv6", scope_with(headers=[(b"host", b"[::g]:8000")])),
    ("host ipvfuture", scope_with(headers=[(b"host", b"[v1.fe80::a+en1]")])),
    ("host upper case", scope_with(headers=[(b"host", b"EXAMPLE.COM")])),
    ("host with path", scope_with(headers=[(b"host", b"evil.com/path")])),
    ("host with userinfo", scope_with(headers=[(b"host", b"user@evil.com")])),
    ("host with space", scope_with(headers=[(b"host", b"a b")])),
    ("host empty", scope_with(headers=[(b"host", b"")])),
    ("host port too big", scope_with(headers=[(b"host", b"example.com:65536")])),
    ("host port zero-padded", scope_with(headers=[(b"host", b"example.com:000080")])),
    ("host port many zeros", scope_with(headers=[(b"host", b"example.com:0000000000443")])),
    ("host empty port", scope_with(headers=[(b"host", b"example.com:")])),
    ("host latin-1", scope_with(headers=[(b"host", b"caf\xe9.com")])),
    ("host percent", scope_with(headers=[(b"host", b"ex%41mple.com")])),
    ("second host header ignored", scope_with(headers=[(b"x", b"y"), (b"host", b"a.com"), (b"host", b"b.com")])),
    ("host header upper-case name is not the host", scope_with(headers=[(b"Host", b"a.com")])),
    ("no host: server", scope_with(headers=[])),
    ("no host: server default ws port", scope_with(headers=[], server=("example.org", 80))),
    ("no host: server default wss port", scope_with(headers=[], scheme="wss", server=("example.org", 443))),
    ("no host: server wss non-default", scope_with(headers=[], scheme="wss", server=("example.org", 80))),
    ("no host: server http", scope_with(headers=[], scheme="http", server=("example.org", 80))),
    ("no host: server https", scope_with(headers=[], scheme="https", server=("example.org", 8443))),
    ("no host: server ipv6", scope_with(headers=[], server=("::1", 8000))),
    ("no host: server ipv6 default port", scope_with(headers=[], server=("::1", 80))),
    ("no host: server bracketed ipv6", scope_with(headers=[], server=("[::1]", 8000))),
    ("no host: server port None", scope_with(headers=[], server=("example.org", None))),
    ("invalid host falls back to server", scope_with(headers=[(b"host", b"evil.com/x")], server=("10.0.0.1", 9000))),
    ("no host, no server", scope_with(headers=[], server=...)),
    ("no host, no server, query", scope_with(headers=[], server=..., query_string=b"x=1")),
    ("no host, no server, // path", scope_with(headers=[], server=..., path="//evil.com/x")),
    ("no host, server None", scope_with(headers=[], server=None)),
    ("no scheme key", scope_with(scheme=...)),
    ("no scheme key, server only", scope_with(scheme=..., headers=[], server=("h", 80))),
    ("no query_string key", scope_with(query_string=...)),
    ("path with ?", scope_with(path="/a?b")),
    ("path with #", scope_with(path="/a#b")),
    ("path with backslash", scope_with(path="/a\\b")),
    ("path with all three", scope_with(path="/?#\\", query_string=b"q=1")),
    ("path //", scope_with(path="//evil.com/x")),
    ("path empty", scope_with(path="")),
    ("path relative", scope_with(path="ws")),
    ("path non-ascii", scope_with(path="/é ✓")),
    ("path percent", scope_with(path="/%2F%3F")),
    ("scheme weird", scope_with(scheme="foo")),
    ("scheme empty", scope_with(scheme="")),
    ("scheme upper", scope_with(scheme="WS")),
    ("scheme with plus", scope_with(scheme="ws+unix")),
    ("scheme weird, server only", scope_with(scheme="foo", headers=[])),
    ("scheme empty, no host, no server", scope_with(scheme="", headers=[], server=...)),
    ("server empty host", scope_with(headers=[], server=("", 80))),
    ("tuple headers", scope_with(headers=((b"host", b"t.com"),))),
    ("non-utf8 query", scope_with(query_string=b"\xff")),
    ("no path", scope_with(path=...)),
    ("no headers", scope_with(headers=...)),
]


@pytest.mark.parametrize("scope", [s for _, s in URL_SCOPES], ids=[n for n, _ in URL_SCOPES])
def test_url_from_scope_matches_starlette(impl: Any, scope: dict[str, Any]) -> None:
    want = outcome(lambda: str(sd.URL(scope=scope)))
    got = outcome(impl.url_from_scope, scope)
    assert got == want


def test_url_from_scope_examples(impl: Any) -> None:
    assert impl.url_from_scope(scope_with(query_string=b"room=1")) == "ws://example.com:8000/ws?room=1"
    assert impl.url_from_scope(scope_with(headers=[(b"host", b"a/b")], server=("::1", 80))) == "ws://[::1]/ws"
    assert impl.url_from_scope(scope_with(headers=[], server=..., path="//x")) == "/%2Fx"
    assert impl.url_from_scope(scope_with(path="/a?b#c\\d")) == "ws://example.com:8000/a%3Fb%23c%5Cd"
    with pytest.raises(KeyError):
        impl.url_from_scope(scope_with(scheme="foo", headers=[]))


host_headers = st.one_of(
    st.none(),
    st.sampled_from(
        [
            b"example.com",
            b"example.com:80",
            b"EXAMPLE.com:8000",
            b"[::1]",
            b"[::1]:443",
            b"[::g]",
            b"[v1.x]",
            b"a/b",
            b"a@b",
            b"host:99999",
            b"host:0000080",
            b"host:",
            b"",
            b"h\xe9",
            b"::1",
            b"[fe80::1%25eth0]",
            b"a b",
            b"1.2.3.4:65535",
            b"1.2.3.4:65536",
            b"a?b",
            b"a#b",
            b"a\\b",
        ]
    ),
    st.binary(max_size=10),
)
servers = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["127.0.0.1", "::1", "[::1]", "example.org", "", "fe80::1%eth0", "/tmp/sock"]),
        st.sampled_from([80, 443, 8000, 0, None]),
    ),
)
schemes = st.sampled_from(["ws", "wss", "http", "https", "", "foo", "WS", "ws+unix", "a.b-c", None])
paths = st.one_of(
    st.sampled_from(
        ["/", "", "/ws", "//evil.com/x", "///", "ws", "a?b#c\\d", "/%20x", "/é", "//", "/a//b", "?x", "#f"]
    ),
    st.text(max_size=10),
)
query_bytes = st.one_of(st.sampled_from([b"", b"a=1", b"%zz", b"a=1&b", b"?", b"#"]), st.binary(max_size=6))


@FAST
@given(host=host_headers, server=servers, scheme=schemes, path=paths, qs=query_bytes, extra=st.booleans())
def test_url_from_scope_property_vs_starlette(
    impl: Any, host: bytes | None, server: Any, scheme: str | None, path: str, qs: bytes, extra: bool
) -> None:
    headers = [(b"x-before", b"1")] if extra else []
    if host is not None:
        headers.append((b"host", host))
    scope: dict[str, Any] = {"type": "websocket", "path": path, "query_string": qs, "headers": headers}
    if server is not None:
        scope["server"] = server
    if scheme is not None:
        scope["scheme"] = scheme
    assert outcome(impl.url_from_scope, scope) == outcome(lambda: str(sd.URL(scope=scope)))


# -- URL, Address, State (shared classes; URL(scope=...) and the query helpers use the selected kernels)

URLS = [
    "ws://user:pw@example.com:8000/p/a?x=1&y=2#frag",
    "wss://[::1]:443/chat",
    "http://example.com",
    "https://EXAMPLE.com:0443/",
    "ws://user@host/",
    "/relative?q=1",
    "",
    "ws://h:notaport/",
    "ws://h:99999/",
    "mailto:someone@example.com",
    "ws://a/b?x=1&x=2&y=3&z",
]


def url_view(u: Any) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for name in (
        "scheme",
        "netloc",
        "path",
        "query",
        "fragment",
        "username",
        "password",
        "hostname",
        "port",
        "is_secure",
    ):
        view[name] = outcome(getattr, u, name)
    view["str"] = str(u)
    view["repr"] = outcome(repr, u)
    view["components"] = tuple(u.components)
    return view


@pytest.mark.parametrize("url", URLS)
def test_url_matches_starlette(selected: Any, url: str) -> None:
    ours, theirs = URL(url), sd.URL(url)
    assert url_view(ours) == url_view(theirs)
    assert ours == theirs and ours == url and ours != url + "x"
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("replace", (), {"scheme": "wss"}),
        ("replace", (), {"path": "/other"}),
        ("replace", (), {"query": "k=v"}),
        ("replace", (), {"fragment": ""}),
        ("replace", (), {"hostname": "new.example"}),
        ("replace", (), {"hostname": "::1"}),
        ("replace", (), {"hostname": "::zz"}),
        ("replace", (), {"port": 9999}),
        ("replace", (), {"port": None}),
        ("replace", (), {"username": "u", "password": "p"}),
        ("replace", (), {"password": "secret"}),
        ("replace", (), {"bogus": 1}),
        ("include_query_params", (), {"x": 9, "new": "é ✓"}),
        ("replace_query_params", (), {"a": 1, "b": "two words"}),
        ("remove_query_params", ("x",), {}),
        ("remove_query_params", (["x", "z"],), {}),
        ("remove_query_params", (("y",),), {}),
    ]
    for name, args, kwargs in calls:
        got = outcome(getattr(ours, name), *args, **kwargs)
        want = outcome(getattr(theirs, name), *args, **kwargs)
        if want[0] == "ok":
            assert got[0] == "ok" and type(got[1]) is URL, (name, kwargs, got)
            assert str(got[1]) == str(want[1]), (name, kwargs)
        else:
            assert got[:2] == want[:2], (name, kwargs, got, want)


def test_url_query_helpers_with_malformed_query(selected: Any) -> None:
    raw = "ws://h/p?%zz=%4&a=1&a=2&%C3%A9=%E2%9C%93&b"
    ours, theirs = URL(raw), sd.URL(raw)
    assert str(ours.include_query_params(a="x")) == str(theirs.include_query_params(a="x"))
    assert str(ours.remove_query_params("a")) == str(theirs.remove_query_params("a"))
    assert str(ours.remove_query_params("é")) == str(theirs.remove_query_params("é"))


@pytest.mark.parametrize("scope", [s for _, s in URL_SCOPES], ids=[n for n, _ in URL_SCOPES])
def test_url_from_scope_class_matches_starlette(selected: Any, scope: dict[str, Any]) -> None:
    got = outcome(lambda: url_view(URL(scope=scope)))
    want = outcome(lambda: url_view(sd.URL(scope=scope)))
    assert got == want


def test_url_constructor_forms(selected: Any) -> None:
    assert str(URL(scheme="ws", netloc="h:1", path="/p", query="a=1")) == str(
        sd.URL(scheme="ws", netloc="h:1", path="/p", query="a=1")
    )
    for kwargs in (
        {"url": "ws://a", "scope": scope_with()},
        {"scope": scope_with(), "path": "/x"},
        {"url": "ws://a", "path": "/x"},
    ):
        got, want = outcome(URL, **kwargs), outcome(sd.URL, **kwargs)
        assert want[:2] == ("raise", AssertionError)
        assert got == want
    assert URL() == "" == sd.URL()


def test_address_matches_starlette() -> None:
    a, s = Address("127.0.0.1", 5000), sd.Address("127.0.0.1", 5000)
    assert a == s and tuple(a) == tuple(s)
    assert (a.host, a.port) == (s.host, s.port)
    assert repr(a) == repr(s) == "Address(host='127.0.0.1', port=5000)"
    assert Address._fields == sd.Address._fields
    assert fastws.Address is Address and fastws.URL is URL and fastws.State is State


def test_state_matches_starlette() -> None:
    backing: dict[str, Any] = {"pre": 1}
    ours, theirs = State(backing), sd.State(dict(backing))
    for target in (ours, theirs):
        target.x = 1
        target["y"] = 2
        del target.pre
    assert backing == {"x": 1, "y": 2}  # backed by the given dict
    assert dict(theirs._state) == backing
    assert (ours.x, ours["y"], len(ours), list(ours)) == (theirs.x, theirs["y"], len(theirs), list(theirs))
    for action in (
        lambda s: s.missing,
        lambda s: s["missing"],
        lambda s: delattr(s, "missing"),
        lambda s: s.__delitem__("missing"),
    ):
        got, want = outcome(action, ours), outcome(action, theirs)
        assert got == want
    assert outcome(lambda: State().anything) == ("raise", AttributeError, "'State' object has no attribute 'anything'")
    fresh = State()
    fresh.k = "v"
    assert fresh._state == {"k": "v"}


def test_public_datastructures_module_surface() -> None:
    import fastws.datastructures as public

    for name in ("URL", "Address", "Headers", "MutableHeaders", "QueryParams", "State"):
        assert hasattr(public, name) and hasattr(sd, name)
    assert public.Headers is selector.Headers and public.QueryParams is selector.QueryParams
    assert fastws.Headers is public.Headers and fastws.MutableHeaders is public.MutableHeaders
