"""``upload-signer gc``: delete the segments of uploads that were never completed."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime

from ..settings.service import Settings
from ..storage.interface import ObjectStore

log = logging.getLogger(__name__)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds from ``3600``, ``90s``, ``30m``, ``24h`` or ``7d``."""
    match = _DURATION.match(text.lower())
    if not match:
        raise ValueError(f"not a duration: {text!r} (e.g. 24h, 30m, 7d)")
    return int(match[1]) * _SECONDS[match[2]]


@dataclass
class GcReport:
    uploads_removed: int = 0
    segments_removed: int = 0
    uploads_kept: int = 0


def last_modified(entry: dict) -> float:
    # Swift lists last_modified as "2026-11-26T01:14:53.123450" in UTC.
    return datetime.fromisoformat(entry["last_modified"] + "+00:00").timestamp()


def collect_garbage(
    store: ObjectStore, settings: Settings, older_than: int, dry_run: bool = False
) -> GcReport:
    """Remove segment groups whose newest part is older than ``older_than`` seconds and whose
    final object does not exist (never completed, or deleted since). Segments of a completed
    upload are its data: they are never touched while its manifest exists.
    """
    cutoff = time.time() - older_than
    groups: dict[str, list[dict]] = {}
    for entry in store.list_objects(settings.segments_container):
        # Segments are "<object_name>/<number>"; object names may hold "/" (subject prefixes).
        groups.setdefault(entry["name"].rsplit("/", 1)[0], []).append(entry)
    report = GcReport()
    for object_name, entries in groups.items():
        stale = max(last_modified(entry) for entry in entries) < cutoff
        if not stale or store.head_object(settings.container, object_name) is not None:
            report.uploads_kept += 1
            continue
        report.uploads_removed += 1
        for entry in entries:
            if not dry_run:
                store.delete_object(settings.segments_container, entry["name"])
            report.segments_removed += 1
        log.info("%s stale upload %s (%d segments)", "would remove" if dry_run else "removed",
                 object_name, len(entries))  # fmt: skip
    return report
