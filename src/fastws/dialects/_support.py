"""Helpers shared by the dialect modules: building a dialect class over either implementation of
the core, and swapping a framework's WebSocket class for it in the modules that imported it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["cached_build", "import_optional", "replace_everywhere"]


def import_optional(name: str, errors: tuple[type[BaseException], ...] = (ImportError,)) -> Any:
    """The module ``name``, or ``None`` when it (or one of its dependencies) is not installed.

    Args:
        name (str): the dotted module name.
        errors (tuple[type[BaseException], ...]): what importing it raises when an optional
            dependency is missing; default ``(ImportError,)``. Test clients need more:
            ``starlette.testclient`` (1.10.0) raises ``RuntimeError`` when its HTTP client
            (``httpx2``) is not installed, as in a production install.

    Returns:
        ModuleType | None: the module, or ``None`` when importing it raised one of ``errors``.
    """
    try:
        return importlib.import_module(name)
    except errors:
        return None


def cached_build(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wraps a ``build(base) -> class`` function so each core class (compiled or pure) gets one
    dialect class, and ``build(base) is build(base)``."""
    cache: dict[Any, Any] = {}

    def cached(base: Any) -> Any:
        cls = cache.get(base)
        if cls is None:
            cls = cache[base] = build(base)
        return cls

    cached.__doc__ = build.__doc__
    cached.__name__ = build.__name__
    return cached


def replace_everywhere(prefixes: Iterable[str], original: Any, replacement: Any, names: Iterable[str]) -> list[str]:
    """Rebinds, in every loaded module named ``prefix`` or ``prefix.*``, each global in ``names``
    that is ``original`` to ``replacement``.

    Args:
        prefixes: top-level package names (``"starlette"``, ``"fastapi"``).
        original: the framework's class.
        replacement: fastws's dialect class.
        names: the global names to look at (``"WebSocket"``).

    Returns:
        list[str]: ``"module.name"`` for each rebinding made (empty when already installed).
    """
    done = []
    prefixes = tuple(prefixes)
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name in prefixes or module_name.startswith(tuple(p + "." for p in prefixes))):
            continue
        namespace = getattr(module, "__dict__", None)
        if namespace is None:
            continue
        for name in names:
            if namespace.get(name) is original:
                namespace[name] = replacement
                done.append(f"{module_name}.{name}")
    return done
