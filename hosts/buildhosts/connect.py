"""How a build host's owner points their `docker` CLI at it: the docker
context file ("Download as docker context") and the commands the host's page
shows, made from the same names so that what the page says matches the files.

The context file is what `docker context export` writes and `docker context
import NAME FILE` reads (docker/cli, cli/context/store): a tar holding
`meta.json` (the context's metadata: its one endpoint, "docker", and where
that endpoint is) and `tls/docker/{ca,cert,key}.pem`. It carries the owner's
own client certificate, as the TLS bundle does: whoever holds the file opens
this host, and only this one (each host has a CA of its own).
"""

import io
import json
import re
import shlex
import tarfile
import time

from hosts.buildhosts.commands import BuildHostConflict
from hosts.models import BuildHost

# The docker CLI's name for the engine endpoint of a context; its TLS files
# live under tls/<endpoint>/ in the file.
DOCKER_ENDPOINT = "docker"
# The folder the page tells the owner to unzip the TLS bundle into.
BUNDLE_FOLDER = "~/dchweb/{short_id}"
# Inside double quotes the shell expands $HOME but not ~ (and docker expands
# neither), so the `docker context create` line spells the folder this way.
BUNDLE_FOLDER_QUOTED = "$HOME/dchweb/{short_id}"
# What the shell treats specially inside double quotes.
_SPECIAL_IN_DOUBLE_QUOTES = re.compile(r'(["$`\\])')


def context_name(host: BuildHost) -> str:
    """The context's name: one `docker context` accepts (a letter or digit,
    then letters, digits, `_.+-`; never "default"), with part of the host's
    id, so that two hosts of the same name make two contexts."""
    return f"{host.name}-{host.short_id[:6]}"


def docker_context_filename(host: BuildHost) -> str:
    # The name `docker context export` gives its file.
    return f"{context_name(host)}.dockercontext"


def docker_context_file(host: BuildHost) -> bytes:
    """The file `docker context import NAME FILE` reads, for the owner's
    client certificate. BuildHostConflict (409) while the host does not run
    (its port may change until it does) or when dchweb holds no certificate
    of the owner's for it."""
    _check_connectable(host)
    meta = {
        "Name": context_name(host),
        "Metadata": {"Description": _description(host)},
        "Endpoints": {
            DOCKER_ENDPOINT: {"Host": host.docker_host, "SkipTLSVerify": False}
        },
    }
    files = {
        "ca.pem": host.ca_pem,
        "cert.pem": host.owner_cert_pem,
        "key.pem": host.get_secret("owner_key"),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        _add_file(archive, "meta.json", json.dumps(meta).encode(), 0o644)
        _add_folder(archive, "tls")
        _add_folder(archive, f"tls/{DOCKER_ENDPOINT}")
        for filename, pem in files.items():
            path = f"tls/{DOCKER_ENDPOINT}/{filename}"
            _add_file(archive, path, pem.encode(), 0o600)
    return buffer.getvalue()


def connect_commands(host: BuildHost) -> dict[str, str]:
    """The shell lines of each way to connect, as the page shows them:
    `unzip` (the TLS bundle into its folder), then any of `environment`,
    `context` (`docker context create`) and `flags`; `import` for the docker
    context file. Each ends with `docker info`, which shows it works."""
    folder = BUNDLE_FOLDER.format(short_id=host.short_id)
    quoted_folder = BUNDLE_FOLDER_QUOTED.format(short_id=host.short_id)
    name = context_name(host)
    address = shlex.quote(host.docker_host)
    endpoint = ",".join(
        [
            f"host={_in_double_quotes(host.docker_host)}",
            f"ca={quoted_folder}/ca.pem",
            f"cert={quoted_folder}/cert.pem",
            f"key={quoted_folder}/key.pem",
        ]
    )
    return {
        # unzip -d makes the last folder of the path only.
        "unzip": f"mkdir -p {folder}\nunzip -o {host.tls_bundle_filename} -d {folder}",
        "environment": "\n".join(
            [
                f"export DOCKER_HOST={address}",
                "export DOCKER_TLS_VERIFY=1",
                f"export DOCKER_CERT_PATH={folder}",
                "docker info",
            ]
        ),
        "context": "\n".join(
            [
                f'docker context create {name} --docker "{endpoint}"',
                f"docker --context {name} info",
            ]
        ),
        "flags": "\n".join(
            [
                f"cd {folder}",
                "docker --tlsverify --tlscacert ca.pem --tlscert cert.pem"
                f" --tlskey key.pem -H {address} info",
            ]
        ),
        "import": "\n".join(
            [
                f"docker context import {name} {docker_context_filename(host)}",
                f"docker --context {name} info",
            ]
        ),
    }


def _check_connectable(host: BuildHost) -> None:
    if not (host.is_running and host.docker_host):
        raise BuildHostConflict(
            f"build host “{host.name}” is {host.get_state_display().lower()}: "
            "its docker context can be downloaded while it is ready",
            code="not_ready",
        )
    if not host.owner_cert_pem:
        raise BuildHostConflict(
            "dchweb holds no client certificate for this build host (it was "
            "adopted from the engine): remove it and create a new one",
            code="no_certificate",
        )


def _description(host: BuildHost) -> str:
    return f"dchweb build host {host.name} ({host.short_id}) on {host.endpoint.name}"


def _in_double_quotes(text: str) -> str:
    return _SPECIAL_IN_DOUBLE_QUOTES.sub(r"\\\1", text)


def _add_folder(archive: tarfile.TarFile, path: str) -> None:
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE
    info.mode = 0o700
    info.mtime = int(time.time())
    archive.addfile(info)


def _add_file(archive: tarfile.TarFile, path: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))
