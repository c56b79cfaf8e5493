"""Server memory per idle WebSocket: the figures in docs/deploy.md ("Sizing").

Starts ``fastws serve deploy_app:app`` (tests/deploy_app.py; one worker, 127.0.0.1, an ephemeral
port) with the given ``--ws`` protocol, reads the worker's resident set size (``VmRSS`` in
``/proc/PID/status``, Linux only) once one connection has warmed it up, opens N WebSockets with
the ``websockets`` client (permessage-deflate negotiated or not), sends one message on each and
reads its acknowledgement, reads the RSS again and prints the growth per connection. One server
per run, so that memory freed by an earlier phase cannot hide a later one's.

    python stress/memory_per_connection.py --connections 1000 --ws fastws --compression none

Bounded: 20 s for the server to start, 120 s for the measurement; the server is stopped (SIGINT)
on the way out. Needs ``ulimit -n`` above N plus a few dozen.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"


def rss_kib(pid: int) -> int:
    """The process's resident set size in KiB (``VmRSS`` of ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def measure(connections: int, ws: str, compression: str | None) -> tuple[int, int]:
    """(RSS in KiB before, after) ``connections`` idle WebSockets on one ``fastws serve`` worker."""
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fastws", "serve", "deploy_app:app", "--app-dir", str(TESTS_DIR),
        "--port", "0", "--log-level", "warning", "--ws", ws,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        banner = (await asyncio.wait_for(server.stdout.readline(), 20)).decode()
        match = re.search(r"127\.0\.0\.1:(\d+)/", banner)
        assert match is not None, f"no banner: {banner!r}"
        url = f"ws://127.0.0.1:{match[1]}/ws"
        opened: list[ClientConnection] = []
        async with asyncio.timeout(120):
            async with connect(url, compression=compression) as warm:  # lazy imports, first buffers
                await warm.recv()
            await asyncio.sleep(0.5)
            before = rss_kib(server.pid)
            for _ in range(connections):
                client = await connect(url, compression=compression, ping_interval=None)
                await client.recv()
                opened.append(client)
            for client in opened:
                await client.send("hello")
            for client in opened:
                assert await client.recv() == "ack:hello"
            await asyncio.sleep(0.5)
            after = rss_kib(server.pid)
            await asyncio.gather(*(client.close() for client in opened))
        return before, after
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(server.wait(), 10)
            except asyncio.TimeoutError:
                server.kill()
                await server.wait()


def main() -> None:
    """Parse the arguments, measure, print one line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--ws", default="fastws", help="fastws serve's --ws (fastws, websockets-sansio, ...)")
    parser.add_argument("--compression", choices=["none", "deflate"], default="none")
    args = parser.parse_args()
    compression = None if args.compression == "none" else "deflate"
    before, after = asyncio.run(measure(args.connections, args.ws, compression))
    print(
        f"--ws {args.ws}, compression {args.compression}: idle worker {before / 1024:.1f} MiB, "
        f"with {args.connections} connections {after / 1024:.1f} MiB: "
        f"{(after - before) / args.connections:.1f} KiB per connection"
    )


if __name__ == "__main__":
    main()
