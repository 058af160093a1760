"""Where an upload keeps its pieces before and after ``complete`` publishes it.

Everything a client can write lives in the segments container under ``<object_name>/``: the
parts of a segmented upload and the single file of a single upload (its part 1), each through a
URL signed for that exact name, and the form of a single upload, which may store any name that
begins with its prefix. The service alone writes the published object (a Static Large Object in
the upload container, pinning the etag and size of every part) and the two markers beside the
parts. The form's prefix ends inside the part number, so no name a form can write is a marker.
"""

from __future__ import annotations

import re

PART_DIGITS = 6
ABORTED = "aborted"
COMPLETED = "completed"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def segment_name(object_name: str, number: int) -> str:
    """Part ``number`` of an upload; a single upload's file is its part 1."""
    return f"{object_name}/{number:0{PART_DIGITS}d}"


def form_prefix(object_name: str) -> tuple[str, str]:
    """The name prefix a single upload's form is signed for, and the ``file_name`` that makes
    the name the form stores ``segment_name(object_name, 1)``."""
    staged = segment_name(object_name, 1)
    return staged[:-1], staged[-1]


def abort_marker(object_name: str) -> str:
    # Never a digit name, so never a part; collected by `gc` with the parts.
    return f"{object_name}/{ABORTED}"


def completion_marker(object_name: str) -> str:
    # Beside the parts like the abort marker: it expires by itself after the upload_id does.
    return f"{object_name}/{COMPLETED}"


def part_number(name: str, object_name: str) -> int | None:
    """The part number of a name in the segments container, or None for anything else."""
    suffix = name[len(object_name) + 1 :]
    if len(suffix) == PART_DIGITS and suffix.isascii() and suffix.isdigit():
        return int(suffix)
    return None


def upload_of(name: str) -> str:
    """The object name of the upload a name in the segments container belongs to.

    Object names are ``<uuid4>`` or ``<subject prefix>/<uuid4>`` (the prefix is one path
    segment); what follows is a part number, a marker, or whatever else a form stored.
    """
    head, _, rest = name.partition("/")
    second = rest.partition("/")[0]
    return f"{head}/{second}" if _UUID.match(second) else head


def is_service_name(name: str, object_name: str) -> bool:
    """A marker: written by the service, never by a client's URL."""
    return name in (abort_marker(object_name), completion_marker(object_name))
