"""The WebSocket class (public import path: ``fastws.websockets``): the compiled ``_core_c`` and
pure-Python ``_core_py`` twins and the selector ``_core`` that picks one; their shared parts, the
state enum (``_state``), the exceptions and error factory (``_errors``), the checks of events and
``accept`` arguments (``_checks``) and the session/``url_for`` helpers (``_connection``)."""
