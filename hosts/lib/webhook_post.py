"""Posting a signed JSON body to a webhook's URL: plain HTTP, no models.

The receiver checks `X-Dchweb-Signature` (HMAC-SHA256 of the raw body with
the webhook's secret) to know the body came from dchweb, unchanged, and drops
a repeat by `X-Dchweb-Delivery`."""

import hashlib
import hmac
import http.client
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

USER_AGENT = "dchweb-webhook/1"
# What is kept of a receiver's answer to say why it refused.
ANSWER_EXCERPT_BYTES = 300


def signature(secret: str, body: bytes) -> str:
    """The X-Dchweb-Signature header's value for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class Answer:
    """How one POST went: `code` is the HTTP status (None: no answer at
    all), `error` says in words what went wrong ("" when it was a 2xx)."""

    code: int | None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET without its body: a 3xx is an
    # answer to record, not somewhere else to go.
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict, timeout: float) -> Answer:
    """POST `body` (JSON) to `url` with `headers`, waiting at most `timeout`
    seconds for each step (connect, each read)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **headers,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(ANSWER_EXCERPT_BYTES)
            return Answer(response.status)
    except urllib.error.HTTPError as error:
        return Answer(error.code, _refusal(error))
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:g} s")
    except urllib.error.URLError as error:
        return Answer(None, _unreachable(error.reason))
    except (http.client.HTTPException, OSError) as error:
        return Answer(None, _unreachable(error))


def _refusal(error: urllib.error.HTTPError) -> str:
    try:
        excerpt = error.read(ANSWER_EXCERPT_BYTES).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException):
        excerpt = ""
    words = f"the receiver answered {error.code} {error.reason}".rstrip()
    return f"{words}: {excerpt}" if excerpt else words


def _unreachable(reason) -> str:
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, ConnectionRefusedError):
        return "nothing answers at that address (connection refused)"
    if isinstance(reason, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(reason, ssl.SSLError):
        return f"the TLS handshake failed: {reason}"
    if isinstance(reason, (http.client.RemoteDisconnected, ConnectionResetError)):
        return "the receiver closed the connection without an answer"
    return f"the receiver could not be reached: {reason}"
