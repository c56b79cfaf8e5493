"""The WebSocket protocol (RFC 6455, RFC 7692) apart from any ASGI app: the frame codec (compiled
``_frame_c`` and pure-Python ``_frame_py`` twins, the ``_frame`` selector, ``_frame_types``), close
codes and the one rule for sending them (``close``), the HTTP pieces of handshakes and denial
responses (``http``), the opening handshake's accept key and checks (``handshake``) and
permessage-deflate (``deflate``). ``fastws.server``, uvicorn's ``WebSocketProtocol``, builds on them."""
