"""Client-supplied file names, made safe to carry in ``filename=`` and show in a download."""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_LENGTH = 255
# C0/C1 controls (CR/LF could split a header), line and paragraph separators, the byte-order
# mark, and bidirectional overrides ("evil\u202egpj.exe" shows as "evilexe.jpg"). As regex ranges,
# shared with the OpenAPI document's file name pattern.
DROPPED_RANGES = r"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Lone surrogates (from JSON "\udc80") cannot be encoded as UTF-8: dropped too.
_UNSAFE = re.compile(rf"[{DROPPED_RANGES}\ud800-\udfff]")
SEPARATORS = r"/\\"
_DIRECTORIES = re.compile(rf"[{SEPARATORS}]")
# A name needs one character other than these: "", " ", "..", "dir/" name nothing.
BLANK = r"\s."
VISIBLE = re.compile(rf"[^{BLANK}]")
# What clean_filename keeps a VISIBLE character of, said of the raw name for JSON Schema: the
# last path component keeps a character that is neither blank nor dropped. Lone surrogates are
# left out: ECMA-262 and Rust regex engines cannot name them.
FILENAME_PATTERN = (
    rf"^(?:[\s\S]*[{SEPARATORS}])?[^{SEPARATORS}]*[^{SEPARATORS}{BLANK}{DROPPED_RANGES}]"
    rf"[^{SEPARATORS}]*$"
)


def clean_filename(raw: str) -> str:
    """Normalize (NFC), keep only the last path component, drop unsafe characters.

    Quotes, spaces and non-ASCII letters stay: they are percent-encoded in the URL, and Swift
    writes them into ``Content-Disposition`` with RFC 6266 ``filename*``.
    """
    name = _UNSAFE.sub("", raw)
    name = unicodedata.normalize("NFC", name)
    name = _DIRECTORIES.split(name)[-1].strip()
    return "" if name in (".", "..") else name
