"""``upload-signer gc``: delete what uploads stored that nothing published needs."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime

from ..settings.service import Settings
from ..storage.interface import ObjectStore
from . import layout
from .publishing import CONTENT_MD5

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
    uploads_removed: int = 0  # never completed, or published and deleted since, and stale
    uploads_aborted: int = 0  # aborted, with something stored after the abort
    segments_removed: int = 0  # objects deleted from the segments container
    uploads_kept: int = 0


def last_modified(entry: dict) -> float:
    # Swift lists last_modified as "2026-11-26T01:14:53.123450" in UTC.
    return datetime.fromisoformat(entry["last_modified"] + "+00:00").timestamp()


def collect_garbage(
    store: ObjectStore, settings: Settings, older_than: int, dry_run: bool = False
) -> GcReport:
    """Delete from the segments container what no published upload needs:

    - everything of an aborted upload but its marker, whatever its age (its URLs may still
      write until they expire; the marker keeps the upload refused until the id expires);
    - every piece of an upload whose newest piece is older than ``older_than`` seconds and
      that has no published object (never completed, or deleted since);
    - of a published upload, whatever is neither one of its parts nor a marker (what its form,
      which may be POSTed again until it expires, stored under another name).
    """
    cutoff = time.time() - older_than
    groups: dict[str, list[dict]] = {}
    for entry in store.list_objects(settings.segments_container):
        groups.setdefault(layout.upload_of(entry["name"]), []).append(entry)
    report = GcReport()
    for object_name, entries in groups.items():
        names = {entry["name"] for entry in entries}
        if layout.abort_marker(object_name) in names:
            doomed = [e for e in entries if not layout.is_service_name(e["name"], object_name)]
            if doomed:
                report.uploads_aborted += 1
            why = "aborted upload"
        elif (published := store.head_object(settings.container, object_name)) is not None:
            single = CONTENT_MD5.lower() in published  # its one part is 000001
            doomed = [e for e in entries
                      if not _kept_beside_published(e["name"], object_name, single)]  # fmt: skip
            report.uploads_kept += 1
            why = "published upload's unused objects"
        elif max(last_modified(entry) for entry in entries) < cutoff:
            doomed = entries
            report.uploads_removed += 1
            why = "stale upload"
        else:
            report.uploads_kept += 1
            continue
        for entry in doomed:
            if not dry_run:
                store.delete_object(settings.segments_container, entry["name"])
            report.segments_removed += 1
        if doomed:
            log.info("%s %s %s (%d objects)", "would remove" if dry_run else "removed", why,
                     object_name, len(doomed))  # fmt: skip
    return report


def _kept_beside_published(name: str, object_name: str, single: bool) -> bool:
    """A part (a single upload has only part 1: its form may have stored more) or a marker."""
    number = layout.part_number(name, object_name)
    if number is not None:
        return number == 1 or not single
    return layout.is_service_name(name, object_name)
