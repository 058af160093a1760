"""upload-signer benchmarks: ``make bench`` (``python -m bench``); results in bench/results/."""
