"""Temporary alias of ``fastws.datastructures._core``
(issue 16 moves the modules; removed once every importer moved)."""

from fastws.datastructures._core import *  # noqa: F403
from fastws.datastructures._core import __all__ as __all__
