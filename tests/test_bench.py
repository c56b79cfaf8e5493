"""Smoke tests of ``fastws bench`` (``fastws.bench``): a tiny workload, not a measurement.

They check that every operation is measured in every variant with positive figures, that the JSON
has the documented shape, that the command exits 0, and that the end-to-end suite starts and stops
its processes. The numbers themselves are meaningless at this size.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fastws.bench import main, workloads
from fastws.bench.workloads import OPERATIONS, VARIANTS, drive, load_variant

pytest.importorskip("starlette")

_TINY = ["--quick", "--rounds", "2", "--batch-ms", "0.05", "--quiet"]


def _compiled_available() -> bool:
    return importlib.util.find_spec("fastws.websocket._core_c") is not None


def _our_children() -> list[str]:
    # Command lines of this process's live children that run fastws.bench (Linux /proc only).
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != os.getpid() or stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if "fastws.bench" in cmdline:
            found.append(cmdline)
    return found


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_every_workload_does_the_floors_work_in_every_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shared workloads themselves: each variant's batch completes without suspending (drive()
    # raises otherwise) and sends the server exactly the events the raw-ASGI floor sends, so
    # every variant measures the same work.
    sent: list[dict[str, Any]] = []

    async def recording_send(message: Any) -> None:
        sent.append(message)

    monkeypatch.setattr(workloads, "_send", recording_send)
    for op in OPERATIONS:
        by_variant: dict[str, list[dict[str, Any]]] = {}
        for variant in VARIANTS:
            if variant == "fastws-c" and not _compiled_available():
                continue
            batch = op.prepare(variant, 3, None if variant == "floor" else load_variant(variant))
            sent.clear()  # what prepare() sent (an untimed accept) is not the workload's
            drive(batch)
            by_variant[variant] = list(sent)
        floor = by_variant.pop("floor")
        for variant, events in by_variant.items():
            assert events == floor, (op.key, variant, events, floor)


def test_quick_run_writes_every_operation_and_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main([*_TINY, "--json", str(out)]) == 0
    document = _load(out)
    assert document["schema"] == "fastws-bench/1"
    env = document["environment"]
    assert env["implementation"] in ("cython", "python")
    from fastws.codec._backend import describe

    assert env["json_backend"] == describe()
    assert env["versions"]["fastws"] and env["versions"]["starlette"] and env["cpu"]
    operations = document["micro"]["operations"]
    assert [op["key"] for op in operations] == [op.key for op in OPERATIONS]
    for op in operations:
        for variant in VARIANTS:
            figures = op["variants"][variant]
            if variant == "fastws-c" and not _compiled_available():
                assert "error" in figures
                continue
            assert figures["ns_per_op"] > 0, (op["key"], variant)
            assert figures["n"] >= 1 and len(figures["samples"]) == 2
        if _compiled_available():
            assert op["ratios"]["c_speedup_vs_starlette"] > 0
            assert op["ratios"]["c_over_floor"] > 0
        assert op["ratios"]["py_speedup_vs_starlette"] > 0
    table = capsys.readouterr().out
    assert "implementation loaded" in table and "CPU:" in table
    assert f"JSON backend: {describe()}" in table
    for op in OPERATIONS:
        assert op.title in table


def test_only_selects_operations(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main([*_TINY, "--only", "echo,handshake", "--json", str(out)]) == 0
    assert [op["key"] for op in _load(out)["micro"]["operations"]] == ["echo", "handshake"]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["--only", "no-such-operation"])
    assert excinfo.value.code == 2
    with pytest.raises(SystemExit) as excinfo:
        main(["--e2e", "--apps", "nginx"])
    assert excinfo.value.code == 2
    capsys.readouterr()


def test_plot_without_matplotlib_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    assert main([*_TINY, "--plot", str(tmp_path / "ratios.png")]) == 2
    assert "matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "ratios.png").exists()


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "ratios.png"
    assert main([*_TINY, "--only", "send_text_64,receive_text_64", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_line_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "fastws.bench", *_TINY, "--only", "send_text_64", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "send_text 64 B" in result.stdout
    assert _load(out)["micro"]["operations"][0]["variants"]["floor"]["ns_per_op"] > 0


def test_fastws_bench_subcommand_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from fastws.cli import main; sys.exit(main(sys.argv[1:]))"]
        + ["bench", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "send_text_64" in result.stdout


@pytest.mark.e2e
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to look for leftover processes")
def test_e2e_runs_and_stops_its_processes(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("uvloop")
    out = tmp_path / "e2e.json"
    apps = "starlette,fastws-c" if _compiled_available() else "starlette,fastws-py"
    with_picows = importlib.util.find_spec("picows") is not None  # in the test extra: CI has it
    if with_picows:
        apps += ",picows"
    argv = ["--e2e", "--quick", "--quiet", "--apps", apps, "--duration", "0.2", "--json", str(out)]
    assert main(argv) == 0
    e2e = _load(out)["e2e"]
    assert e2e["apps"] == apps.split(",")
    for mode in e2e["modes"]:
        for app in e2e["apps"]:
            cell = e2e["results"][mode["name"]][app]
            assert cell["msgs_per_s"] > 0 and cell["p50_us"] > 0, (mode, app)
            assert cell["ratio_vs_starlette"] > 0
            if with_picows:  # every row is also priced against picows' own server, in the same round
                assert cell["cpu_vs_picows"] > 0 and len(cell["cpu_vs_picows_per_round"]) == 1, (mode, app)
        if with_picows:
            assert e2e["results"][mode["name"]]["picows"]["cpu_vs_picows"] == 1.0
    assert e2e["picows_targets"] is None  # the targets are fastws-proto's, not run here
    assert _our_children() == []


def test_e2e_pure_twin_under_fastws_server_is_opt_in(tmp_path: Path) -> None:
    # fastws-proto-py (fastws.server, FASTWS_NO_EXTENSIONS=1) runs only when named, and loads the twin.
    pytest.importorskip("uvicorn")
    pytest.importorskip("uvloop")
    from fastws.bench._e2e import APPS, OPT_IN_APPS, default_apps

    assert "fastws-proto-py" in APPS and "fastws-proto-py" in OPT_IN_APPS
    assert "fastws-proto-py" not in default_apps()
    out = tmp_path / "e2e.json"
    argv = ["--e2e", "--quick", "--quiet", "--apps", "fastws-py,fastws-proto-py", "--duration", "0.2"]
    assert main([*argv, "--json", str(out)]) == 0
    e2e = _load(out)["e2e"]
    assert e2e["apps"] == ["fastws-py", "fastws-proto-py"]
    for mode in e2e["modes"]:
        cell = e2e["results"][mode["name"]]["fastws-proto-py"]
        assert cell["msgs_per_s"] > 0 and cell["cpu_us_per_msg"] > 0, mode
    assert _our_children() == []


def test_e2e_report_prices_rows_against_picows() -> None:
    """The e2e table gets a "CPU vs picows" column and issue 15's target lines when picows ran,
    and stays as before (no column) without it: older JSON documents still format."""
    from fastws.bench._report import format_e2e

    def cell(cpu: float, vs_picows: float | None) -> dict[str, Any]:
        row: dict[str, Any] = {"msgs_per_s": 1000.0, "p50_us": 10.0, "p99_us": 20.0, "cpu_us_per_msg": cpu}
        if vs_picows is not None:
            row["cpu_vs_picows"] = vs_picows
        return row

    config = {"uvicorn_ws": "x", "loop": "uvloop", "client": "picows", "connections": 16, "message_bytes": 64,
              "rounds": 1, "duration": 0.2, "seconds": 1.0, "server_cpus": None}  # fmt: skip
    modes = [{"name": "request_response", "title": "request/response", "window": 1}]
    document = {
        "config": config,
        "apps": ["fastws-proto", "picows"],
        "modes": modes,
        "results": {"request_response": {"fastws-proto": cell(8.0, 1.6), "picows": cell(5.0, 1.0)}},
        "target": None,
        "picows_targets": [
            {"mode": "request_response", "app": "fastws-proto", "value": 1.1, "ratio": 1.6, "met": False}
        ],
    }
    text = format_e2e(document)
    assert "CPU vs picows" in text and "1.60x" in text
    assert "Target: fastws-proto <= 1.1x picows' server CPU per message in request/response: 1.60x, MISSED." in text
    old = {**document, "apps": ["fastws-proto"], "results": {"request_response": {"fastws-proto": cell(8.0, None)}}}
    del old["picows_targets"]
    header = next(line for line in format_e2e(old).splitlines() if line.startswith("mode"))
    assert "picows" not in header and "CPU vs star." in header


@pytest.mark.e2e
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for RSS and CPU")
# The compiled codec with and without deflate, the pure twin with deflate (its inflater): three runs of ~10 s.
@pytest.mark.parametrize(
    ("implementation", "deflate"),
    [
        pytest.param("cython", False, marks=pytest.mark.compiled),
        ("python", True),
        pytest.param("cython", True, marks=pytest.mark.compiled),
    ],
)
def test_idle_connections_suite_reports_both_protocols(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, implementation: str, deflate: bool
) -> None:
    """``fastws bench --connections N``: a row per protocol, every connection echoed, pinged and
    closed cleanly, positive figures, no child left behind; on both fastws implementations."""
    pytest.importorskip("uvicorn")
    pytest.importorskip("uvloop")
    monkeypatch.setenv("FASTWS_NO_EXTENSIONS", "1" if implementation == "python" else "0")
    out = tmp_path / "idle.json"
    argv = ["--connections", "60", "--quick", "--quiet", "--ping-interval", "0.3", "--json", str(out)]
    assert main(argv + (["--deflate"] if deflate else [])) == 0
    idle = _load(out)["idle"]
    assert idle["connections"] == 60 and idle["capped_from"] is None and idle["deflate"] is deflate
    assert [row["ws"] for row in idle["rows"]] == ["auto", "fastws"]
    for row in idle["rows"]:
        assert row["implementation"] == implementation
        assert row["dropped"] == 0 and row["closed_cleanly"] == 60, row
        assert row["pings_answered"] >= 60, row  # at least one ping per connection during the idle window
        assert row["heap_per_connection_kib"] > 1 and row["heap_sites"], row
        assert row["handshakes_per_second"] > 0 and row["handshakes_per_cpu_second"] > 0
        assert row["echo_samples"] == 200 and 0 < row["echo_p50_ms"] <= row["echo_p99_ms"]
        assert row["idle_cpu_percent"] >= 0 and row["rss_kib"] > 0
    assert _our_children() == []


def test_idle_connections_are_capped_at_the_descriptor_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """More connections than one process may hold: capped, and the run says so."""
    import resource

    from fastws.bench import _idle

    monkeypatch.setattr(resource, "getrlimit", lambda which: (250, 250))
    seen: list[int] = []
    lines: list[str] = []

    def fake_measure(ws: str, connections: int, **kwargs: Any) -> dict[str, Any]:
        seen.append(connections)
        return {"ws": ws}

    monkeypatch.setattr(_idle, "measure_one", fake_measure)
    result = _idle.run_idle(1000, ws=("fastws",), progress=lines.append)
    assert result["connections"] == 50 and result["capped_from"] == 1000 and seen == [50]
    assert any("capped at 50" in line and "250 file descriptors" in line for line in lines)


def test_idle_connections_usage() -> None:
    """--connections with --e2e stays the e2e client count; alone it selects the idle suite."""
    from fastws.bench._cli import build_parser

    args = build_parser().parse_args(["--connections", "5", "--deflate", "--ws", "fastws"])
    assert args.connections == 5 and args.deflate and args.ws == "fastws"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--connections", "0"])
