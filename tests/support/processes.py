"""The Swift server processes of one data directory, found in /proc: none may outlive a command."""

from __future__ import annotations

import time
from pathlib import Path


def servers_of(data_dir: Path) -> list[int]:
    """PIDs of Swift servers whose command line names this data directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "app.embedded.launch" in cmdline and str(data_dir) in cmdline:
                pids.append(int(proc.name))
    return pids


def wait_gone(data_dir: Path, timeout: float = 15) -> list[int]:
    """Wait until no Swift server of ``data_dir`` is left; the PIDs still there at the timeout."""
    deadline = time.monotonic() + timeout
    while (left := servers_of(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
