"""Temporary alias of ``fastws.codec._backend`` (issue 16 moves the modules; removed once every importer moved)."""

from fastws.codec._backend import *  # noqa: F403
from fastws.codec._backend import __all__ as __all__
