"""Build the optional Cython extensions of fastws.

Environment variables (read at build time):

* ``FASTWS_NO_EXTENSIONS=1``: build no extension; the wheel is pure Python (``py3-none-any``).
* ``FASTWS_REQUIRE_EXTENSIONS=1``: a compile failure is fatal (CI and release wheels set it).
  Without it, a machine with no C compiler still installs the pure-Python twins.
* ``FASTWS_CYTHON_TRACING=1``: compile with ``linetrace`` so coverage can measure the ``.pyx``.
"""

import os
import platform
from pathlib import Path

from setuptools import setup

# Every .pyx under src/fastws is an extension module, named by its path (src/fastws/a/b.pyx ->
# fastws.a.b): derived from the tree, so a new kernel cannot be left out of the build.
EXTENSIONS = sorted(
    ".".join(path.relative_to("src").with_suffix("").parts) for path in Path("src/fastws").rglob("*.pyx")
)


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _extensions():
    if _flag("FASTWS_NO_EXTENSIONS") or platform.python_implementation() != "CPython":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if _flag("FASTWS_REQUIRE_EXTENSIONS"):
            raise
        return []
    from setuptools import Extension

    tracing = _flag("FASTWS_CYTHON_TRACING")
    directives = {
        "language_level": 3,
        "embedsignature": True,
        # Indices in the .pyx are bounded by the loop that produced them; the code that
        # reads offsets from untrusted input checks them explicitly before indexing.
        "boundscheck": False,
        "wraparound": False,
        "cdivision": True,
        # No module-level mutable state in the .pyx (constants only; Cython turns its freelists
        # off on free-threaded builds), so the modules need no GIL.
        "freethreading_compatible": True,
        "linetrace": tracing,
        "profile": tracing,
    }
    macros = [("CYTHON_TRACE_NOGIL", "1")] if tracing else []
    modules = [
        Extension(name, ["src/" + name.replace(".", "/") + ".pyx"], define_macros=macros)
        for name in EXTENSIONS
    ]
    built = cythonize(modules, compiler_directives=directives, quiet=True)
    # cythonize() drops `optional=True`; set it on what it returns.
    for ext in built:
        ext.optional = not _flag("FASTWS_REQUIRE_EXTENSIONS")
    return built


setup(ext_modules=_extensions())
