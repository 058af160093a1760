"""bench/completion.py's arguments and figures (the run itself is the benchmark's, not a test's)."""

from __future__ import annotations

import pytest

from bench.completion import MIB, parse_args, summary


def test_defaults_are_21_rounds_of_1_and_64_mib():
    args = parse_args([])
    assert args.rounds == 21
    assert args.sizes == [MIB, 64 * MIB]
    assert args.workers == 4


def test_sizes_are_comma_separated_with_units():
    args = parse_args(["--rounds", "3", "--sizes", "512K, 16M,1G"])
    assert args.rounds == 3
    assert args.sizes == [512 * 1024, 16 * MIB, 1024 * MIB]


@pytest.mark.parametrize(
    "argv",
    [
        ["--rounds", "0"],
        ["--rounds", "two"],
        ["--sizes", "0"],
        ["--sizes", "1M,"],
        ["--sizes", "x"],
    ],
)
def test_bad_arguments_stop_with_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv)
    assert stopped.value.code == 2
    assert "usage: bench/completion.py" in capsys.readouterr().err


def test_percentiles_of_21_rounds_are_exact_ranks():
    figures = summary([float(n) for n in range(21, 0, -1)])  # 21 ms down to 1 ms
    assert (figures["p50_ms"], figures["p90_ms"]) == (11.0, 19.0)
    assert (figures["min_ms"], figures["max_ms"]) == (1.0, 21.0)
