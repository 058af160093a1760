"""How a file is cut into Static Large Object segments."""

from __future__ import annotations

from dataclasses import dataclass

from ..storage.capabilities import MAX_MANIFEST_SEGMENTS

MIB = 1024 * 1024
MAX_PARTS = MAX_MANIFEST_SEGMENTS
MIN_PART_SIZE = MIB  # every segment but the last must be at least 1 MiB


class PlanError(ValueError):
    """The file cannot be cut to fit the store's limits."""


@dataclass(frozen=True)
class PartPlan:
    size: int
    part_size: int

    @property
    def part_count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    def part(self, number: int) -> tuple[int, int]:
        """(offset, length) of the 1-based part ``number``."""
        if not 1 <= number <= self.part_count:
            raise IndexError(number)
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)


def plan_parts(size: int, wanted: int, max_object: int, max_parts: int = MAX_PARTS) -> PartPlan:
    """Parts of ``wanted`` bytes, grown (in whole MiB) until at most ``max_parts`` cover ``size``.

    No part may exceed ``max_object``, the store's largest single object.
    """
    largest = max_object - max_object % MIB if max_object >= MIB else max_object
    part_size = max(MIN_PART_SIZE, min(wanted, largest), -(-size // max_parts))
    part_size = -(-part_size // MIB) * MIB
    if part_size > max_object:
        raise PlanError(
            f"{size} bytes need parts of {part_size} bytes, over the store's "
            f"{max_object}-byte object limit"
        )
    return PartPlan(size, part_size)
