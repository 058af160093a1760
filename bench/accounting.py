"""What a benchmark run cost the machine: CPU seconds by component (storage, API, relay,
Chromium, the driver) from /proc, how busy the whole machine was, what bound the run, and the
requests the Swift proxy logged, by who sent them.

A run on one machine that hosts the browser, the API and the storage is bound by the floor of
its link only while its cores have time to spare: these figures say which held it back.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.harness import process_kind
from bench.stack import PROXY_REQUEST_LINE, cpu_seconds

# What bound a run: the machine's cores (or one process's core) busy this share of the wall
# time or more; or the link, when the time is within this factor of the floor.
CPU_BOUND_SHARE = 0.85
NEAR_FLOOR = 1.25
COMPONENTS = ("storage", "api", "relay", "chromium", "driver")


def parents() -> dict[int, int]:
    """Every process now: its pid -> its parent's pid."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def descendants(root: int, parent_of: dict[int, int]) -> list[int]:
    """``root`` and every process under it."""
    children: dict[int, list[int]] = {}
    for pid, parent in parent_of.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def machine_jiffies(proc_stat: str) -> tuple[int, int]:
    """Busy and total clock ticks of every core, from /proc/stat's text (its ``cpu`` line:
    user nice system idle iowait irq softirq steal ...; idle and iowait are not busy)."""
    ticks = [int(n) for n in proc_stat.split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


class RunCpu:
    """CPU seconds used between ``start()`` and ``stop()`` by the process trees of this run:
    ``roots`` (component -> pid: storage, api, relay), and of the rest under this process,
    Chromium's (by ``process_kind``) and the driver's (this script, Playwright's driver). Other
    jobs on the machine, Swift and Chromium of their own included, are left out; how busy the
    whole machine was comes from /proc/stat."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self._before: dict[int, tuple[str, str, float]] = {}
        self._started = 0.0
        self._machine = (0, 0)

    def _snapshot(self) -> dict[int, tuple[str, str, float]]:
        parent_of = parents()
        owner: dict[int, str] = {}
        for component, root in self.roots.items():
            owner |= dict.fromkeys(descendants(root, parent_of), component)
        for pid in descendants(os.getpid(), parent_of):
            if pid not in owner:
                kind = process_kind(str(pid)) or ""
                owner[pid] = "chromium" if kind.startswith("chromium") else "driver"
        snapshot = {}
        for pid, component in owner.items():
            try:
                seconds = cpu_seconds(pid)
            except OSError:  # ended meanwhile
                continue
            label = process_kind(str(pid)) or component
            if component == "api":
                label = "gunicorn master" if pid == self.roots["api"] else "gunicorn worker"
            snapshot[pid] = (component, label, seconds)
        return snapshot

    def start(self) -> None:
        self._before = self._snapshot()
        self._machine = machine_jiffies(Path("/proc/stat").read_text())
        self._started = time.monotonic()

    def stop(self) -> dict:
        wall = time.monotonic() - self._started
        busy, total = machine_jiffies(Path("/proc/stat").read_text())
        machine = (busy - self._machine[0]) / max(total - self._machine[1], 1)
        return cpu_accounting(self._before, self._snapshot(), wall, os.cpu_count() or 1, machine)


def cpu_accounting(
    before: dict[int, tuple[str, str, float]],
    after: dict[int, tuple[str, str, float]],
    wall: float,
    cores: int,
    machine_busy: float,
) -> dict:
    """From two snapshots (pid -> component, label, CPU seconds so far): CPU seconds each
    component and each kind of process used, the busiest process, and these as shares of the
    machine (``cores`` x ``wall``) and of one core. A process started meanwhile counts whole;
    one that ended meanwhile is not seen (none of this run's should)."""
    components = dict.fromkeys(COMPONENTS, 0.0)
    kinds: dict[str, float] = {}
    busiest = ("", 0.0)
    for pid, (component, label, seconds) in after.items():
        used = seconds - before[pid][2] if pid in before else seconds
        components[component] = components.get(component, 0.0) + used
        kinds[label] = kinds.get(label, 0.0) + used
        if used > busiest[1]:
            busiest = (label, used)
    total = sum(components.values())
    return {
        "wall_seconds": round(wall, 3),
        "cores": cores,
        "seconds": {name: round(value, 2) for name, value in components.items()},
        "total_seconds": round(total, 2),
        "share_of_machine": round(total / (cores * wall), 3) if wall else None,
        "machine_busy_share": round(machine_busy, 3),
        "by_process_kind": {k: round(v, 2) for k, v in sorted(kinds.items()) if v >= 0.005},
        "busiest_process": {
            "kind": busiest[0],
            "seconds": round(busiest[1], 2),
            "share_of_a_core": round(busiest[1] / wall, 3) if wall else None,
        },
    }


def bound_by(time_over_floor: float, cpu: dict | None) -> str:
    """What held the run back: the link (time at the floor, however busy the machine), the
    machine's CPU (every core busy, other jobs' work included), one process's core (a
    single-threaded server at its limit), or waits (none of these: round trips and server
    latency beyond the floor's)."""
    if time_over_floor <= NEAR_FLOOR:
        return "network (floor)"
    if cpu:
        if cpu["machine_busy_share"] >= CPU_BOUND_SHARE:
            if (cpu["share_of_machine"] or 0) >= CPU_BOUND_SHARE:
                return "machine CPU (this run)"
            return "machine CPU (shared)"
        busiest = cpu["busiest_process"]
        if (busiest["share_of_a_core"] or 0) >= CPU_BOUND_SHARE:
            return f"one core ({busiest['kind']})"
    return "waits"


def proxy_log_source(line: str) -> str | None:
    """Who sent a request the Swift proxy logged: ``browser`` (a Mozilla user agent), ``api``
    (the service's swiftclient or requests), ``internal`` (Swift's own sub-requests, logged
    with ``- -`` for client and remote address); None for a line that logs no request."""
    if not PROXY_REQUEST_LINE.match(line):
        return None
    fields = line.split()
    if fields[1] == "-":
        return "internal"
    return "browser" if fields[9].startswith("Mozilla") else "api"


class ProxyLog:
    """Requests the Swift proxy logged since the last ``count()``, by ``proxy_log_source``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def count(self) -> dict[str, int]:
        counts = dict.fromkeys(("browser", "api", "internal"), 0)
        if not self.path.exists():
            return counts
        with self.path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        complete = data.rsplit(b"\n", 1)[0] + b"\n" if b"\n" in data else b""
        self._offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            source = proxy_log_source(line)
            if source:
                counts[source] += 1
        return counts


def cpu_line(cpu: dict) -> str:
    """``storage 1.90, api 0.40, ... = 3.90 CPU-s of 2 cores x 2.50 s (78%)``, and more."""
    parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in cpu["seconds"].items())
    busiest = cpu["busiest_process"]
    return (
        f"CPU during the pick (median run): {parts} = {cpu['total_seconds']:.2f} CPU-s of "
        f"{cpu['cores']} cores x {cpu['wall_seconds']:.2f} s ({percent(cpu['share_of_machine'])})"
        f"; the whole machine busy {percent(cpu['machine_busy_share'])} (other jobs included)"
        f"; busiest process: {busiest['kind']}, {busiest['seconds']:.2f} CPU-s "
        f"({percent(busiest['share_of_a_core'])} of a core)"
    )


def percent(share: float | None) -> str:
    return "?" if share is None else f"{share * 100:.0f}%"
