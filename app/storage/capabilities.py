"""What the cluster accepts (``GET /info``), with Swift's defaults where it is silent."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_FILE_SIZE = 5 * 1024**3 + 2  # Swift's default constraint
MAX_MANIFEST_SEGMENTS = 1000  # Swift's default max_manifest_segments, and Cloud Files' limit


@dataclass(frozen=True)
class StorageLimits:
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    max_manifest_segments: int = MAX_MANIFEST_SEGMENTS
    # Swift's formpost middleware (Cloud Files' FormPost): forms whose size storage enforces.
    formpost: bool = False

    @classmethod
    def from_info(cls, info: dict | None) -> StorageLimits:
        info = info or {}
        swift = info.get("swift", {})
        slo = info.get("slo", {})
        return cls(
            max_file_size=int(swift.get("max_file_size", DEFAULT_MAX_FILE_SIZE)),
            max_manifest_segments=int(slo.get("max_manifest_segments", MAX_MANIFEST_SEGMENTS)),
            formpost="formpost" in info,
        )
