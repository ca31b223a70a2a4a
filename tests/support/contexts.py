"""Build contexts for tests: tiny images made from busybox, as archives."""

import gzip
import io
import tarfile
import time


def archive(files: dict[str, bytes], *, gzipped=False, extra=()) -> bytes:
    """A tar (or tar.gz) of {name: bytes}; `extra` adds raw TarInfo members
    (links, absolute names) as they are, to build hostile archives."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o755 if name.endswith("busybox") else 0o644
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    data = buffer.getvalue()
    return gzip.compress(data) if gzipped else data


def hello_context(busybox, text="hello from dchweb", *, gzipped=True) -> bytes:
    dockerfile = (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        "ARG GREETING=unset\n"
        f'CMD ["/bin/busybox", "echo", "{text}"]\n'
    ).encode()
    return archive({"Dockerfile": dockerfile, "busybox": busybox}, gzipped=gzipped)


def slow_context(busybox, seconds=300) -> bytes:
    dockerfile = (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "sh", "-c", '
        f'"echo sleeping; /bin/busybox sleep {seconds}"]\n'
    ).encode()
    return archive({"Dockerfile": dockerfile, "busybox": busybox})


def symlink(name, target) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def plain(name, size=1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info
