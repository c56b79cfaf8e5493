"""The one place that decides whether the compiled extensions may be used.

``FASTWS_NO_EXTENSIONS`` set to anything but ``""`` or ``"0"`` forces the pure-Python twins at
run time; on an interpreter other than CPython the twins are always used.
"""

from __future__ import annotations

import os
import platform

__all__ = ["NO_EXTENSIONS"]

NO_EXTENSIONS: bool = os.environ.get("FASTWS_NO_EXTENSIONS", "") not in ("", "0") or (
    platform.python_implementation() != "CPython"
)
