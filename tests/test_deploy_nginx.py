"""docs/deploy.md's nginx configuration, as written there, in a real nginx on 127.0.0.1 in front
of ``fastws serve`` (both implementations), with a ``websockets`` client.

The block after ``<!-- nginx-config -->`` in docs/deploy.md is read from the file; only the
listening port, the upstream address and the two proxy timeouts (lowered to 2 s, with the
server pinging every 0.5 s) are changed. Checked: ``nginx -t`` accepts it; the client is served
by fastws.server through nginx, with the forwarded client address; 64 KiB messages echo; a
connection left idle longer than the proxy timeouts stays open (the server's pings keep it
alive); a server shutdown reaches the client through nginx as close code 1012. Skipped when no
nginx binary is installed (``.ci/nginx`` installs Debian's in CI). Everything is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = Path(__file__).resolve().parent
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)
#: Bound for each process to start, and each step of the scenario (seconds).
STEP_TIMEOUT = 15.0

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(NGINX is None, reason="no nginx installed (apt-get install nginx; .ci/nginx does in CI)"),
    pytest.mark.skipif(sys.platform == "win32", reason="nginx on UNIX only here"),
    # The installed-wheel legs (.ci/wheels, cibuildwheel) run a copy of tests/ without docs/.
    pytest.mark.skipif(not DEPLOY_DOC.exists(), reason="docs/deploy.md is not next to this copy of the tests"),
]


def doc_block(marker: str) -> str:
    """The fenced block after ``<!-- marker -->`` in docs/deploy.md."""
    text = DEPLOY_DOC.read_text()
    match = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)```", text, re.S)
    assert match is not None, f"docs/deploy.md has no block after <!-- {marker} -->"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_conf(directory: Path, listen_port: int, upstream_port: int) -> Path:
    """A complete nginx.conf around docs/deploy.md's block: loopback only, files in ``directory``."""
    block = doc_block("nginx-config")
    for needle in ("listen 80;", "server 127.0.0.1:8000;", "proxy_read_timeout 75s;", "proxy_send_timeout 75s;"):
        assert needle in block, f"docs/deploy.md's nginx block changed: {needle!r} not found"
    block = block.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    block = block.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    block = block.replace("proxy_read_timeout 75s;", "proxy_read_timeout 2s;")
    block = block.replace("proxy_send_timeout 75s;", "proxy_send_timeout 2s;")
    temp = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""daemon off;
master_process off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
{block}
}}
"""
    )
    return conf


async def wait_listening(port: int, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(STEP_TIMEOUT):
        while True:
            assert process.returncode is None, "exited before listening"
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


def test_nginx_config_from_the_docs_proxies_fastws(impl: Any, tmp_path: Path) -> None:
    assert NGINX is not None
    upstream_port = free_port()
    listen_port = free_port()
    conf = nginx_conf(tmp_path, listen_port, upstream_port)
    checked = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr

    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if impl.name == "py":
        env["FASTWS_NO_EXTENSIONS"] = "1"

    async def scenario() -> dict[str, Any]:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fastws", "serve", "deploy_app:app", "--app-dir", str(TESTS_DIR),
            "--port", str(upstream_port), "--ws-ping-interval", "0.5", "--ws-ping-timeout", "2",
            "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1", "--log-level", "warning",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        nginx = await asyncio.create_subprocess_exec(
            NGINX, "-c", str(conf), "-p", str(tmp_path),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        result: dict[str, Any] = {}
        try:
            await wait_listening(upstream_port, server)
            await wait_listening(listen_port, nginx)
            async with asyncio.timeout(STEP_TIMEOUT):
                ws = await connect(f"ws://127.0.0.1:{listen_port}/ws", open_timeout=5, ping_interval=None)
                result["hello"] = json.loads(await ws.recv())
                payload = os.urandom(64 * 1024)
                await ws.send(payload)
                result["echo_ok"] = await ws.recv() == payload
                await ws.send("x" * 65536)
                result["text_ok"] = await ws.recv() == "ack:" + "x" * 65536
            # Idle (the client sends nothing, and does not ping) for longer than both proxy
            # timeouts: only the server's pings and the client's automatic pongs pass through.
            await asyncio.sleep(3.0)
            async with asyncio.timeout(STEP_TIMEOUT):
                await ws.send("still here")
                result["after_idle"] = await ws.recv()
                server.send_signal(signal.SIGINT)  # graceful shutdown: 1012 through nginx
                try:
                    await ws.recv()
                except ConnectionClosed as exc:
                    result["close_code"] = exc.rcvd.code if exc.rcvd is not None else None
                _, stderr = await server.communicate()
                result["server_status"] = server.returncode
                result["server_stderr"] = stderr.decode(errors="replace")
        finally:
            for process in (server, nginx):
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        return result

    result = asyncio.run(scenario())
    hello = result["hello"]
    assert hello["protocol"] == "fastws.server:WebSocketProtocol"
    assert hello["codec"] == f"fastws.protocol._frame_{impl.name}"
    assert hello["client"][0] == "127.0.0.1"  # from X-Forwarded-For, nginx's $proxy_add_x_forwarded_for
    assert result["echo_ok"] and result["text_ok"]
    assert result["after_idle"] == "ack:still here"
    assert result["close_code"] == 1012
    assert result["server_status"] == 0, result["server_stderr"]
    assert "Traceback" not in result["server_stderr"]
    error_log = (tmp_path / "error.log").read_text() if (tmp_path / "error.log").exists() else ""
    assert "timed out" not in error_log, error_log
