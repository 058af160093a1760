"""Client-supplied file names, made safe to carry in ``filename=`` and show in a download."""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_LENGTH = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_filename(raw: str) -> str:
    """Normalize (NFC), keep only the last path component, drop control characters.

    Quotes, spaces and non-ASCII letters stay: they are percent-encoded in the URL, and Swift
    writes them into ``Content-Disposition`` with RFC 6266 ``filename*``.
    """
    name = unicodedata.normalize("NFC", raw)
    name = _CONTROL.sub("", name)
    name = re.split(r"[/\\]", name)[-1].strip()
    return "" if name in (".", "..") else name
