"""A real Label Studio server for tests: started on 127.0.0.1 at a free port, shut down after.

Needs the ``labelstudio-test`` extra (``pip install -e '.[dev,labelstudio-test]'``). Tests skip
when it is missing, unless ``SYNTHGEN_REQUIRE_LABEL_STUDIO=1`` (set by ``.ci/run``) turns the
skip into a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.resources import label_studio_command, need

_STARTUP_SECONDS = 240


def label_studio_executable() -> str:
    """The ``label-studio`` command (``tests.resources.label_studio_command``), else a skip (a
    failure when required)."""
    executable = label_studio_command()
    if executable is None:
        need("server")  # skips, or fails where required (tests.resources)
    return executable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LabelStudio:
    """A running server: ``url`` (http://127.0.0.1:PORT) and the legacy API ``token``."""

    url: str
    token: str

    def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"Token {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method: str, path: str, body=None):
        status, content = self.request(method, path, body)
        assert 200 <= status < 300, f"{method} {path}: HTTP {status}: {content[:500]!r}"
        return json.loads(content) if content else None


@contextlib.contextmanager
def label_studio_server(data_dir: Path, document_root: Path) -> Iterator[LabelStudio]:
    """Start Label Studio serving local files below ``document_root``; stop it on exit.

    Args:
        data_dir: An empty folder for its database and media (``LABEL_STUDIO_BASE_DATA_DIR``).
        document_root: ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``: a Local Storage path must
            be a subfolder of it (equal to it is refused).
    """
    executable = label_studio_executable()
    port, token = _free_port(), "synthgen-test-token-0123456789"
    environment = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
                   "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
                   "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
                   "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": ""}
    log = open(data_dir / "server.log", "wb")
    process = subprocess.Popen(
        [executable, "start", "--no-browser", "--host", "127.0.0.1", "--port", str(port), "--username",
         "test@synthgen.local", "--password", "synthgen-test", "--user-token", token, "--enable-legacy-api-token"],
        env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = LabelStudio(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"label-studio exited with {process.returncode}:\n"
                                     + (data_dir / "server.log").read_text()[-3000:])
            with contextlib.suppress(OSError):
                if server.request("GET", "/api/current-user/whoami")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"label-studio did not answer within {_STARTUP_SECONDS} s:\n"
                                     + (data_dir / "server.log").read_text()[-3000:])
            time.sleep(1.0)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()
