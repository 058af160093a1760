"""Upload sessions: part URLs, which parts are stored, completion into one object, abort.

A segmented upload stores its parts as ``<object_name>/<number>`` in the segments container;
completion writes a Static Large Object manifest with the service's own token (a manifest cannot
be created through a TempURL: the tempurl middleware drops ``multipart-manifest=put``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .plans import PartPlan
from .signing import Signer
from .storage import ObjectStore
from .tickets import Ticket


class PartsMissing(Exception):
    """Completion found parts absent or wrong; the client must upload these again."""

    def __init__(self, numbers: list[int], detail: str) -> None:
        super().__init__(detail)
        self.numbers = numbers
        self.detail = detail


@dataclass(frozen=True)
class Completed:
    object_name: str
    size: int
    etag: str
    content_type: str
    filename: str


def segment_name(object_name: str, number: int) -> str:
    return f"{object_name}/{number:06d}"


def abort_marker(object_name: str) -> str:
    # Beside the segments, so `gc` collects it with them; never a digit name, so never a part.
    return f"{object_name}/aborted"


class UploadSessions:
    def __init__(
        self,
        store: ObjectStore,
        settings: Settings,
        signer: Signer,
        manifest_headers: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.signer = signer
        self.manifest_headers = manifest_headers or {}

    @property
    def segments(self) -> str:
        return self.settings.segments_container

    def part_urls(
        self, ticket: Ticket, first: int, expires: int, ip_range: str | None = None
    ) -> list[dict]:
        plan = _plan(ticket)
        last = min(plan.part_count, first + self.settings.part_url_batch - 1)
        parts = []
        for number in range(first, last + 1):
            offset, length = plan.part(number)
            name = segment_name(ticket.object_name, number)
            url = self.signer.sign("PUT", name, expires, container=self.segments, ip_range=ip_range)
            parts.append({"number": number, "offset": offset, "length": length, "upload_url": url})
        return parts

    def stored_segments(self, ticket: Ticket) -> dict[int, dict]:
        """Listing entries of the parts stored with the right length, by part number."""
        plan = _plan(ticket)
        stored = {}
        for entry in self.store.list_objects(self.segments, prefix=f"{ticket.object_name}/"):
            suffix = entry["name"].rsplit("/", 1)[-1]
            if suffix.isdigit() and 1 <= int(suffix) <= plan.part_count:
                number = int(suffix)
                if entry["bytes"] == plan.part(number)[1]:
                    stored[number] = entry
        return stored

    def stored_parts(self, ticket: Ticket) -> list[int]:
        if ticket.plan is None:
            found = self.store.head_object(self.settings.container, ticket.object_name)
            return [1] if found is not None and _size_ok(ticket, found) else []
        return sorted(self.stored_segments(ticket))

    def complete(self, ticket: Ticket, pinned: dict[int, str]) -> Completed:
        if ticket.plan is None:
            return self._complete_single(ticket, pinned)
        plan = ticket.plan
        stored = self.stored_segments(ticket)
        missing = [n for n in range(1, plan.part_count + 1) if n not in stored]
        wrong = [n for n, etag in pinned.items() if n in stored and stored[n]["hash"] != etag]
        if missing or wrong:
            raise PartsMissing(
                sorted(missing + wrong),
                f"{len(missing)} part(s) missing or of the wrong size, "
                f"{len(wrong)} with another etag than the client sent",
            )
        manifest = [
            {
                "path": f"/{self.segments}/{stored[n]['name']}",
                "etag": stored[n]["hash"],
                "size_bytes": stored[n]["bytes"],
            }
            for n in range(1, plan.part_count + 1)
        ]
        etag = self.store.put_manifest(
            self.settings.container,
            ticket.object_name,
            manifest,
            {"Content-Type": ticket.content_type} | self.manifest_headers,
        )
        return Completed(ticket.object_name, plan.size, etag, ticket.content_type, ticket.filename)

    def _complete_single(self, ticket: Ticket, pinned: dict[int, str]) -> Completed:
        found = self.store.head_object(self.settings.container, ticket.object_name)
        if found is None:
            raise PartsMissing([1], "the object has not been uploaded")
        size = int(found.get("content-length", 0))
        if not _size_ok(ticket, found):
            raise PartsMissing([1], f"the object has {size} bytes, {ticket.size} were declared")
        etag = found.get("etag", "").strip('"')
        if 1 in pinned and pinned[1] != etag:
            raise PartsMissing([1], "the object has another etag than the client sent")
        return Completed(ticket.object_name, size, etag, ticket.content_type, ticket.filename)

    def abort(self, ticket: Ticket) -> int:
        """Delete whatever the upload stored (segments, and the object); how many were deleted.

        ``upload_id`` is stateless, so a small marker object records the abort: from then on
        the upload answers 404 everywhere. It expires by itself with the ticket.
        """
        deleted = 0
        if ticket.plan is not None:
            for entry in self.store.list_objects(self.segments, prefix=f"{ticket.object_name}/"):
                deleted += self.store.delete_object(self.segments, entry["name"])
        deleted += self.store.delete_object(self.settings.container, ticket.object_name)
        self.store.put_object(
            self.segments,
            abort_marker(ticket.object_name),
            b"",
            {"X-Delete-After": str(self.settings.upload_session_ttl)},
        )
        return deleted

    def aborted(self, ticket: Ticket) -> bool:
        return self.store.head_object(self.segments, abort_marker(ticket.object_name)) is not None


def _plan(ticket: Ticket) -> PartPlan:
    if ticket.plan is None:
        raise ValueError("not a segmented upload")
    return ticket.plan


def _size_ok(ticket: Ticket, headers: dict[str, str]) -> bool:
    return ticket.size is None or int(headers.get("content-length", -1)) == ticket.size
