"""``Host`` header parsing (RFC 9110 section 7.2), shared by both twins of the URL kernel.

Source: ``starlette._utils.parse_host_header`` (1.10.0).
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

__all__ = ["ParsedHost", "parse_host_header"]

# Reject characters that could make a Host header change the URL path or authority.
_HOST_RE = re.compile(
    r"^(?P<host>[a-z0-9._~%!$&'()*+,;=-]+|\[(?:(?P<ipv6>[a-f0-9]*:[a-f0-9.:]+)|"
    r"(?-i:v)[a-f0-9]+\.[a-z0-9._~!$&'()*+,;=:-]+)\])(?::(?P<port>[0-9]+))?$",
    re.IGNORECASE,
)


class ParsedHost(NamedTuple):
    """A ``Host`` header split into host (brackets kept around IP literals) and port text."""

    host: str
    port: str | None

    @property
    def authority(self) -> str:
        """str: ``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def is_valid_port(self) -> bool:
        """bool: no port, or a port of at most 5 digits (leading zeros aside) up to 65535."""
        if self.port is None:
            return True
        port = self.port.lstrip("0")
        return len(port) <= 5 and int(port or "0") <= 65535


def parse_host_header(host_header: str | None) -> ParsedHost | None:
    """Parse a ``Host`` header value (RFC 9110 section 7.2).

    Args:
        host_header (str | None): the header value decoded as latin-1, or ``None``.

    Returns:
        ParsedHost | None: ``None`` for a missing or invalid header (one that could change the URL's
        path or authority, or a malformed IPv6 literal).

    Source: ``starlette._utils.parse_host_header`` (1.10.0).
    """
    if host_header is None:
        return None
    match = _HOST_RE.fullmatch(host_header)
    if match is None:
        return None
    ipv6 = match["ipv6"]
    if ipv6 is not None:
        try:
            ipaddress.IPv6Address(ipv6)
        except ipaddress.AddressValueError:
            return None
    return ParsedHost(match["host"], match["port"])
