"""The ``fastws bench`` command line (also ``python -m fastws.bench``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
Measure fastws against starlette.websockets.WebSocket on this machine.

The default run (about a minute, no arguments needed) is the micro suite: every operation in four
variants (fastws compiled, fastws pure-Python, Starlette, and the raw-ASGI floor) over in-memory
receive/send, interleaved round-robin, reported as median ns/op and as ratios measured in the same
run. --e2e runs echo servers under uvicorn+uvloop instead and drives them over loopback from a
separate load-client process. --connections N (without --e2e) holds N idle WebSockets on one
uvicorn worker, for uvicorn's default protocol and fastws.server in the same run, and reports
memory per connection, handshakes/s, echo latency and idle CPU. --broadcast measures fan-out to
many in-memory connections; --broadcast --e2e measures it over real sockets (a server holding
1,000 client connections).
"""

_EPILOG = """\
Read the ratios, not the absolute times: they are measured side by side in one run, so a noisy or
slow machine moves every variant alike. "speedup" is Starlette's time over fastws's (higher is
better); "c/floor" is fastws-c's time over the raw-ASGI app's (1.00x is the least possible).
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fastws bench``."""
    from fastws.bench._e2e import APPS, OPT_IN_APPS
    from fastws.bench._e2e_client import CLIENTS

    parser = argparse.ArgumentParser(
        prog="fastws bench",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    suites = parser.add_argument_group("suites")
    suites.add_argument("--e2e", action="store_true", help="run the end-to-end suite (uvicorn servers, loopback)")
    suites.add_argument("--micro", action="store_true", help="with --e2e or --broadcast: run the micro suite too")
    suites.add_argument(
        "--broadcast",
        action="store_true",
        help="run the broadcast suite (fastws.broadcast() vs a Starlette send_text loop, in memory; "
        "with --e2e: over loopback, a server holding --broadcast-connections picows client connections)",
    )
    suites.add_argument(
        "--idle",
        action="store_true",
        help="run the idle-connections suite (same as --connections N without --e2e; N defaults to 10,000)",
    )
    suites.add_argument("--list", action="store_true", help="list the micro operations and exit")
    suites.add_argument(
        "--quick", action="store_true", help="a tiny run to check that everything works (numbers are rough)"
    )
    micro = parser.add_argument_group("micro suite")
    micro.add_argument(
        "--only", metavar="KEY[,KEY...]", help="measure only these operations (keys from --list; substrings match)"
    )
    micro.add_argument("--rounds", type=_positive_int, help="interleaved rounds per operation (default 120; quick 3)")
    micro.add_argument(
        "--batch-ms", type=_positive_float, help="duration of one timed batch in ms (default 3; quick 0.3)"
    )
    e2e = parser.add_argument_group("end-to-end suite")
    e2e.add_argument("--duration", type=_positive_float, help="seconds of load per app, mode and round (default 1.5)")
    e2e.add_argument("--e2e-rounds", type=_positive_int, help="interleaved rounds (default 5; quick 1)")
    e2e.add_argument(
        "--apps",
        metavar="APP[,APP...]",
        help=f"echo servers to run (default: {', '.join(a for a in APPS if a not in OPT_IN_APPS)}; also "
        f"{', '.join(sorted(OPT_IN_APPS))}: fastws.server under the pure-Python twins)",
    )
    e2e.add_argument(
        "--connections",
        type=_positive_int,
        metavar="N",
        help="with --e2e: client connections (default 16); otherwise: run the idle-connections suite with N "
        "connections (default 10,000; capped at one process's descriptor limit)",
    )
    e2e.add_argument("--message-bytes", type=_positive_int, default=64, help="echoed text size (default 64)")
    e2e.add_argument(
        "--client",
        choices=("auto", *CLIENTS),
        default="auto",
        help="load client (default: first of picows, aiohttp, websockets)",
    )
    e2e.add_argument("--no-pin", action="store_true", help="do not pin the servers and the client to separate CPUs")
    idle = parser.add_argument_group("idle-connections suite (--connections N / --idle)")
    idle.add_argument("--deflate", action="store_true", help="offer permessage-deflate on every connection")
    idle.add_argument(
        "--ws",
        metavar="WS[,WS...]",
        help="uvicorn --ws protocols to measure, 'fastws' for fastws.server (default: auto,fastws)",
    )
    idle.add_argument(
        "--ping-interval", type=_positive_float, default=2.0, help="server keepalive pings, s (default 2)"
    )
    idle.add_argument(
        "--idle-seconds", type=_positive_float, default=6.0, help="idle window for the CPU figure, s (default 6)"
    )
    idle.add_argument(
        "--profile", action="store_true", help="list the largest Python allocation sites per idle connection"
    )
    fan = parser.add_argument_group("broadcast suite")
    fan.add_argument("--broadcast-connections", type=_positive_int, default=1000, help="connections (default 1000)")
    fan.add_argument(
        "--broadcast-rounds", type=_positive_int, help="interleaved rounds (default 15, with --e2e 1; quick 2, 1)"
    )
    fan.add_argument(
        "--broadcast-count",
        type=_positive_int,
        help="with --e2e: messages per payload, each to every connection (default 200; quick 20)",
    )
    fan.add_argument(
        "--broadcast-burst",
        type=_positive_int,
        default=10,
        help="with --e2e: broadcasts per event-loop iteration of the publisher (default 10)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="FILE", help="write every figure as JSON to FILE ('-' for stdout)")
    output.add_argument("--plot", metavar="FILE.png", help="draw the ratios as bar charts (needs matplotlib)")
    output.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def _select(only: str | None) -> Any:
    from fastws.bench.workloads import OPERATIONS

    if not only:
        return OPERATIONS
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    chosen = tuple(op for op in OPERATIONS if any(w == op.key or w in op.key for w in wanted))
    if not chosen:
        raise ValueError(f"--only {only!r} matches no operation; see --list")
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Run ``fastws bench`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        int: 0 on success (missed targets included: they are reported, not failed); 1 when a suite
        could not run; 2 for a usage error; 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)

    from fastws.bench import _report
    from fastws.bench.workloads import OPERATIONS

    if args.list:
        for op in OPERATIONS:
            target = f"  (target {op.target.describe()})" if op.target else ""
            print(f"{op.key:<20} {op.title}{target}")
        return 0
    try:
        operations = _select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    apps = None
    if args.apps:
        from fastws.bench._e2e import APPS

        apps = tuple(a.strip() for a in args.apps.split(",") if a.strip())
        unknown = [a for a in apps if a not in APPS]
        if unknown or not apps:
            parser.error(
                f"--apps: unknown app(s) {', '.join(unknown) or repr(args.apps)}; choose from {', '.join(APPS)}"
            )
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                "fastws bench: --plot needs matplotlib, which is not installed; 'pip install matplotlib' "
                "(or leave out --plot)",
                file=sys.stderr,
            )
            return 2

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"  {line}", file=sys.stderr, flush=True)

    run_idle = args.idle or (args.connections is not None and not args.e2e)
    run_micro = not (args.e2e or args.broadcast or run_idle) or args.micro
    # --broadcast --e2e is one suite: fan-out over real sockets (not the echo suite as well).
    broadcast_e2e = args.broadcast and args.e2e
    document: dict[str, Any] = {"schema": "fastws-bench/1", "environment": _report.environment()}
    print(_report.format_header(document["environment"]))
    print()
    try:
        if run_micro:
            from fastws.bench._micro import run_micro as measure

            document["micro"] = measure(
                operations,
                rounds=args.rounds or (3 if args.quick else 120),
                batch_ms=args.batch_ms or (0.3 if args.quick else 3.0),
                progress=progress,
            )
            print(_report.format_micro(document["micro"]))
            print()
        if broadcast_e2e:
            from fastws.bench._broadcast_e2e import format_broadcast_e2e, run_broadcast_e2e

            document["broadcast_e2e"] = run_broadcast_e2e(
                connections=args.broadcast_connections,
                count=args.broadcast_count or (20 if args.quick else 200),
                warmup=5 if args.quick else 20,
                burst=args.broadcast_burst,
                rounds=args.broadcast_rounds or 1,
                latency_count=10 if args.quick else 50,
                latency_rate=100.0 if args.quick else 50.0,
                progress=progress,
                pin=not args.no_pin,
            )
            print(format_broadcast_e2e(document["broadcast_e2e"]))
            print()
        elif args.broadcast:
            from fastws.bench._broadcast import format_broadcast, run_broadcast

            document["broadcast"] = run_broadcast(
                connections=args.broadcast_connections,
                messages=5 if args.quick else 20,
                rounds=args.broadcast_rounds or (2 if args.quick else 15),
                progress=progress,
            )
            print(format_broadcast(document["broadcast"]))
            print()
        if args.e2e and not broadcast_e2e:
            from fastws.bench._e2e import run_e2e

            document["e2e"] = run_e2e(
                rounds=args.e2e_rounds or (1 if args.quick else 5),
                duration=args.duration or (0.5 if args.quick else 1.5),
                warmup=0.2 if args.quick else 0.5,
                connections=args.connections or 16,
                message_bytes=args.message_bytes,
                client=args.client,
                progress=progress,
                pin=not args.no_pin,
                **({"apps": apps} if apps else {}),
            )
            print(_report.format_e2e(document["e2e"]))
            print()
        if run_idle:
            from fastws.bench._idle import DEFAULT_WS, format_idle
            from fastws.bench._idle import run_idle as measure_idle

            document["idle"] = measure_idle(
                (args.connections if not args.e2e else None) or (1000 if args.quick else 10_000),
                deflate=args.deflate,
                ws=tuple(w.strip() for w in args.ws.split(",") if w.strip()) if args.ws else DEFAULT_WS,
                ping_interval=args.ping_interval,
                idle_seconds=1.0 if args.quick else args.idle_seconds,
                latency_samples=200 if args.quick else 1000,
                sample=100 if args.quick else 500,
                progress=progress,
            )
            print(format_idle(document["idle"], profile=args.profile))
            print()
    except KeyboardInterrupt:
        print("fastws bench: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"fastws bench: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _report.write_json(args.json, document)
    if args.plot:
        try:
            _report.plot(args.plot, document)
        except RuntimeError as exc:
            print(f"fastws bench: {exc}", file=sys.stderr)
            return 1
    return 0
