"""Build logs as append-only files in DCHWEB_DATA_DIR: written as the build
streams, read by offset (API, live page) or streamed whole (download); never
loaded into memory whole."""

import os
from pathlib import Path

from django.conf import settings

MAX_CHUNK_BYTES = 64 * 1024
TAIL_BYTES = 16 * 1024
# The largest offset a reader may ask for, pages and API alike. It is more
# than any log holds; beyond it an offset is refused (a 400), not a 500 from a
# seek or a database integer overflow. 2**53 is the largest integer a
# JavaScript number holds exactly, so a browser's poller never rounds one.
MAX_LOG_OFFSET = 2**53


def path_of(build_id) -> Path:
    folder = Path(settings.DCHWEB_DATA_DIR) / "build-logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{build_id}.log"


def append(build_id, text: str) -> int:
    """Append; returns the log's size afterwards."""
    with path_of(build_id).open("ab") as log:
        log.write(text.encode(errors="replace"))
        return log.tell()


def size(build_id) -> int:
    path = path_of(build_id)
    return path.stat().st_size if path.exists() else 0


def read(build_id, offset: int, limit: int = MAX_CHUNK_BYTES) -> tuple[bytes, int]:
    """Up to `limit` bytes from `offset`, and the offset to ask for next."""
    path = path_of(build_id)
    if not path.exists():
        return b"", 0
    with path.open("rb") as log:
        # Past the end there is nothing yet; a seek far past it fails.
        offset = min(max(0, offset), os.fstat(log.fileno()).st_size)
        log.seek(offset)
        data = log.read(max(0, min(limit, MAX_CHUNK_BYTES)))
    return data, offset + len(data)


def tail(build_id, limit: int = TAIL_BYTES) -> tuple[str, int, bool]:
    """The last `limit` bytes, from a line start: (text, next offset, cut)."""
    end = size(build_id)
    start = max(0, end - limit)
    data, next_offset = read(build_id, start, limit)
    cut = start > 0
    if cut and b"\n" in data:
        data = data[data.index(b"\n") + 1 :]
    return data.decode(errors="replace"), next_offset, cut
