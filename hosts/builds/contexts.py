"""Build contexts: uploaded archives checked before use, and archives made
from a Dockerfile (and small files) written in the page.

An archive is refused, with a message that says why, when a member would land
outside the context (`..`, an absolute path, a link pointing out), when it is
a device, when it is larger than allowed (packed or unpacked), or when the
Dockerfile is not in it. Archives are read member by member from disk, never
loaded into memory whole.
"""

import io
import posixpath
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from hosts.core.errors import Invalid

COPY_CHUNK = 1024 * 1024
MAX_MEMBERS = 100_000
MAX_WRITTEN_FILE_BYTES = 256 * 1024


class ContextInvalid(Invalid):
    code = "invalid_build"


@dataclass(frozen=True)
class StoredContext:
    name: str  # file name under the contexts folder
    size: int


def contexts_dir() -> Path:
    folder = Path(settings.DCHWEB_DATA_DIR) / "contexts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def path_of(name: str) -> Path:
    return contexts_dir() / name


def clean_dockerfile_path(dockerfile: str | None) -> str:
    path = (dockerfile or "").strip() or "Dockerfile"
    normal = _normal(path)
    if path.startswith("/") or normal is None:
        raise ContextInvalid(
            f"the Dockerfile path {path!r} must be relative and inside the context"
        )
    return normal


def store_upload(uploaded, dockerfile: str) -> StoredContext:
    """Copy an uploaded archive to the contexts folder and check it; a
    refused archive leaves no file behind."""
    limit = settings.DCHWEB_MAX_CONTEXT_BYTES
    if uploaded.size > limit:
        raise ContextInvalid(
            f"the context archive is {uploaded.size} bytes; the most allowed is {limit}"
        )
    name = f"{uuid.uuid4().hex}.tar"
    path = path_of(name)
    try:
        with path.open("wb") as out:
            for chunk in uploaded.chunks(COPY_CHUNK):
                out.write(chunk)
        check_archive(path, dockerfile)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StoredContext(name, path.stat().st_size)


def store_written(dockerfile_text: str, files: dict[str, str] | None = None):
    """An archive of a Dockerfile written in the page and a few small files."""
    if not (dockerfile_text or "").strip():
        raise ContextInvalid("write a Dockerfile, or upload a context archive")
    members = {"Dockerfile": dockerfile_text}
    for name, text in (files or {}).items():
        normal = _normal(name.strip())
        if name.strip().startswith("/") or normal in (None, "Dockerfile"):
            raise ContextInvalid(f"{name!r} is not a file name inside the context")
        if len(text.encode()) > MAX_WRITTEN_FILE_BYTES:
            raise ContextInvalid(
                f"{name} is larger than {MAX_WRITTEN_FILE_BYTES} bytes: upload an "
                "archive for large files"
            )
        members[normal] = text
    name = f"{uuid.uuid4().hex}.tar"
    path = path_of(name)
    with tarfile.open(path, "w") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return StoredContext(name, path.stat().st_size)


def read_dockerfile(name: str, dockerfile: str, limit=1024 * 1024) -> str:
    """The Dockerfile's text from a stored context ("" if unreadable)."""
    try:
        with tarfile.open(path_of(name), "r:*") as archive:
            for member in archive:
                if _normal(member.name) == dockerfile and member.isfile():
                    return (
                        archive.extractfile(member).read(limit).decode(errors="replace")
                    )
    except (tarfile.TarError, OSError, EOFError):
        return ""
    return ""


def discard(name: str) -> None:
    if name:
        path_of(name).unlink(missing_ok=True)


_NOT_AN_ARCHIVE = "this file is not a tar or tar.gz archive"
_CUT_SHORT = "this archive is cut short or damaged: make it again and upload that"


def check_archive(path: Path, dockerfile: str) -> None:
    """Raise ContextInvalid unless every member stays inside the context,
    the unpacked size is within the limit, and the Dockerfile is there."""
    try:
        found = _walk(path, dockerfile)
    except ContextInvalid:
        raise
    except EOFError:
        raise ContextInvalid(_CUT_SHORT) from None
    except (tarfile.TarError, OSError, ValueError) as error:
        # What tarfile says ("ReadError('not a gzip file') - method bz2: ...")
        # tells a person nothing they can act on: the words say it instead.
        cut_short = "unexpected end" in str(error).lower()
        raise ContextInvalid(_CUT_SHORT if cut_short else _NOT_AN_ARCHIVE) from None
    if not found:
        raise ContextInvalid(f"the context has no {dockerfile}")


def _walk(path, dockerfile) -> bool:
    """Check every member; True if the Dockerfile is among them."""
    unpacked, found = 0, False
    limit = settings.DCHWEB_MAX_CONTEXT_UNPACKED_BYTES
    # As a stream ("|"): read once, front to back. Random access ("r:*")
    # seeks back at every member, and in a gzip file a seek back decompresses
    # again from the start.
    with tarfile.open(path, "r|*") as archive:
        for count, member in enumerate(archive, start=1):
            if count > MAX_MEMBERS:
                raise ContextInvalid(f"the context has more than {MAX_MEMBERS} files")
            name = _check_member(member)
            unpacked += member.size
            if unpacked > limit:
                raise ContextInvalid(f"the context unpacks to more than {limit} bytes")
            found = found or (name == dockerfile and member.isfile())
    return found


def _check_member(member) -> str:
    name = _normal(member.name)
    escapes = ".." in member.name.replace("\\", "/").split("/")
    if member.name.startswith("/") or name is None or escapes:
        raise ContextInvalid(
            f"{member.name!r} would land outside the context (absolute path or '..')"
        )
    if member.isdev() or member.isfifo():
        raise ContextInvalid(f"{member.name!r} is a device or a pipe")
    if member.issym():
        target = member.linkname
        inside = _normal(posixpath.join(posixpath.dirname(name), target))
        if target.startswith("/") or inside is None:
            raise ContextInvalid(
                f"{member.name!r} is a link to {target!r}, outside the context"
            )
    if member.islnk() and (
        member.linkname.startswith("/") or _normal(member.linkname) is None
    ):
        raise ContextInvalid(
            f"{member.name!r} is a hard link to {member.linkname!r}, outside the "
            "context"
        )
    return name


def _normal(path: str) -> str | None:
    """The path relative to the context's root, or None if it leaves it."""
    parts = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) if parts else "."
