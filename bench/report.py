"""Machine facts and the printed tables."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from pathlib import Path


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    try:  # the signing benchmark's load generator; bench/completion.py runs without it
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        wrk = "wrk not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": (wrk.splitlines() or ["?"])[0].split(" Copyright")[0],
        "load_average_at_start": os.getloadavg(),
    }


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(cell).rjust(width) for cell, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += [
        "  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def render(results: dict) -> str:
    out = []
    m = results["machine"]
    out.append(
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"{m['wrk']}; load average {m['load_average_at_start'][0]:.2f} at start, "
        f"{results['load_average_at_end'][0]:.2f} at end. gunicorn workers: {results['workers']}."
    )
    if "signing" in results:
        s = results["signing"]
        rows = [
            [
                name,
                f"{r['rps']:.0f}",
                f"{r['p50_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                f"{r['server_cpu_ms_per_request']:.3f}",
                r["errors"],
            ]
            for name, r in (("POST /uploads", s["uploads"]), ("trivial (auth only)", s["trivial"]))
        ]
        out += [
            "",
            f"Signing throughput: wrk, {s['connections']} connections, {s['rounds']} x "
            f"{s['seconds_per_run']:g} s per endpoint, alternated",
            table(["endpoint", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "errors"], rows),
            f"ratio /uploads : trivial = {s['ratio']:.3f} (target >= 0.85: "
            f"{verdict(s['ratio'] >= 0.85)}); rounds: median "
            f"{statistics.median(s['round_ratios']):.3f}, range {min(s['round_ratios']):.3f}"
            f"-{max(s['round_ratios']):.3f}",
            f"server CPU per request, trivial : /uploads = {s['cpu_ratio']:.3f} (the same ratio "
            f"free of other jobs' load: {verdict(s['cpu_ratio'] >= 0.85)})",
            f"storage requests while signing: {s['storage_requests_during_signing']} (expected 0)",
        ]
    if "responsiveness" in results:
        r = results["responsiveness"]
        rows = [
            [
                name,
                f"{p['p50_ms']:.2f}",
                f"{p['p99_ms']:.2f}",
                f"{p['max_ms']:.1f}",
                p["failures"],
                f"{p['p99_ms'] / r['idle']['p99_ms']:.2f}x",
                " ".join(p.get("upload_statuses", [])) or "-",
            ]
            for name, p in (
                ("idle (direct uploads paused)", r["idle"]),
                ("direct uploads streaming", r["direct"]),
                ("uploads proxied by workers", r["proxied"]),
            )
        ]
        out += [
            "",
            f"Responsiveness: POST /uploads at {r['probe_rate_per_s']:g}/s for {r['window_s']:g} s "
            f"while {r['uploads']} x {r['upload_mib']:g} MiB uploads go at "
            f"{r['upload_rate_mib_s']:g} MiB/s each, straight to Swift (paused and resumed every "
            f"{r['switch_period_s']:g} s), then through the workers (Swift and the clients at nice "
            f"{r['nice']})",
            table(["while", "p50 ms", "p99 ms", "max ms", "failed", "p99/idle", "uploads"], rows),
            f"direct p99 / idle p99 = {r['direct_p99_vs_idle']:.2f} (target <= 1.5: "
            f"{verdict(r['direct_p99_vs_idle'] <= 1.5)})",
        ]
    if "growth" in results:
        rows = [
            [
                f"{g['size_mib']:g}",
                f"{g['sign_p50_ms']:.2f}",
                f"{g['sign_p99_ms']:.2f}",
                f"{g['direct']['peak_worker_rss_mib']:.1f}",
                f"{g['direct']['seconds']:.2f} ({g['direct']['status']})",
                f"{g['proxied']['seconds']:.2f} ({g['proxied']['status']})",
                f"{g['proxied']['peak_worker_rss_mib']:.1f}",
            ]
            for g in results["growth"]
        ]
        out += [
            "",
            "Cost growth with file size (declared in POST /uploads, then one unthrottled PUT)",
            table(
                [
                    "MiB",
                    "sign p50 ms",
                    "sign p99 ms",
                    "worker RSS MiB",
                    "direct upload s",
                    "proxy worker busy s",
                    "proxy worker RSS MiB",
                ],
                rows,
            ),
            "(service cost of a direct upload = one signing request; a proxied upload holds a "
            "worker for the whole transfer)",
        ]
    if "many_files" in results:
        from .many_files import render as render_many_files

        out += [
            "",
            "Many files through the demo page in Chromium over an emulated WAN link "
            "(bench/many_files.py)",
            render_many_files(results["many_files"]),
        ]
    return "\n".join(out)
