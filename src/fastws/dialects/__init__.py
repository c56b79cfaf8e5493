"""Dialects: fastws's compiled WebSocket speaking the API of one framework each.

``fastws.dialects.starlette``, ``.lilya``, ``.yaat`` and ``.micropie`` each export ``WebSocket`` (that
framework's documented class, on fastws's core), its exception classes and state enum (the
framework's own when it is importable, look-alikes otherwise), and ``install()``, which makes the
framework build fastws's class everywhere it builds a WebSocket. See ``docs/dialects.md``.
"""

__all__: list[str] = []
