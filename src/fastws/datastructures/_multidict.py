"""Pieces of the header and query-parameter multidicts that are not hot, shared by both twins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MutableHeadersMixin", "multidict_items"]


def multidict_items(value: Any, kwargs: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """The ``(key, value)`` pairs of a multidict's constructor arguments.

    Args:
        value: a multidict (anything with ``multi_items()``), a mapping, or an iterable of pairs.
        kwargs (Mapping): more pairs, appended after ``value``'s.

    Returns:
        list[tuple]: the pairs, in order, duplicates kept.

    Raises:
        TypeError, ValueError: ``value`` is not iterable, or an item is not a pair.

    Source: ``starlette.datastructures.ImmutableMultiDict.__init__`` (1.10.0).
    """
    if kwargs:
        value = multidict_items(value, {}) + multidict_items(kwargs, {})
    if not value:
        return []
    if hasattr(value, "multi_items"):
        return list(value.multi_items())
    if hasattr(value, "items"):
        return list(value.items())
    return list(value)


class MutableHeadersMixin:
    """The mutating half of ``MutableHeaders``; combined with either twin's ``Headers``.

    Keys are lower-cased and encoded as latin-1, values encoded as latin-1 (so a character beyond
    U+00FF raises ``UnicodeEncodeError``).

    Source: ``starlette.datastructures.MutableHeaders`` (1.10.0).
    """

    _list: list[tuple[bytes, bytes]]

    def __setitem__(self, key: str, value: str) -> None:
        """Set the header ``key`` to ``value``, removing any duplicate entries; order is kept."""
        set_key = key.lower().encode("latin-1")
        set_value = value.encode("latin-1")
        found = [idx for idx, (item_key, _) in enumerate(self._list) if item_key == set_key]
        for idx in reversed(found[1:]):
            del self._list[idx]
        if found:
            self._list[found[0]] = (set_key, set_value)
        else:
            self._list.append((set_key, set_value))

    def __delitem__(self, key: str) -> None:
        """Remove every ``key`` header (no error when there is none)."""
        del_key = key.lower().encode("latin-1")
        self._list[:] = [item for item in self._list if item[0] != del_key]

    def __ior__(self, other: Mapping[str, str]) -> Any:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> Any:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()  # type: ignore[attr-defined]
        new.update(other)
        return new

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """list[tuple[bytes, bytes]]: the live list of raw header pairs (not a copy)."""
        return self._list

    def setdefault(self, key: str, value: str) -> str:
        """Set ``key`` to ``value`` unless present; return the header's value."""
        set_key = key.lower().encode("latin-1")
        set_value = value.encode("latin-1")
        for item_key, item_value in self._list:
            if item_key == set_key:
                return item_value.decode("latin-1")
        self._list.append((set_key, set_value))
        return value

    def update(self, other: Mapping[str, str]) -> None:
        """Set every header of ``other`` (each replacing its duplicates)."""
        for key, val in other.items():
            self[key] = val

    def append(self, key: str, value: str) -> None:
        """Append a header, keeping any existing ones of the same name."""
        self._list.append((key.lower().encode("latin-1"), value.encode("latin-1")))

    def add_vary_header(self, vary: str) -> None:
        """Add ``vary`` to the comma-separated ``Vary`` header."""
        self["vary"] = ", ".join([*self.getlist("vary"), vary])  # type: ignore[attr-defined]
