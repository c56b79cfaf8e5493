"""Selects the compiled ``_frame_c`` codec, or its pure-Python twin ``_frame_py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["FrameParser", "apply_mask", "close_payload", "encode_frame", "encode_text", "parse_close"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws.protocol._frame_py import FrameParser, apply_mask, close_payload, encode_frame, encode_text, parse_close
else:
    try:
        from fastws.protocol._frame_c import (
            FrameParser,
            apply_mask,
            close_payload,
            encode_frame,
            encode_text,
            parse_close,
        )
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws.protocol._frame_py import (
            FrameParser,
            apply_mask,
            close_payload,
            encode_frame,
            encode_text,
            parse_close,
        )
