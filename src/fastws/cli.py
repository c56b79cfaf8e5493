"""The ``fastws`` command line.

``fastws serve [MODULE:APP] [UVICORN OPTIONS]`` is uvicorn's own command line (``uvicorn.main``,
every option of the installed uvicorn, with uvicorn's names, types, defaults and ``UVICORN_*``
environment variables) with fastws's defaults: ``--ws fastws.server:WebSocketProtocol`` (fastws's
compiled WebSocket protocol; ``--ws auto|websockets|websockets-sansio|wsproto|none`` or any import
string falls back to another), ``--loop auto`` (uvloop when installed, as uvicorn does), the bundled
demo (``fastws.demo:app``) when no app is named, and one option of its own, ``--broker URL`` for the
demo's chat rooms. It prints one banner line (version, implementation, app, live URL, WebSocket
protocol) once the socket listens. ``fastws bench ...`` runs the benchmarks of ``fastws.bench``;
``fastws --version`` prints the version and the WebSocket implementation that loaded.
``python -m fastws`` is the same command.
"""

from __future__ import annotations

import argparse
import copy
import functools
import importlib
import importlib.util
import inspect
import os
import platform
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from unittest import mock

import fastws

if TYPE_CHECKING:
    import click

__all__ = [
    "DEFAULT_APP",
    "FASTWS_WS",
    "WS_PROTOCOLS",
    "build_parser",
    "main",
    "serve_command",
    "server_banner",
    "uvicorn_run_arguments",
]

#: The app ``fastws serve`` runs when none is named.
DEFAULT_APP = "fastws.demo:app"

#: fastws's own WebSocket protocol for uvicorn, ``fastws serve``'s default ``--ws``.
FASTWS_WS = "fastws.server:WebSocketProtocol"

#: Short ``--ws`` names and what uvicorn's ``Config(ws=...)`` gets for each. Any other value goes
#: to uvicorn unchanged (uvicorn's own names such as ``none``, or an import string).
WS_PROTOCOLS = {
    "fastws": FASTWS_WS,
    "auto": "auto",
    "websockets": "websockets",
    "websockets-sansio": "websockets-sansio",
    "wsproto": "wsproto",
}

#: uvicorn's exit status when the server did not start (``uvicorn.server.STARTUP_FAILURE``).
_STARTUP_FAILURE = 3
#: The environment variable through which ``--broker`` reaches the app (``fastws.demo.BROKER_ENV``),
#: in this process and in the worker processes it spawns.
_BROKER_ENV = "FASTWS_BROKER"
_BROKER_SCHEMES = ("memory", "redis", "rediss", "unix")
_SERVE_HELP = (
    "Run an ASGI app under uvicorn with fastws's own WebSocket protocol. Every option is uvicorn's "
    "(this is uvicorn's command line, with the same names, defaults and UVICORN_* environment "
    "variables) except: --ws defaults to fastws.server:WebSocketProtocol, MODULE:APP defaults to "
    f"the bundled demo ({DEFAULT_APP}: a page on /, a WebSocket echo on /ws, chat rooms on "
    "/chat/ROOM), and --broker configures the demo's chat rooms. SIGINT (Ctrl-C) and SIGTERM shut "
    "the server down gracefully; open WebSockets are closed with code 1012."
)


def _version_text() -> str:
    return (
        f"fastws {fastws.__version__} (implementation: {fastws.IMPLEMENTATION}; "
        f"{platform.python_implementation()} {platform.python_version()})"
    )


def _broker(text: str) -> str:
    # The --broker check: a URL whose scheme fastws.pubsub knows. ValueError otherwise.
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() not in _BROKER_SCHEMES:
        raise ValueError(f"invalid broker URL {text!r}: expected memory:// or redis://HOST:PORT")
    return text


def _argparse_broker(text: str) -> str:
    try:
        return _broker(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level ``fastws`` argument parser (``--version``, ``--help`` and the commands).

    Returns:
        argparse.ArgumentParser: the parser for ``fastws``. Its ``serve`` subcommand declares only
        fastws's own arguments (``MODULE:APP`` and ``--broker URL``, checked as ``serve_command``
        checks them) for ``fastws --help`` and for callers that validate those two; ``main``
        hands ``serve``'s arguments to ``serve_command()`` (uvicorn's options) and ``bench``'s
        to ``fastws.bench.main``, without parsing them here.

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
        add_help=False,
        help=(
            "run an ASGI app under uvicorn with fastws's WebSocket protocol (default: the bundled demo); "
            "takes every uvicorn option (try 'fastws serve --help')"
        ),
    )
    serve.add_argument("app", nargs="?", default=DEFAULT_APP, metavar="MODULE:APP")
    serve.add_argument("--broker", type=_argparse_broker, default=None, metavar="URL")
    commands.add_parser(
        "bench",
        add_help=False,
        help="run the fastws benchmarks (all further arguments go to fastws.bench; try 'fastws bench --help')",
    )
    return parser


def _url_host(host: str) -> str:
    # The host as it appears in a URL: an IPv6 address in brackets.
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def server_banner(
    app: str, host: str, port: int, ws: str = "fastws", *, tls: bool = False, uds: str | None = None
) -> str:
    """The line ``fastws serve`` prints once its socket listens.

    Args:
        app (str): the import string of the app being served, e.g. ``"fastws.demo:app"``.
        host (str): the bound interface (an IPv6 address is bracketed in the URLs).
        port (int): the bound TCP port (the real one when ``--port 0`` was given).
        ws (str): the ``--ws`` value: a key of ``WS_PROTOCOLS`` (named by what it stands for) or
            anything else uvicorn takes (named as given).
        tls (bool): whether the server speaks TLS (``--ssl-certfile``): ``https``/``wss`` URLs.
        uds (str | None): the UNIX domain socket path (``--uds``); then ``host`` and ``port`` are
            not used and the line names ``unix:PATH`` instead of URLs.

    Returns:
        str: one line naming the fastws version, ``fastws.IMPLEMENTATION`` (``"cython"`` or
        ``"python"``), the app, where it listens (``http://HOST:PORT/`` and its WebSocket URL:
        ``ws://HOST:PORT/ws`` for the demo, ``ws://HOST:PORT/`` for another app, whose
        WebSocket routes fastws cannot know; or ``unix:PATH``) and the WebSocket protocol in use.

    Raises:
        Nothing.
    """
    protocol = WS_PROTOCOLS.get(ws, ws)
    head = f"fastws {fastws.__version__} ({fastws.IMPLEMENTATION}) serving {app}"
    if uds is not None:
        return f"{head} on unix:{uds} (protocol: {protocol})"
    base = f"{_url_host(host)}:{port}"
    ws_path = "/ws" if app == DEFAULT_APP else "/"
    http, wss = ("https", "wss") if tls else ("http", "ws")
    return f"{head} on {http}://{base}/ (WebSocket: {wss}://{base}{ws_path}; protocol: {protocol})"


@functools.lru_cache(maxsize=1)
def serve_command() -> click.Command:
    """The ``fastws serve`` command: uvicorn's ``click`` command line with fastws's defaults.

    Built from the installed uvicorn's ``uvicorn.main`` command: each of its parameters is copied
    (names, types, help, ``UVICORN_*`` environment variables via its ``auto_envvar_prefix``), with
    these changes: the ``APP`` argument is optional and defaults to ``DEFAULT_APP`` (still read
    from ``$UVICORN_APP``); ``--ws`` defaults to ``FASTWS_WS`` and also takes the short name
    ``fastws``; ``--port`` is checked to lie in 0..65535; ``--broker URL`` is added. Running it
    maps the parameters to ``uvicorn.run`` keyword arguments exactly as uvicorn's command does
    (``uvicorn_run_arguments``), then serves as ``uvicorn.run`` does, binding first so that the
    banner (``server_banner``) names the real, listening address.

    Returns:
        click.Command: the command, named ``serve``. Call ``serve_command().main(args,
        prog_name="fastws serve", standalone_mode=False)`` or go through ``main``.

    Raises:
        ImportError: uvicorn (hence click) is not installed.

    Source: uvicorn's command line (``uvicorn.main``, uvicorn docs "Settings" page) and
    ``uvicorn.run``; click's ``Command``/``Parameter`` API (click 8 docs, API page).
    """
    import click
    from uvicorn.main import main as uvicorn_main

    params: list[click.Parameter] = []
    for param in uvicorn_main.params:
        if param.name == "app":
            params.append(
                click.Argument(
                    ["app"], required=False, default=DEFAULT_APP, envvar="UVICORN_APP", metavar="[MODULE:APP]"
                )
            )
            continue
        param = copy.copy(param)
        if param.name == "ws":
            param.default = FASTWS_WS
            if isinstance(param, click.Option):
                param.help = (
                    "WebSocket protocol implementation: fastws.server:WebSocketProtocol (or 'fastws', the default) "
                    "or one of uvicorn's (auto, websockets, websockets-sansio, wsproto, none) or an import string."
                )
                param.metavar = "[fastws|auto|websockets|websockets-sansio|wsproto|none|MODULE:CLASS]"
        elif param.name == "port":
            param.type = click.IntRange(0, 65535)
        elif param.name == "version" and isinstance(param, click.Option):
            param.callback = _print_versions
            param.help = "Display the fastws and uvicorn versions and exit."
        params.append(param)

    def check_broker(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return _broker(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    params.append(
        click.Option(
            ["--broker"],
            default=None,
            metavar="URL",
            callback=check_broker,
            help=(
                "fastws.pubsub broker of the demo's chat rooms: memory:// (one process; the default) or "
                "redis://HOST:PORT[/DB] to share rooms between workers and hosts; exported to the app as "
                f"${_BROKER_ENV}."
            ),
        )
    )
    return click.Command(
        "serve",
        params=params,
        callback=_serve,
        help=_SERVE_HELP,
        context_settings=dict(uvicorn_main.context_settings),
    )


def _print_versions(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # `fastws serve --version`: fastws's line, then uvicorn's own (its --version callback).
    import click

    if not value or ctx.resilient_parsing:
        return
    click.echo(_version_text())
    try:
        from uvicorn.main import print_version
    except ImportError:  # pragma: no cover - a uvicorn without it
        ctx.exit()
    print_version(ctx, param, value)


def uvicorn_run_arguments(**params: Any) -> tuple[str, dict[str, Any]]:
    """The ``uvicorn.run`` arguments uvicorn's own command line makes of its parsed parameters.

    Calls the callback of ``uvicorn.main`` (the function behind the ``uvicorn`` command) with
    ``uvicorn.run`` replaced by a recorder, so that the mapping (``--header`` split into pairs,
    the default logging configuration, empty ``--reload-dir`` lists as ``None``, ...) is uvicorn's
    own, for whichever uvicorn is installed.

    Args:
        **params (Any): one keyword per parameter of ``uvicorn.main`` (``app``, ``host``, ...), as
            click parsed them.

    Returns:
        tuple[str, dict[str, Any]]: the app's import string and the keyword arguments for
        ``uvicorn.run``.

    Raises:
        RuntimeError: the installed uvicorn's command did not call ``uvicorn.run``.
        TypeError: a parameter that uvicorn's command does not take.
    """
    # The module (the package's attribute ``uvicorn.main`` is the command, not the module).
    module = importlib.import_module("uvicorn.main")
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    callback = module.main.callback
    with mock.patch.object(module, "run", record):
        callback(**params)
    if len(calls) != 1 or len(calls[0][0]) != 1:
        raise RuntimeError("uvicorn's command line did not call uvicorn.run(app, **settings) once")
    (app,), kwargs = calls[0]
    return app, kwargs


def _exit(code: int) -> None:
    # Leave the click command with an exit status (click turns click.exceptions.Exit into it).
    import click

    raise click.exceptions.Exit(code)


def _serve(**params: Any) -> None:
    # `fastws serve`: fastws's defaults, then uvicorn.run's steps with a bind before the banner.
    import click
    import uvicorn
    from uvicorn.config import WS_PROTOCOLS as UVICORN_WS
    from uvicorn.importer import ImportFromStringError, import_from_string

    broker = params.pop("broker")
    if broker is not None:
        if broker.partition("://")[0].lower() != "memory" and importlib.util.find_spec("redis") is None:
            click.echo(
                f"fastws serve: --broker {broker} needs redis-py; "
                "install redis-py (fastws's redis extra: pip install 'redis>=5.0.1')",
                err=True,
            )
            _exit(2)
        # Set before the app is imported (here and in each worker process, which inherit it).
        os.environ[_BROKER_ENV] = broker

    ws_name = params["ws"]
    params["ws"] = WS_PROTOCOLS.get(ws_name, ws_name)
    if params["ws"] not in UVICORN_WS:
        try:
            import_from_string(params["ws"])
        except ImportFromStringError as exc:
            raise click.BadParameter(f"cannot load the WebSocket protocol {ws_name!r}: {exc}", param_hint="'--ws'")

    app, kwargs = uvicorn_run_arguments(**params)
    # From here on, the steps of uvicorn.run(app, **kwargs), with the socket bound first.
    app_dir = kwargs.pop("app_dir", None)
    if app_dir is not None:
        sys.path.insert(0, app_dir)
    config = uvicorn.Config(app, **kwargs)  # loads --env-file, configures logging
    if not config.should_reload:
        # Import the app now, so that a bad MODULE:APP is a one-line error before any socket is
        # bound (the reloader imports it in its worker only, as uvicorn's does).
        try:
            import_from_string(app)
        except ImportFromStringError as exc:
            click.echo(f"fastws serve: cannot load the app {app!r}: {exc}", err=True)
            _exit(2)
    server = uvicorn.Server(config)
    try:
        # Bind and listen before printing the banner, so the printed URL is live (and carries the
        # real port when --port 0 picked one). uvicorn's bind_socket logs the error and exits with
        # its startup-failure status (3) when the address is in use.
        sock = config.bind_socket()
    except SystemExit as exc:
        _exit(exc.code if isinstance(exc.code, int) else _STARTUP_FAILURE)
    status = 0
    try:
        sock.listen(config.backlog)
        name = sock.getsockname()  # (host, port[, ...]) for TCP, a path for a UNIX socket
        if isinstance(name, tuple):
            host = config.host if config.fd is None else str(name[0])
            banner = server_banner(app, host, int(name[1]), ws_name, tls=config.is_ssl)
        else:
            banner = server_banner(app, "", 0, ws_name, uds=config.uds or str(name))
        click.echo(banner)
        sys.stdout.flush()
        if config.should_reload:
            from uvicorn.supervisors import ChangeReload

            ChangeReload(config, target=server.run, sockets=[sock]).run()
        elif config.workers > 1:
            from uvicorn.supervisors import Multiprocess

            # Older uvicorn releases take the worker function as `target`; newer ones build it.
            extra = {"target": server.run} if "target" in inspect.signature(Multiprocess).parameters else {}
            Multiprocess(config, sockets=[sock], **extra).run()  # returns after SIGINT/SIGTERM
        else:
            # On SIGINT/SIGTERM uvicorn shuts down gracefully, restores the previous handlers and
            # re-raises the signal: SIGINT then arrives here as KeyboardInterrupt (exit status 0),
            # and SIGTERM ends the process by that signal, as plain uvicorn does.
            server.run(sockets=[sock])
            status = 0 if server.started else _STARTUP_FAILURE
    except KeyboardInterrupt:
        status = 0 if server.started or config.should_reload or config.workers > 1 else 130
    finally:
        sock.close()
        if config.uds and os.path.exists(config.uds):
            os.remove(config.uds)
    if status:
        _exit(status)


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
                "(install fastws's bench extra; see README.md, Installing).",
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
        after a graceful shutdown, and ``fastws serve --help``/``--version`` (uvicorn's); ``2``
        for a usage error (no command, a bad MODULE:APP or ``--ws`` protocol, uvicorn missing,
        ``--broker redis://...`` without redis-py, ``fastws.bench`` unavailable); ``3`` when the
        server did not start (the address is in use, or the app's lifespan startup failed);
        ``fastws bench`` returns what ``fastws.bench.main`` returns. With one worker, a server
        stopped by SIGTERM shuts down gracefully and then ends by SIGTERM (exit status 143, or
        -15 as ``subprocess`` reports it), as plain uvicorn does, so this does not return; with
        ``--workers`` above 1 or ``--reload``, SIGTERM stops the workers and returns ``0``.

    Raises:
        SystemExit: from argparse for ``fastws --help``, ``fastws --version`` (status 0) and an
            unknown command (status 2); for ``fastws serve``, status 2 for an invalid option
            value (click's message, e.g. ``--port 70000``); any status uvicorn exits with (e.g. 1
            when a worker cannot load the app).

    Source: uvicorn's command line and ``uvicorn.run`` (uvicorn docs, "Settings" and
    "Deployment" pages; ``fastws serve`` follows the installed uvicorn's); ``fastws.bench.main
    (argv: list[str]) -> int`` for ``bench``.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "bench":
        return _bench(args_list[1:])
    if args_list and args_list[0] == "serve":
        return _serve_main(args_list[1:])
    parser = build_parser()
    parser.parse_args(args_list)  # --help, --version, or an unknown command (SystemExit)
    parser.print_help(sys.stderr)
    return 2


def _serve_main(argv: list[str]) -> int:
    # `fastws serve ...`: uvicorn's command line (serve_command), exit statuses as documented in main.
    try:
        command = serve_command()
    except ImportError as exc:
        print(
            f"fastws serve: uvicorn is not installed ({exc}); "
            "install fastws's server extra (see README.md, Installing)",
            file=sys.stderr,
        )
        return 2
    import click

    try:
        result = command.main(argv, prog_name="fastws serve", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.Abort:
        raise SystemExit(1) from None
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover - `python -m fastws.cli`
    raise SystemExit(main())
