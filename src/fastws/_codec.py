"""Selects the compiled ``_codec_c`` kernels, or their pure-Python twin ``_codec_py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["decode_json_bytes", "decode_json_text", "encode_json_bytes", "encode_json_text"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws._codec_py import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
else:
    try:
        from fastws._codec_c import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws._codec_py import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
