"""The WebSocket class's shared parts: its state enum (``_state``), exceptions and error factory
(``_errors``) and the checks of events and ``accept`` arguments (``_checks``). The public import
path is ``fastws.websockets``."""
