"""The ``upload-signer`` command."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from ..embedded.node import EmbeddedSwift, EmbeddedSwiftError
from ..settings.parsers import ConfigError, parse_size
from ..settings.service import Settings
from ..storage.factory import open_store
from ..storage.interface import StorageError
from ..uploads.gc import collect_garbage, parse_duration
from .check import run_check as check_storage
from .dev import run_dev

DEFAULT_DATA_DIR = Path(".data/swift")


def size_argument(text: str) -> int:
    try:
        value = parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("size must be positive")
    return value


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def run_check(args: argparse.Namespace) -> int:
    """Diagnose the storage setup with the service's own environment."""
    # The report says what failed; library warnings would repeat it (swiftclient's, with a token).
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("swiftclient").setLevel(logging.CRITICAL + 1)
    return check_storage(fix=args.fix)


def run_storage(args: argparse.Namespace) -> int:
    """Run a real single-node Swift in the foreground until SIGINT/SIGTERM."""
    node = EmbeddedSwift(
        args.data_dir, port=args.port, host=args.host, max_file_size=args.max_file_size
    )
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        credentials = node.start()
        for name, value in credentials.as_env().items():
            print(f"{name}={value}", flush=True)
        print(
            f"Swift is running at {node.url} (data in {node.data_dir}); Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )
        while True:
            node.raise_if_dead()
            time.sleep(0.5)
    except _Stop:
        return 0
    except EmbeddedSwiftError as exc:
        print(f"upload-signer storage: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.stop()


def run_gc(args: argparse.Namespace) -> int:
    """Delete what uploads never completed or aborted left, with the service's configuration."""
    try:
        settings = Settings.from_env()
        store = open_store(settings)
        store.authenticate()
        report = collect_garbage(store, settings, args.older_than, dry_run=args.dry_run)
    except ConfigError as exc:
        print(f"upload-signer gc: configuration error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"upload-signer gc: {exc}", file=sys.stderr)
        return 1
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {report.segments_removed} objects: {report.uploads_removed} stale uploads, "
          f"{report.uploads_aborted} aborted ones; kept {report.uploads_kept} uploads "
          "(completed or still active)")  # fmt: skip
    return 0


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upload-signer",
        description="Signs Swift TempURLs so browsers upload straight to object storage.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    storage = commands.add_parser(
        "storage", help="run a real single-node OpenStack Swift on 127.0.0.1 (development, tests)"
    )
    storage.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"where objects, rings and configs live (default {DEFAULT_DATA_DIR})",
    )
    storage.add_argument("--port", type=int, default=8080, help="proxy port (default 8080)")
    storage.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    storage.add_argument(
        "--max-file-size",
        type=size_argument,
        default=None,
        metavar="BYTES",
        help="largest single object, e.g. 10M (default: Swift's 5 GiB)",
    )
    storage.set_defaults(run=run_storage)

    check = commands.add_parser(
        "check",
        help="diagnose storage for browser uploads: auth, container CORS, TempURL key, round trip",
        description="Reads the same environment as the service. Prints one line per step and "
        "exits 1 if any fails (2 for a configuration error). Changes nothing in storage but its "
        "own test object, unless --fix is given.",
    )
    check.add_argument(
        "--fix",
        action="store_true",
        help="first apply the start-up preparation: container, CORS metadata, TempURL key",
    )
    check.set_defaults(run=run_check)

    dev = commands.add_parser(
        "dev", help="run Swift, the API and the frontend together for local development"
    )
    dev.add_argument("--data-dir", type=Path, default=Path(".data"))
    dev.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", 8000)))
    dev.add_argument(
        "--frontend-port", type=int, default=int(os.environ.get("FRONTEND_PORT", 8001))
    )
    dev.add_argument("--storage-port", type=int, default=int(os.environ.get("STORAGE_PORT", 8080)))
    dev.add_argument("--workers", type=int, default=2)
    dev.set_defaults(run=run_dev)

    gc = commands.add_parser(
        "gc",
        help="delete what uploads never completed (or aborted) left in the segments container",
    )
    gc.add_argument(
        "--older-than",
        type=_duration,
        default=86_400,
        metavar="AGE",
        help="uploads never completed whose newest piece is older than this (default 24h); "
        "an aborted upload's pieces go whatever their age",
    )
    gc.add_argument("--dry-run", action="store_true", help="report, delete nothing")
    gc.set_defaults(run=run_gc)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (`upload-signer check | head -1`): stop quietly, as cat does.
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command ended by a broken pipe


if __name__ == "__main__":
    sys.exit(main())
