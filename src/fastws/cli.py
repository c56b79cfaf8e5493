"""The ``fastws`` command line.

``fastws serve [MODULE:APP]`` runs an ASGI app (by default the bundled demo, ``fastws.demo:app``)
under uvicorn, on uvloop when it is installed, with fastws's own compiled WebSocket protocol
(``fastws.server``; ``--ws`` falls back to one of uvicorn's); ``fastws bench ...`` runs the benchmarks of
``fastws.bench``; ``fastws --version`` prints the version and the WebSocket implementation that
loaded. ``python -m fastws`` is the same command.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import platform
import sys
from collections.abc import Sequence

import fastws

__all__ = ["DEFAULT_APP", "WS_PROTOCOLS", "build_parser", "main", "server_banner"]

#: The app ``fastws serve`` runs when none is named.
DEFAULT_APP = "fastws.demo:app"

#: ``--ws`` choices: what uvicorn's ``Config(ws=...)`` gets for each. ``fastws`` is the default.
WS_PROTOCOLS = {
    "fastws": "fastws.server:WebSocketProtocol",
    "auto": "auto",
    "websockets": "websockets",
    "websockets-sansio": "websockets-sansio",
    "wsproto": "wsproto",
}

#: uvicorn's exit status when the server did not start (``uvicorn.server.STARTUP_FAILURE``).
_STARTUP_FAILURE = 3
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
#: The environment variable through which ``--broker`` reaches the app (``fastws.demo.BROKER_ENV``),
#: in this process and in the worker processes it spawns.
_BROKER_ENV = "FASTWS_BROKER"
_BROKER_SCHEMES = ("memory", "redis", "rediss", "unix")


def _version_text() -> str:
    return (
        f"fastws {fastws.__version__} (implementation: {fastws.IMPLEMENTATION}; "
        f"{platform.python_implementation()} {platform.python_version()})"
    )


def _port(text: str) -> int:
    # argparse type for --port: an int in 0..65535 (0 lets the OS pick a free port).
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: not an integer") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}: must be in 0..65535")
    return value


def _workers(text: str) -> int:
    # argparse type for --workers: an int >= 1.
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid worker count {text!r}: not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid worker count {value}: must be at least 1")
    return value


def _broker(text: str) -> str:
    # argparse type for --broker: a URL whose scheme fastws.pubsub knows.
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() not in _BROKER_SCHEMES:
        raise argparse.ArgumentTypeError(f"invalid broker URL {text!r}: expected memory:// or redis://HOST:PORT")
    return text


def build_parser() -> argparse.ArgumentParser:
    """Build the ``fastws`` argument parser.

    Returns:
        argparse.ArgumentParser: the parser for ``fastws`` with the ``serve`` and ``bench``
        subcommands and ``--version``. ``bench`` is listed for ``--help`` only: ``main`` hands
        everything after ``bench`` to ``fastws.bench.main`` without parsing it.

    Raises:
        Nothing.
    """
    parser = argparse.ArgumentParser(
        prog="fastws",
        description="fastws: a Cython-accelerated drop-in replacement for starlette.websockets.WebSocket.",
    )
    parser.add_argument("--version", action="version", version=_version_text())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run an ASGI app under uvicorn (default: the bundled echo demo)",
        description=(
            "Run an ASGI app under uvicorn, on uvloop when it is installed (else asyncio). "
            "Without MODULE:APP it serves the bundled demo: an HTML page on / that talks to a "
            "WebSocket echo on /ws, and chat rooms on /chat/ROOM (see --broker). SIGINT (Ctrl-C) and "
            "SIGTERM shut the server down gracefully."
        ),
    )
    serve.add_argument(
        "app",
        nargs="?",
        default=DEFAULT_APP,
        metavar="MODULE:APP",
        help=f"import string of the ASGI app (default: {DEFAULT_APP})",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="TCP port to bind; 0 picks a free one (default: 8000)")
    serve.add_argument(
        "--workers", type=_workers, default=1, metavar="N", help="number of worker processes (default: 1)"
    )
    serve.add_argument("--log-level", choices=_LOG_LEVELS, default="info", help="uvicorn's log level (default: info)")
    serve.add_argument(
        "--ws",
        choices=sorted(WS_PROTOCOLS),
        default="fastws",
        help=(
            "WebSocket protocol implementation: fastws (fastws.server's compiled RFC 6455 protocol, the "
            "default) or one of uvicorn's own (auto, websockets, websockets-sansio, wsproto) to fall back"
        ),
    )
    serve.add_argument(
        "--broker",
        type=_broker,
        default=None,
        metavar="URL",
        help=(
            "fastws.pubsub broker of the demo's chat rooms: memory:// (one process; the default) or "
            "redis://HOST:PORT[/DB] to share rooms between workers and hosts; exported to the app as "
            f"${_BROKER_ENV}"
        ),
    )

    commands.add_parser(
        "bench",
        add_help=False,
        help="run the fastws benchmarks (all further arguments go to fastws.bench; try 'fastws bench --help')",
    )
    return parser


def _url_host(host: str) -> str:
    # The host as it appears in a URL: an IPv6 address in brackets.
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def server_banner(app: str, host: str, port: int, ws: str = "fastws") -> str:
    """The line ``fastws serve`` prints before serving.

    Args:
        app (str): the import string of the app being served, e.g. ``"fastws.demo:app"``.
        host (str): the bound interface (an IPv6 address is bracketed in the URLs).
        port (int): the bound TCP port (the real one when ``--port 0`` was given).
        ws (str): the ``--ws`` choice (a key of ``WS_PROTOCOLS``), named at the end of the line.

    Returns:
        str: one line naming the fastws version, ``fastws.IMPLEMENTATION`` (``"cython"`` or
        ``"python"``), the app, its ``http://HOST:PORT/`` URL, its WebSocket URL
        (``ws://HOST:PORT/ws`` for the demo, ``ws://HOST:PORT/`` for another app, whose
        WebSocket routes fastws cannot know) and the WebSocket protocol in use.

    Raises:
        Nothing.
    """
    base = f"{_url_host(host)}:{port}"
    ws_path = "/ws" if app == DEFAULT_APP else "/"
    return (
        f"fastws {fastws.__version__} ({fastws.IMPLEMENTATION}) serving {app} "
        f"on http://{base}/ (WebSocket: ws://{base}{ws_path}; protocol: {WS_PROTOCOLS.get(ws, ws)})"
    )


def _serve(args: argparse.Namespace) -> int:
    # `fastws serve`: load the app, bind and listen, print the banner, run uvicorn.
    try:
        import uvicorn
        from uvicorn.importer import ImportFromStringError, import_from_string
    except ImportError as exc:
        print(
            f"fastws serve: uvicorn is not installed ({exc}); install it with: pip install 'fastws[server]'",
            file=sys.stderr,
        )
        return 2

    if args.broker is not None:
        if args.broker.partition("://")[0].lower() != "memory" and importlib.util.find_spec("redis") is None:
            print(
                f"fastws serve: --broker {args.broker} needs redis-py; install it with: pip install 'fastws[redis]'",
                file=sys.stderr,
            )
            return 2
        # Set before the app is imported (here and in each worker process, which inherit it).
        os.environ[_BROKER_ENV] = args.broker

    # Import the app here, so that a bad MODULE:APP is a one-line error before any socket is bound.
    try:
        import_from_string(args.app)
    except ImportFromStringError as exc:
        print(f"fastws serve: cannot load the app {args.app!r}: {exc}", file=sys.stderr)
        return 2

    loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    config = uvicorn.Config(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        loop=loop,
        ws=WS_PROTOCOLS[args.ws],
    )
    server = uvicorn.Server(config)
    try:
        # Bind and listen before printing the banner, so the printed URL is live (and carries the
        # real port when --port 0 picked one). uvicorn's bind_socket logs the error and exits with
        # its startup-failure status (3) when the address is in use.
        sock = config.bind_socket()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else _STARTUP_FAILURE
    try:
        sock.listen(config.backlog)
        print(server_banner(args.app, args.host, sock.getsockname()[1], ws=args.ws), flush=True)
        if config.workers > 1:
            from uvicorn.supervisors import Multiprocess

            # Older uvicorn releases take the worker function as `target`; newer ones build it.
            extra = {"target": server.run} if "target" in inspect.signature(Multiprocess).parameters else {}
            Multiprocess(config, sockets=[sock], **extra).run()  # returns after SIGINT/SIGTERM
            return 0
        # On SIGINT/SIGTERM uvicorn shuts down gracefully, restores the previous handlers and
        # re-raises the signal: SIGINT then arrives here as KeyboardInterrupt (exit status 0), and
        # SIGTERM ends the process by that signal, as plain uvicorn does.
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        return 0 if server.started else 130
    finally:
        sock.close()
    return 0 if server.started else _STARTUP_FAILURE


def _bench(argv: list[str]) -> int:
    # `fastws bench ...`: delegate every argument to fastws.bench.main, imported only now.
    try:
        bench = importlib.import_module("fastws.bench")
    except ImportError as exc:
        if exc.name in ("fastws.bench", None):
            print(
                f"fastws bench: the benchmark module fastws.bench is not available in this installation ({exc}).",
                file=sys.stderr,
            )
        else:
            print(
                f"fastws bench: the benchmarks need the module {exc.name!r}, which is not installed "
                "(try: pip install 'fastws[test]').",
                file=sys.stderr,
            )
        return 2
    bench_main = getattr(bench, "main", None)
    if not callable(bench_main):
        print("fastws bench: fastws.bench has no main(argv) function.", file=sys.stderr)
        return 2
    result = bench_main(list(argv))
    return int(result) if result is not None else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastws`` command line (the ``fastws`` console script and ``python -m fastws``).

    Args:
        argv (Sequence[str] | None): the arguments after the program name; ``None`` means
            ``sys.argv[1:]``.

    Returns:
        int: the exit status. ``0`` on success, including a server stopped with Ctrl-C (SIGINT)
        after a graceful shutdown; ``2`` for a usage error (no command, a bad MODULE:APP, uvicorn
        missing, ``--broker redis://...`` without redis-py, ``fastws.bench`` unavailable); ``3``
        when the server did not start (the address is in use, or the app's lifespan startup
        failed); ``fastws bench`` returns what ``fastws.bench.main`` returns. With one worker, a server
        stopped by SIGTERM shuts down gracefully and then ends by SIGTERM (exit status 143, or
        -15 as ``subprocess`` reports it), as plain uvicorn does, so this does not return; with
        ``--workers`` above 1, SIGTERM stops the workers and returns ``0``.

    Raises:
        SystemExit: from argparse for ``--help``, ``--version`` (status 0) and invalid arguments
            (status 2), as argparse does.

    Source: uvicorn's ``Config``/``Server``/``Multiprocess`` API (``uvicorn.main.run`` does the
    same steps); ``fastws.bench.main(argv: list[str]) -> int`` for ``bench``.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "bench":
        return _bench(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command == "serve":
        return _serve(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover - `python -m fastws.cli`
    raise SystemExit(main())
