"""``upload-signer dev``: the whole thing on one machine, as ``make run`` starts it.

Embedded Swift (unless storage credentials are already in the environment), the API under
gunicorn, and the static frontend on a second origin so that CORS is real.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from ..embedded.node import EmbeddedSwift
from ..settings.parsers import ConfigError
from ..settings.security import usable_token
from ..settings.service import Settings
from .frontend_server import FRONTEND_DIR, FrontendServer

STORAGE_VARIABLES = ("ST_AUTH", "ST_USER", "ST_KEY")


def _dev_token(data_dir: Path) -> str:
    path = data_dir / "dev-token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} did not start (exit status {process.returncode})")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready in {timeout:.0f} s")


def frontend_config(api_base: str, token: str) -> str:
    """frontend/config.js: where the demo page finds the API, and the token it sends."""
    config = {"apiBase": api_base, "token": token}
    return (
        "// Written by `make run` for local development; not committed.\n"
        f"export default {json.dumps(config, indent=2)};\n"
    )


def write_frontend_config(frontend: Path, api_base: str, token: str) -> None:
    (frontend / "config.js").write_text(frontend_config(api_base, token))


def try_it(api: str, token: str) -> str:
    """A shell session that uploads a file, completes it and downloads it (needs curl and jq)."""
    auth = f"-H 'Authorization: Bearer {token}'"
    return (
        "Try it from a shell (curl and jq):\n"
        "  echo 'hello from upload-signer' > hello.txt\n"
        f"  curl -s -X POST {api}/uploads {auth} -H 'Content-Type: application/json' \\\n"
        '       -d \'{"filename": "hello.txt"}\' > answer.json\n'
        "  curl -s -T hello.txt -H 'Content-Type: text/plain' "
        '"$(jq -r .upload_url answer.json)"\n'
        f'  curl -s -X POST "{api}/uploads/$(jq -r .upload_id answer.json)/complete" {auth}\n'
        '  curl -s -o hello-again.txt "$(jq -r .download_url answer.json)"\n'
    )


def run_dev(args) -> int:

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    api_port, frontend_port = args.api_port, args.frontend_port
    frontend_origin = f"http://127.0.0.1:{frontend_port}"
    env = dict(os.environ)
    env.setdefault("API_TOKENS", _dev_token(data_dir))
    env.setdefault("CORS_ORIGINS", f"{frontend_origin},http://localhost:{frontend_port}")

    node = None
    page: FrontendServer | None = None
    children: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Ctrl-C stops everything even where SIGINT came in ignored (a shell's background job, which
    # Python then leaves ignored): this command's way to stop is the interrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        given = [name for name in STORAGE_VARIABLES if env.get(name)]
        if len(given) == len(STORAGE_VARIABLES):
            print(f"Using the storage in ST_AUTH: {env['ST_AUTH']}")
        elif given:  # the service itself would refuse half a set: never fall back silently
            missing = ", ".join(name for name in STORAGE_VARIABLES if name not in given)
            print(f"upload-signer dev: configuration error: {', '.join(given)} set but not "
                  f"{missing}: set all three for your storage, or none for the embedded Swift",
                  file=sys.stderr)  # fmt: skip
            return 2
        else:
            node = EmbeddedSwift(data_dir / "swift", port=args.storage_port)
            credentials = node.start().as_env()
            env |= credentials
            print(f"Embedded Swift:  {node.url}  (data in {node.data_dir})")
            # For `upload-signer check`, the swift CLI or python-swiftclient against it.
            print("Storage:         " + " ".join(f"{k}={v}" for k, v in credentials.items()))
        try:
            Settings.from_env(env)
        except ConfigError as exc:
            print(f"upload-signer dev: configuration error: {exc}", file=sys.stderr)
            return 2
        api = f"http://127.0.0.1:{api_port}"
        # The console keeps the banner readable; every log line of the API goes to a file.
        log_path = data_dir / "api.log"
        log_file = log_path.open("a")
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    "gunicorn.conf.py",
                    "-b",
                    f"127.0.0.1:{api_port}",
                    "-w",
                    str(args.workers),
                    "wsgi:app",
                ],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        )
        log_file.close()  # the child has its own copy
        try:
            _wait_for(api + "/readyz", children[-1])
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log: {log_path}") from None
        # A hashed entry cannot be sent: then the page asks for a token instead.
        token = usable_token(env.get("API_TOKENS", "")) or ""
        print(f"API:             {api}")
        print(f"API log:         {log_path}")
        if (FRONTEND_DIR / "index.html").exists():
            # Also on disk, for whoever serves frontend/ with a server of their own.
            write_frontend_config(FRONTEND_DIR, api, token)
            page = FrontendServer(frontend_config(api, token).encode(), port=frontend_port)
            page.start()
            print(f"Frontend:        {page.origin}/  <- open this page")
        print(f"Token:           {token or '(API_TOKENS holds only hashes: use your own token)'}")
        print(f"\n{try_it(api, token)}\nCtrl-C stops everything.", flush=True)
        while all(child.poll() is None for child in children):
            if node:
                node.raise_if_dead()
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # one line for whatever stopped the stack
        print(f"upload-signer dev: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if page:
            page.stop()
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        if node:
            node.stop()
