"""The engine's errors: each with a `reason` code and a message written for
the person who has to fix it, and the translation of what docker-py, requests
or ssl raised into them."""

import docker.errors
import requests
import urllib3.exceptions

from hosts.lib import failures

# What a docker-py call raises when the engine or the way to it fails. A
# stream docker-py reads from the raw response raises urllib3's own errors
# (requests wraps them only for what it reads itself).
CLIENT_ERRORS = (
    docker.errors.DockerException,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)


class EngineError(Exception):
    """A Docker engine call failed; `reason` says why in one word."""

    reason = "failed"

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


class EngineUnreachable(EngineError):
    reason = "unreachable"


class EngineTLSError(EngineError):
    reason = "tls"


class EngineVersionUnsupported(EngineError):
    reason = "api_version_unsupported"


class EngineNotFound(EngineError):
    reason = "not_found"


class EngineConflict(EngineError):
    reason = "conflict"


class StreamFailed(EngineError):
    """The engine reported an error inside a 200 stream (docker-py does not
    raise for those); `message` is the engine's own words."""

    reason = "build_failed"


class StreamStopped(EngineError):
    reason = "cancelled"


def call(function, *args, **kwargs):
    """`function(*args, **kwargs)`, with what the client raised as an EngineError."""
    try:
        return function(*args, **kwargs)
    except CLIENT_ERRORS as e:
        raise classify(e) from e


def classify(error):
    """Turn what docker-py, requests or ssl raised into an EngineError."""
    text = failures.full_text(error)
    reason = failures.reason_of(text)
    if reason in _FAILURES:
        kind, message = _FAILURES[reason]
        return kind(message, reason=reason)
    if "client version" in text.lower():
        return EngineVersionUnsupported(
            f"the engine refused dchweb's API version: {failures.first_line(text)}"
        )
    return EngineError(f"the engine call failed: {failures.first_line(text)}")


def stream_error(chunk):
    """The error text of a stream chunk ("" when the chunk is not an error)."""
    return (chunk.get("errorDetail") or {}).get("message") or chunk.get("error", "")


def out_of_disk():
    return EngineError("the endpoint is out of disk space", reason="out_of_disk")


def check_ours(found_labels, wanted_labels, what):
    """An object that exists already is ours only if it has all our labels."""
    if any(found_labels.get(key) != value for key, value in wanted_labels.items()):
        raise EngineConflict(f"{what} already exists on the engine and is not ours")


# Each failure worded for the admin who has to fix the endpoint.
_FAILURES = {
    "hostname_mismatch": (
        EngineTLSError,
        "the engine's certificate is not valid for this host name or address: use "
        "the name or address in its certificate, or issue it one for this address",
    ),
    "unknown_authority": (
        EngineTLSError,
        "the engine's certificate is signed by an authority the endpoint's CA "
        "certificate does not cover: upload the CA that signed it",
    ),
    "client_certificate_missing": (
        EngineTLSError,
        "the engine requires a client certificate: add the endpoint's client "
        "certificate and key",
    ),
    "client_certificate_rejected": (
        EngineTLSError,
        "the engine rejected the client certificate: it was not issued by the CA "
        "the engine trusts, or it is missing",
    ),
    "tls_not_served": (
        EngineTLSError,
        "the engine does not speak TLS on this port: set the endpoint's TLS mode "
        "to none, or use its TLS port",
    ),
    "tls_required": (
        EngineTLSError,
        "the engine serves TLS: set the endpoint's TLS mode to tls or tlsverify",
    ),
    "connection_refused": (
        EngineUnreachable,
        "connection refused: nothing listens at this address and port (or, for a "
        "unix socket, no engine socket at this path)",
    ),
    "timeout": (
        EngineUnreachable,
        "the engine did not answer in time: check the address, the port and any "
        "firewall between dchweb and the engine",
    ),
    "unknown_host": (EngineUnreachable, "the engine's host name does not resolve"),
    "connection_reset": (
        EngineUnreachable,
        "the engine closed the connection: it may require a client certificate "
        "or speak another protocol on this port",
    ),
}
