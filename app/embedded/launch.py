"""Entry point of one Swift server process: ``python -m app.embedded.launch KIND CONF``.

Swift reads ``swift.conf`` (hash suffix, storage policies, constraints such as ``max_file_size``)
from ``/etc/swift`` at import time. Pointing ``SWIFT_CONF_FILE`` at our own file *before* the
server modules are imported lets the embedded store live entirely in its data directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import signal
import sys

SERVER_MODULES = {
    "account": "swift.account.server",
    "container": "swift.container.server",
    "object": "swift.obj.server",
    "proxy": "swift.proxy.server",
}
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Swift servers call setsid(), so a killed parent's process group no longer reaches them."""
    # Off Linux this fails quietly: the storage command still stops its servers on a clean exit.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main() -> None:
    kind, conf_path = sys.argv[1], sys.argv[2]
    die_with_parent()
    import swift.common.utils

    swift.common.utils.SWIFT_CONF_FILE = os.environ["UPLOAD_SIGNER_SWIFT_CONF"]
    server = importlib.import_module(SERVER_MODULES[kind])
    sys.argv = [f"swift-{kind}-server", conf_path, "--verbose"]
    server.main()


if __name__ == "__main__":
    main()
