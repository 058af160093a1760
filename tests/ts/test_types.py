"""The package's hand-written types, as a strict TypeScript consumer sees them (tsc --noEmit
against the client as installed in tests/npm/)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "tests" / "npm" / "node_modules"
TSC = NODE_MODULES / "typescript" / "bin" / "tsc"
HERE = Path(__file__).parent

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "ESNext",
        "module": "ESNext",
        "moduleResolution": "bundler",
        "lib": ["ESNext", "DOM", "DOM.Iterable"],
        "skipLibCheck": True,
        "types": [],
    }
}


def compile_(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    if not TSC.exists():
        pytest.fail("tests/npm is not installed: `make test` runs npm install there")
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)
    shutil.copy(HERE / source, tmp_path / source)
    config = TSCONFIG | {"files": [source]}
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    return subprocess.run(
        ["node", str(TSC), "-p", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_strict_consumer_compiles(tmp_path: Path):
    result = compile_(tmp_path, "consumer.ts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_wrong_option_type_fails_to_compile(tmp_path: Path):
    result = compile_(tmp_path, "wrong_option.ts")
    assert result.returncode != 0
    assert "wrong_option.ts" in result.stdout
    # The one error: `parallel: "4"` (line 6) is not a number.
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith("wrong_option.ts(6,"), errors
    assert "TS2322" in errors[0] and "not assignable to type 'number'" in errors[0], errors
