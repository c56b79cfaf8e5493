"""What ``fastws bench`` prints and writes: the machine header, the tables, JSON and the plot."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["environment", "format_e2e", "format_header", "format_micro", "plot", "write_json"]

_VERSIONED = ("fastws", "starlette", "orjson", "uvicorn", "uvloop", "websockets", "picows", "aiohttp")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "Model", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """The machine and software a run measured: implementation, Python, CPU, package versions."""
    import fastws
    from fastws.codec._backend import describe

    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {
        "implementation": fastws.IMPLEMENTATION,
        "json_backend": describe(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_build": " ".join(platform.python_build()),
        "compiler": platform.python_compiler(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "versions": {name: _version(name) for name in _VERSIONED},
        "argv": sys.argv[:1],
    }


def format_header(env: dict[str, Any]) -> str:
    """The lines above every table."""
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v is not None)
    load = env["load_average"]
    return "\n".join(
        [
            f"fastws bench: implementation loaded: {env['implementation']}; "
            f"JSON backend: {env.get('json_backend', 'unknown')}",
            f"Python: {env['python']} ({env['compiler']}); {env['platform']}",
            f"CPU: {env['cpu']} x{env['cpu_count']}" + (f"; load average {load[0]:.2f}" if load else ""),
            f"Versions: {versions}",
        ]
    )


def _ns(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def format_micro(micro: dict[str, Any]) -> str:
    """The micro table: median ns/op per variant, speedups vs Starlette, fastws-c over the floor."""
    config = micro["config"]
    lines = [
        f"Micro suite: in-memory receive/send, median ns/op over {config['rounds']} interleaved rounds "
        f"of ~{config['batch_ms']:g} ms batches ({config['seconds']:g} s).",
        "  speedup = Starlette's time / fastws's (higher is better); c/floor = fastws-c's time / raw ASGI's"
        " (1.00x is the floor);",
        "  each ratio is the median over rounds of the ratio within a round (batches milliseconds apart).",
        "",
    ]
    head = (
        f"{'operation':<38} {'fastws-c':>9} {'fastws-py':>9} {'starlette':>9} {'floor':>8}"
        f"  {'c speedup':>9} {'py speedup':>10} {'c/floor':>7}  target"
    )
    lines.append(head)
    lines.append("-" * (len(head) + 14))
    met = missed = 0
    slower_py = []
    for op in micro["operations"]:
        v = {name: op["variants"][name].get("ns_per_op") for name in op["variants"]}
        r = op["ratios"]
        target = ""
        if op["target"] is not None:
            if op["target_met"] is None:
                verdict = "n/a"
            elif op["target_met"]:
                verdict, met = "met", met + 1
            else:
                verdict, missed = "MISSED", missed + 1
            target = f"{op['target']['description']}: {verdict}"
        if op["py_not_slower"] is False:
            slower_py.append(op["title"])
            target = (target + "; " if target else "") + "py slower than starlette"
        lines.append(
            f"{op['title']:<38} {_ns(v['fastws-c']):>9} {_ns(v['fastws-py']):>9} {_ns(v['starlette']):>9}"
            f" {_ns(v['floor']):>8}  {_x(r['c_speedup_vs_starlette']):>9} {_x(r['py_speedup_vs_starlette']):>10}"
            f" {_x(r['c_over_floor']):>7}  {target}"
        )
    lines.append("")
    lines.append(f"Targets: {met} met, {missed} missed.")
    if slower_py:
        lines.append(f"Pure-Python twin slower than Starlette on: {', '.join(slower_py)}.")
    else:
        lines.append("Pure-Python twin: never slower than Starlette.")
    spreads = [
        variant["p75"] / variant["p25"]
        for op in micro["operations"]
        for variant in op["variants"].values()
        if "p25" in variant and variant["p25"] > 0
    ]
    worst = max(spreads, default=1.0)
    if worst > 1.3 and config["rounds"] >= 10:  # a --quick run is rough by design
        lines.append(
            f"Warning: noisy machine (a variant's p75/p25 reached {worst:.1f}x): other load slowed some batches. "
            "The ratios pair batches of the same round and stay comparable; the ns/op medians do not."
        )
    errors = {
        name: variant["error"]
        for op in micro["operations"]
        for name, variant in op["variants"].items()
        if "error" in variant
    }
    for error in errors.values():
        lines.append(f"Not measured: {error}")
    return "\n".join(lines)


def format_e2e(e2e: dict[str, Any]) -> str:
    """The end-to-end table: messages/s, latency, server CPU per message, ratios per mode."""
    config = e2e["config"]
    lines = [
        f"End to end: uvicorn {config['uvicorn_ws']} + {config['loop']}, one server process per app, load client "
        f"{config['client']} in its own process; {config['connections']} connections, {config['message_bytes']} B "
        f"text echo, {config['rounds']} interleaved rounds of {config['duration']:g} s per app and mode "
        f"({config['seconds']:g} s); "
        + (
            f"servers pinned to CPU {','.join(map(str, config['server_cpus']))}, client to CPU "
            f"{','.join(map(str, config['client_cpus']))}."
            if config.get("server_cpus")
            else "not pinned."
        ),
        "  msg/s and latency are medians over rounds; ratio = msg/s over Starlette's in the same round (median);",
        "  CPU = server CPU time per message; CPU vs star. = Starlette's CPU per message over this app's"
        " (median per round; > 1 is cheaper);",
        "  server/client busy = each process's CPU time over the window: the server near 100% means it is the"
        " bottleneck, as it should be;",
        "  both well below 100% means other load is taking the CPU from both, and the figures are noisy.",
    ]
    picows = "picows" in e2e["apps"]
    if picows:
        lines.append(
            "  CPU vs picows = this server's CPU per message over picows' own echo server's (no ASGI) in the same"
            " round (median; < 1 is cheaper)."
        )
    lines.append("")
    head = (
        f"{'mode':<18} {'app':<15} {'msg/s':>10} {'vs starlette':>12} {'p50 us':>8} {'p99 us':>8} {'CPU us/msg':>10}"
        f" {'CPU vs star.':>12}"
        + (f" {'CPU vs picows':>13}" if picows else "")
        + f" {'server busy':>11} {'client busy':>11}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for mode in e2e["modes"]:
        for app in e2e["apps"]:
            cell = e2e["results"][mode["name"]][app]
            if "error" in cell:
                lines.append(f"{mode['title']:<18} {app:<15} {'error: ' + cell['error']}")
                continue
            lines.append(
                f"{mode['title']:<18} {app:<15} {cell['msgs_per_s']:>10,.0f} {_x(cell.get('ratio_vs_starlette')):>12}"
                f" {cell['p50_us']:>8.0f} {cell['p99_us']:>8.0f} {_f(cell['cpu_us_per_msg']):>10}"
                f" {_x(cell.get('cpu_ratio_vs_starlette')):>12}"
                + (f" {_x(cell.get('cpu_vs_picows')):>13}" if picows else "")
                + f" {_pct(cell.get('server_cpu_share')):>11} {_pct(cell.get('client_cpu_share')):>11}"
            )
    target = e2e.get("target")
    if target is not None:
        verdict = "n/a" if target["met"] is None else ("met" if target["met"] else "MISSED")
        lines.append("")
        lines.append(
            f"Target: fastws-c >= {target['value']:g}x Starlette's msg/s in request/response: "
            f"{_x(target['ratio'])}, {verdict}."
        )
    for goal in e2e.get("picows_targets") or ():
        verdict = "n/a" if goal["met"] is None else ("met" if goal["met"] else "MISSED")
        title = next((m["title"] for m in e2e["modes"] if m["name"] == goal["mode"]), goal["mode"])
        lines.append(
            f"Target: {goal['app']} <= {goal['value']:g}x picows' server CPU per message in {title}: "
            f"{_x(goal['ratio'])}, {verdict}."
        )
    return "\n".join(lines)


def write_json(path: str, document: dict[str, Any]) -> None:
    """Write ``document`` as indented JSON to ``path`` (``-`` for standard output)."""
    text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")


def plot(path: str, document: dict[str, Any]) -> None:
    """Draw the ratios as horizontal bar charts into ``path`` (PNG, or any format matplotlib knows).

    Raises:
        RuntimeError: matplotlib is not installed (``pip install matplotlib``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError(
            f"--plot needs matplotlib, which is not installed ({exc}); install it with 'pip install matplotlib'"
        ) from exc

    panels = []
    micro = document.get("micro")
    if micro:
        ops = micro["operations"]
        panels.append(("speedup", ops))
        panels.append(("floor", ops))
    e2e = document.get("e2e")
    if e2e:
        panels.append(("e2e", e2e))
    if not panels:
        raise RuntimeError("nothing to plot")
    heights = [max(2.5, 0.32 * len(p[1]) + 1.2) if p[0] != "e2e" else 2.8 for p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, sum(heights)), gridspec_kw={"height_ratios": heights})
    if len(panels) == 1:
        axes = [axes]
    for ax, (kind, data) in zip(axes, panels, strict=True):
        if kind == "speedup":
            titles = [op["title"] for op in data][::-1]
            c = [op["ratios"]["c_speedup_vs_starlette"] or 0 for op in data][::-1]
            py = [op["ratios"]["py_speedup_vs_starlette"] or 0 for op in data][::-1]
            ys = range(len(titles))
            ax.barh([y + 0.2 for y in ys], c, height=0.4, label="fastws-c", color="#1f77b4")
            ax.barh([y - 0.2 for y in ys], py, height=0.4, label="fastws-py", color="#aec7e8")
            for y, op in zip(ys, data[::-1], strict=True):
                if op["target"] and op["target"]["kind"] == "speedup":
                    ax.plot([op["target"]["value"]] * 2, [y - 0.45, y + 0.45], color="#d62728", lw=2)
            ax.axvline(1.0, color="black", lw=0.8)
            ax.set_yticks(list(ys), titles, fontsize=8)
            ax.set_xlabel("speedup over starlette.websockets.WebSocket (x, higher is better; red: target)")
            ax.legend(loc="lower right", fontsize=8)
        elif kind == "floor":
            titles = [op["title"] for op in data][::-1]
            ys = range(len(titles))
            for name, key, offset, color in (
                ("fastws-c", "c_over_floor", 0.27, "#1f77b4"),
                ("fastws-py", "py_over_floor", 0.0, "#aec7e8"),
                ("starlette", "starlette_over_floor", -0.27, "#ff7f0e"),
            ):
                ax.barh(
                    [y + offset for y in ys],
                    [op["ratios"][key] or 0 for op in data][::-1],
                    height=0.27,
                    label=name,
                    color=color,
                )
            for y, op in zip(ys, data[::-1], strict=True):
                if op["target"] and op["target"]["kind"] == "floor":
                    ax.plot([op["target"]["value"]] * 2, [y - 0.45, y + 0.45], color="#d62728", lw=2)
            ax.axvline(1.0, color="black", lw=0.8)
            ax.set_yticks(list(ys), titles, fontsize=8)
            ax.set_xlabel("time over the raw-ASGI floor (x, lower is better; 1 = floor)")
            ax.legend(loc="lower right", fontsize=8)
        else:
            modes = data["modes"]
            apps = data["apps"]
            width = 0.8 / len(apps)
            for i, app in enumerate(apps):
                values = [data["results"][m["name"]][app].get("ratio_vs_starlette") or 0 for m in modes]
                ax.bar([j + i * width for j in range(len(modes))], values, width=width, label=app)
            ax.axhline(1.0, color="black", lw=0.8)
            ax.set_xticks([j + width * (len(apps) - 1) / 2 for j in range(len(modes))], [m["title"] for m in modes])
            ax.set_ylabel("msg/s over Starlette's")
            ax.set_title("end to end (uvicorn)", fontsize=9)
            ax.legend(fontsize=8, ncol=len(apps))
    env = document["environment"]
    fig.suptitle(f"fastws bench: {env['cpu']}, {env['python']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
