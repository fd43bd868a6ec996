"""``hightide serve``: start the Streamlit dashboard on this machine.

Bound to 127.0.0.1 unless told otherwise; no usage statistics, no file watcher, no static file
serving, a headless server (it never opens a browser or asks questions on the terminal).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DASHBOARD = Path(__file__).with_name("dashboard.py")
DEFAULT_PORT = 8501


def command(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> list[str]:
    """The Streamlit command line that serves the dashboard."""
    return [sys.executable, "-m", "streamlit", "run", str(DASHBOARD),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--server.enableStaticServing", "false",
            "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer",
            "--global.developmentMode", "false"]


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
    """Run the dashboard until interrupted. On POSIX this process becomes the Streamlit server
    (exec), so a signal to it stops the server and leaves no orphan; elsewhere it waits for it."""
    try:
        import streamlit  # noqa: F401
    except ImportError as exc:  # pragma: no cover - a dependency of hightide
        raise RuntimeError("the dashboard needs streamlit (pip install streamlit)") from exc
    argv = command(host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(argv[0], argv)  # does not return
    try:  # pragma: no cover - not POSIX
        return subprocess.call(argv)
    except KeyboardInterrupt:  # pragma: no cover
        return 130
