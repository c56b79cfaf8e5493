"""The WebSocket protocol (RFC 6455, RFC 7692) apart from any ASGI app: close codes and their rules
(``close``), the HTTP pieces of the handshake and of denial responses (``http``), the frame codec
and ``fastws.server``'s uvicorn protocol build on them."""
