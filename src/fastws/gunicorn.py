"""gunicorn workers that run uvicorn with fastws's own WebSocket protocol.

``gunicorn -k fastws.gunicorn.UvicornWorker -w 4 -b 0.0.0.0:8000 myapp:app`` runs ``myapp:app``
in 4 uvicorn worker processes managed by gunicorn, each serving WebSockets with
``fastws.server.WebSocketProtocol`` (the compiled RFC 6455 protocol) on uvloop when it is
installed. The workers are those of the ``uvicorn-worker`` package (the home of uvicorn's
gunicorn workers since uvicorn 0.30 deprecated ``uvicorn.workers``), with ``ws`` set; install
them with this project's ``gunicorn`` extra (``pip install ".[gunicorn]"`` in a checkout; README, "Installing").

gunicorn's signals keep their meaning: SIGTERM to the arbiter (graceful shutdown) and SIGHUP
(reload: new workers, then the old ones are stopped gracefully) make each stopping worker close
its open WebSockets with code 1012 (service restart), as uvicorn's own protocols do, and end
after its app tasks; gunicorn's ``--graceful-timeout`` bounds that. uvicorn settings gunicorn
has no flag for (``ws_max_size``, ``ws_ping_interval``...) are set in a subclass::

    class Worker(fastws.gunicorn.UvicornWorker):
        CONFIG_KWARGS = {**fastws.gunicorn.UvicornWorker.CONFIG_KWARGS, "ws_max_size": 1 << 20}

Source: uvicorn-worker 0.4 (``uvicorn_worker.UvicornWorker.CONFIG_KWARGS``), uvicorn docs
"Deployment" page (gunicorn), gunicorn docs "Signal Handling" page.
"""

from __future__ import annotations

from typing import Any

try:
    from uvicorn_worker import UvicornH11Worker as _UvicornH11Worker
    from uvicorn_worker import UvicornWorker as _UvicornWorker
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        f"fastws.gunicorn needs gunicorn and uvicorn-worker ({exc}); "
        "install them with fastws's gunicorn extra (pip install gunicorn uvicorn-worker)"
    ) from exc

__all__ = ["FASTWS_WS", "UvicornH11Worker", "UvicornWorker"]

#: uvicorn's ``ws`` setting for fastws's own protocol (the import string of ``fastws.server.WebSocketProtocol``).
FASTWS_WS = "fastws.server:WebSocketProtocol"


class UvicornWorker(_UvicornWorker):
    """gunicorn worker class: uvicorn with fastws's WebSocket protocol (``-k fastws.gunicorn.UvicornWorker``).

    ``CONFIG_KWARGS`` (dict[str, Any]) are the extra ``uvicorn.Config`` keyword arguments:
    ``loop="auto"`` (uvloop when installed, else asyncio), ``http="auto"`` (httptools when
    installed, else h11) and ``ws=FASTWS_WS``; gunicorn's own settings (bind, keepalive,
    timeout, TLS, backlog, forwarded_allow_ips...) are mapped by ``uvicorn_worker.UvicornWorker``.
    Built by gunicorn's arbiter; not meant to be instantiated by hand.

    Raises:
        ImportError: at import of ``fastws.gunicorn``, when gunicorn or uvicorn-worker is
            missing.
    """

    CONFIG_KWARGS: dict[str, Any] = {**_UvicornWorker.CONFIG_KWARGS, "loop": "auto", "ws": FASTWS_WS}


class UvicornH11Worker(_UvicornH11Worker):
    """gunicorn worker class on pure-Python parts: the asyncio loop, h11 for HTTP, fastws's
    WebSocket protocol (``-k fastws.gunicorn.UvicornH11Worker``), for platforms without uvloop or
    httptools (PyPy, for instance), as ``uvicorn_worker.UvicornH11Worker`` is for uvicorn.

    ``CONFIG_KWARGS`` (dict[str, Any]): ``loop="asyncio"``, ``http="h11"``, ``ws=FASTWS_WS``.
    """

    CONFIG_KWARGS: dict[str, Any] = {**_UvicornH11Worker.CONFIG_KWARGS, "ws": FASTWS_WS}
