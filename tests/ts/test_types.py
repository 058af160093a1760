"""The package's hand-written types, as a strict TypeScript consumer sees them (tsc --noEmit
against the client as installed in tests/npm/, the declarations themselves checked too), and
against the JS they declare."""

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
        # The .d.ts files are checked too: the package's, and what they import from @uppy/core.
        "skipLibCheck": False,
        "types": [],
    }
}


def compile_(tmp_path: Path, source: str, **options: object) -> subprocess.CompletedProcess[str]:
    if not TSC.exists():
        pytest.fail("tests/npm is not installed: `make test` runs npm install there")
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)
    shutil.copy(HERE / source, tmp_path / source)
    config = {
        "compilerOptions": TSCONFIG["compilerOptions"] | options,
        "files": [source],
    }
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


def test_declarations_match_the_js(tmp_path: Path):
    """index.d.ts against uploader.js and the modules it re-exports, as their JSDoc types them:
    the installed package is copied beside the source (out of node_modules, so tsc reads its JS)."""
    shutil.copytree(NODE_MODULES / "@upload-signer" / "client", tmp_path / "client")
    result = compile_(tmp_path, "conformance.ts", allowJs=True, checkJs=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_declaration_fails_the_match(tmp_path: Path):
    """The match can fail: a declaration narrower than the JS (a Retry-After as a number only)."""
    client = tmp_path / "client"
    shutil.copytree(NODE_MODULES / "@upload-signer" / "client", client)
    declarations = client / "index.d.ts"
    text = declarations.read_text()
    wide = "retryAfter?: string | number | null,"
    assert wide in text
    declarations.write_text(text.replace(wide, "retryAfter?: number | null,"))
    result = compile_(tmp_path, "conformance.ts", allowJs=True, checkJs=False)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert len(errors) == 1 and "TS2344" in errors[0], result.stdout
