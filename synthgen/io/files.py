"""Atomic file writes and streamed JSON: what every writer in io builds on.

Each file is written to a temporary name beside it and renamed into place, so a reader
never sees a partial file and a failed write leaves what was there before.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from synthgen.core.errors import InputError

__all__ = ["OMIT", "open_atomic", "write_bytes_atomic", "write_json_atomic", "write_json_list_streamed", "write_json_streamed"]

OMIT = object()  # a streamed JSON field's callable returns this to leave its key out


@contextlib.contextmanager
def open_atomic(path: Path, mode: str = "wb"):
    """An open temporary file that replaces ``path`` when the block ends without error.

    Raises:
        InputError: The file cannot be written (disk full, permissions, file size
            limit); the temporary is removed and nothing committed is touched.
    """
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(temporary, mode) as handle:
            yield handle
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise InputError(
            f"{path}: cannot write ({error.strerror or error}); free disk space or fix permissions, "
            "then run the same command with resume=true (committed samples are intact)"
        ) from error
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename (see ``open_atomic``)."""
    with open_atomic(path, "wb") as handle:
        handle.write(data)


def write_json_atomic(path: Path, value, indent: int | None = 1) -> None:
    """Write ``value`` as key-sorted JSON (compact when ``indent`` is None), atomically."""
    separators = (",", ":") if indent is None else None
    text = json.dumps(value, indent=indent, separators=separators, sort_keys=True, allow_nan=False)
    write_bytes_atomic(path, (text + "\n").encode())


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


def _write_items(handle, items: Iterable) -> None:
    handle.write("[")
    for number, item in enumerate(items):
        handle.write(("," if number else "") + _dumps(item))
    handle.write("]")


def write_json_streamed(path: Path, fields: Mapping[str, object]) -> None:
    """Write a JSON object item by item, atomically, so memory does not grow with list lengths.

    Keys are written sorted. A value that is an iterator (a generator) is written as a JSON
    array one item at a time; a callable is called when its key is reached (so it can return
    what an earlier key's iterator gathered, or ``OMIT`` to leave the key out); anything else
    is dumped whole. The bytes equal ``write_json_atomic(path, materialized, indent=None)``.
    """
    with open_atomic(path, "w") as handle:
        handle.write("{")
        written = 0
        for key in sorted(fields):
            value = fields[key]
            value = value() if callable(value) else value
            if value is OMIT:
                continue
            handle.write(("," if written else "") + _dumps(key) + ":")
            written += 1
            if isinstance(value, Iterator):
                _write_items(handle, value)
            else:
                handle.write(_dumps(value))
        handle.write("}\n")


def write_json_list_streamed(path: Path, items: Iterable) -> None:
    """Write a JSON array one item at a time (compact, keys sorted), atomically."""
    with open_atomic(path, "w") as handle:
        _write_items(handle, items)
        handle.write("\n")
