"""Selects the compiled ``_json_c`` kernels, or their pure-Python twin ``_json_py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["decode_json_bytes", "decode_json_text", "encode_json_bytes", "encode_json_text"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws.codec._json_py import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
else:
    try:
        from fastws.codec._json_c import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws.codec._json_py import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
