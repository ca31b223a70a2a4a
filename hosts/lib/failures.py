"""What went wrong on the wire, in one word.

Both dchweb's own clients (hosts/lib/registry_check.py, with requests) and the
engine adapter (hosts/engine/, with docker-py) meet the same network and TLS
failures, wrapped differently; each names them here and words them for its
own users.
"""

import re
import ssl

# Order matters: the specific TLS failures come before the generic ones.
_NEEDLES = (
    ("hostname mismatch", "hostname_mismatch"),
    ("ip address mismatch", "hostname_mismatch"),
    ("doesn't match", "hostname_mismatch"),
    ("certificate verify failed", "unknown_authority"),
    # The server refused our client certificate, or wanted one we lacked.
    ("certificate required", "client_certificate_missing"),
    ("alert bad certificate", "client_certificate_rejected"),
    ("alert unknown ca", "client_certificate_rejected"),
    ("wrong version number", "tls_not_served"),
    ("record layer failure", "tls_not_served"),
    ("packet length too long", "tls_not_served"),
    ("http request to an https server", "tls_required"),
    ("connection refused", "connection_refused"),
    # A unix socket path where nothing listens.
    ("no such file or directory", "connection_refused"),
    ("timed out", "timeout"),
    ("name or service not known", "unknown_host"),
    ("temporary failure in name resolution", "unknown_host"),
    ("nodename nor servname", "unknown_host"),
    ("no address associated", "unknown_host"),
    ("failed to resolve", "unknown_host"),
    ("connection reset", "connection_reset"),
    # The peer went away mid-request (an engine stopping, a proxy cut).
    ("remote end closed connection", "connection_reset"),
    ("connection aborted", "connection_reset"),
    ("broken pipe", "connection_reset"),
    # A stream cut mid-body (an engine stopping during a push): urllib3's
    # "Connection broken: IncompleteRead", or TLS closed without its goodbye.
    ("connection broken", "connection_reset"),
    ("eof occurred in violation of protocol", "connection_reset"),
)


def reason_of(text):
    """The failure's reason code, or None when the text names none we know."""
    lowered = text.lower()
    for needle, reason in _NEEDLES:
        if needle in lowered:
            return reason
    return None


def full_text(error):
    """The messages of an exception and of everything that caused it: the
    telling part (an ssl reason, errno text) is often three causes deep."""
    parts = []
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts.append(str(error))
        # An SSLError made outside the ssl module has no `reason` at all.
        if isinstance(error, ssl.SSLError) and getattr(error, "reason", None):
            parts.append(str(error.reason))
        error = error.__cause__ or error.__context__
    return " | ".join(parts)


# docker-py words an engine's refusal as `<status> Client Error for <URL>:
# <Reason> ("<the engine's own words>")`: the URL says nothing to a person.
_DOCKER_PY_WRAPPER = re.compile(
    r'^\d{3} (?:Client|Server) Error for \S+: [^("]*\("(?P<said>.*)"\)\s*$', re.S
)
_DOCKER_PY_BARE = re.compile(r"^(?P<status>\d{3}) (?:Client|Server) Error for \S+: ")


def engine_said(line):
    """The engine's own words out of docker-py's wrapper around them; any
    other text as it is."""
    wrapped = _DOCKER_PY_WRAPPER.match(line)
    if wrapped:
        return wrapped.group("said").strip()
    # No words of the engine's: the status and its reason, without the URL.
    return _DOCKER_PY_BARE.sub(r"\g<status> ", line, count=1)


def first_line(text, limit=2000):
    """The first message of `full_text`, in the engine's own words, whole up
    to `limit` and never cut inside a word (shortened ones end in "…")."""
    return shorten(engine_said(text.split(" | ")[0]), limit)


def shorten(text, limit):
    """`text` whole if it fits in `limit`, else cut at the last space before."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
