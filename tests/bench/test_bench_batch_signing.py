"""bench/batch_signing.py's arguments and batch (the run itself is the benchmark's)."""

from __future__ import annotations

from app.web.models import UploadRequest
from bench.batch_signing import files, parse_args


def test_defaults_are_50_files_over_15_rounds():
    args = parse_args([])
    assert (args.files, args.rounds, args.workers) == (50, 15, 2)


def test_the_batch_is_files_the_api_accepts_with_distinct_names():
    batch = files(50)
    assert len({file["filename"] for file in batch}) == 50
    assert all(UploadRequest.model_validate(file).size == 102_400 for file in batch)
