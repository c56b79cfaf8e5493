"""Server memory per idle WebSocket, for one ``--ws`` protocol: a thin front to
``fastws bench --connections`` (``fastws.bench._idle``), which measures it (and the heap profile,
handshakes/s, echo latency and idle ping CPU) for uvicorn's default protocol and fastws.server in
one run. Kept for the command line the earlier figures were taken with:

    python stress/memory_per_connection.py --connections 1000 --ws fastws --compression none

prints one line: the worker's RSS before and with the connections, and the growth per connection.
Linux only (``/proc``); bounded as ``fastws bench --connections`` is.
"""

from __future__ import annotations

import argparse

from fastws.bench._idle import run_idle


def main() -> None:
    """Parse the arguments, measure, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--ws", default="fastws", help="uvicorn's --ws (auto, websockets-sansio, ...) or fastws")
    parser.add_argument("--compression", choices=["none", "deflate"], default="none")
    args = parser.parse_args()
    result = run_idle(args.connections, deflate=args.compression == "deflate", ws=(args.ws,), idle_seconds=2.0)
    row = result["rows"][0]
    print(
        f"--ws {args.ws}, compression {args.compression}: idle worker {row['rss_baseline_kib'] / 1024:.1f} MiB, "
        f"with {row['connections']} connections {row['rss_kib'] / 1024:.1f} MiB: "
        f"{row['rss_per_connection_kib']:.1f} KiB per connection"
    )


if __name__ == "__main__":
    main()
