"""Check a registry the way a Docker client would: reach `https://<address>/v2/`
verifying with the registry's CA, then log in the Distribution way (Basic
auth, or a Bearer token from the realm the registry names).

Plain data in, a `CheckResult` out; never raises for a failed check. Uses
`requests`, not docker: dchweb itself is the client here. (Whether an
*endpoint's* engine can log in is hosts/engine/'s `registry_login`.)
"""

import contextlib
import re
import tempfile
from dataclasses import dataclass

import requests

from hosts.lib import failures

DEFAULT_TIMEOUT_SECONDS = 10
DISTRIBUTION_HEADER = "Docker-Distribution-Api-Version"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    reason: str  # "ok" or a failure code (see _MESSAGES)
    message: str

    def as_dict(self):
        return {"ok": self.ok, "reason": self.reason, "message": self.message}


_MESSAGES = {
    "ok": "the registry answered and the login was accepted",
    "ok_anonymous": "the registry answered; it needs no login",
    "connection_refused": "connection refused: nothing listens at this address "
    "and port",
    "timeout": "the registry did not answer in time: check the address, the "
    "port and any firewall between dchweb and the registry",
    "unknown_host": "the registry's host name does not resolve",
    "unknown_authority": "the registry's certificate is signed by an authority "
    "the registry's CA certificate does not cover: upload the CA that signed it",
    "hostname_mismatch": "the registry's certificate is not valid for this "
    "address: use the name in its certificate, or issue it one for this address",
    "tls_not_served": "the registry does not speak TLS on this port: check the port",
    "login_required": "the registry requires a login: set a username and password",
    "login_refused": "login refused: the registry did not accept this username "
    "and password",
    "not_a_registry": "no registry API here: https://{address}/v2/ is not a "
    "Docker registry (check the address and port)",
    "connection_reset": "the registry closed the connection",
    "failed": "the check failed: {detail}",
}


def result(reason, **values):
    values.setdefault("detail", "")
    values.setdefault("address", "")
    ok = reason in ("ok", "ok_anonymous")
    return CheckResult(
        ok=ok, reason="ok" if ok else reason, message=_MESSAGES[reason].format(**values)
    )


@contextlib.contextmanager
def registry_session(ca_pem=""):
    """A requests session that verifies with the registry's CA (the system's
    when there is none); REQUESTS_CA_BUNDLE must not override it."""
    with (
        tempfile.NamedTemporaryFile("w", suffix=".pem", prefix="dchweb-reg-") as ca,
        requests.Session() as session,
    ):
        session.trust_env = False
        session.verify = True
        if ca_pem:
            ca.write(ca_pem)
            ca.flush()
            session.verify = ca.name
        yield session


def check_registry(
    address, ca_pem="", username="", password="", timeout=DEFAULT_TIMEOUT_SECONDS
):
    """Reach the registry and log in; a CheckResult, never an exception."""
    with registry_session(ca_pem) as session:
        try:
            checked = _check(
                session, address, session.verify, username, password or "", timeout
            )
        except requests.RequestException as error:
            checked = classify(error)
        if checked.reason == "unknown_authority" and not ca_pem:
            return CheckResult(
                False,
                "unknown_authority",
                "the registry's certificate is signed by an authority this system "
                "does not trust: add the registry's CA certificate",
            )
        return checked


def _check(session, address, verify, username, password, timeout):
    url = f"https://{address}/v2/"
    get = lambda target, **kw: session.get(  # noqa: E731
        target, verify=verify, timeout=timeout, allow_redirects=False, **kw
    )
    response = get(url)
    if response.status_code == 200:
        return _registry_or_not(response, address, anonymous=True)
    if response.status_code != 401:
        return result("not_a_registry", address=address)
    challenge = response.headers.get("WWW-Authenticate", "")
    if not username:
        return result("login_required")
    scheme, params = parse_challenge(challenge)
    if scheme == "basic":
        response = get(url, auth=(username, password))
    elif scheme == "bearer" and params.get("realm"):
        query = {"service": params["service"]} if params.get("service") else {}
        token_response = get(params["realm"], params=query, auth=(username, password))
        if token_response.status_code in (401, 403):
            return result("login_refused")
        if token_response.status_code != 200:
            return result(
                "failed",
                detail=f"the token service answered HTTP {token_response.status_code}",
            )
        body = _json(token_response) or {}
        token = body.get("token") or body.get("access_token")
        if not token:
            return result("failed", detail="the token service returned no token")
        response = get(url, headers={"Authorization": f"Bearer {token}"})
    else:
        return result("not_a_registry", address=address)
    if response.status_code in (401, 403):
        return result("login_refused")
    if response.status_code == 200:
        return _registry_or_not(response, address, anonymous=False)
    return result("failed", detail=f"the registry answered HTTP {response.status_code}")


def _registry_or_not(response, address, *, anonymous):
    if DISTRIBUTION_HEADER not in response.headers and not isinstance(
        _json(response), dict
    ):
        return result("not_a_registry", address=address)
    return result("ok_anonymous" if anonymous else "ok")


def _json(response):
    """The body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header):
    """`Bearer realm="https://x/token",service="x"` → ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def classify(error):
    """What requests or ssl raised → a failed CheckResult with a reason."""
    if isinstance(error, requests.Timeout):
        return result("timeout")
    text = failures.full_text(error)
    reason = failures.reason_of(text)
    if reason in _MESSAGES:
        return result(reason)
    return result("failed", detail=failures.first_line(text))


# --- Is a pushed image really there? ------------------------------------------------

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


class ManifestUnavailable(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def manifest_digest(
    address,
    repository,
    reference,
    ca_pem="",
    username="",
    password="",
    timeout=DEFAULT_TIMEOUT_SECONDS,
):
    """The digest the registry serves for `repository:reference` (HEAD on
    the manifest, logged in as a client would); ManifestUnavailable if not."""
    response = manifest_answer(
        "HEAD", address, repository, reference, ca_pem, username, password, timeout
    )
    return response.headers["Docker-Content-Digest"]


def manifest_answer(
    method, address, repository, reference, ca_pem, username, password, timeout
):
    """The registry's answer to `method` (HEAD, GET) on the manifest of
    `repository:reference`, logged in as a client would, when it serves it
    with its digest; ManifestUnavailable, in words, when it does not."""
    url = f"https://{address}/v2/{repository}/manifests/{reference}"
    with registry_session(ca_pem) as session:
        session.headers["Accept"] = MANIFEST_TYPES
        try:
            response = logged_in(
                session, method, url, (repository, "pull"), username, password, timeout
            )
        except requests.RequestException as error:
            raise ManifestUnavailable(classify(error).message) from None
    if response.status_code != 200 or not response.headers.get("Docker-Content-Digest"):
        raise ManifestUnavailable(
            f"the registry does not serve {repository}:{reference} "
            f"(HTTP {response.status_code})"
        )
    return response


def logged_in(session, method, url, scope, username, password, timeout):
    """`method` on `url`, logged in as a Docker client would be when the
    registry asks (401): Basic, or a Bearer token for `scope` (repository,
    action) from the realm the registry names."""
    response = session.request(method, url, timeout=timeout, allow_redirects=False)
    if response.status_code != 401 or not username:
        return response
    kind, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
    if kind == "basic":
        return session.request(method, url, timeout=timeout, auth=(username, password))
    if kind != "bearer" or not params.get("realm"):
        return response
    repository, action = scope
    query = {"scope": f"repository:{repository}:{action}"}
    if params.get("service"):
        query["service"] = params["service"]
    answer = session.get(
        params["realm"], params=query, auth=(username, password), timeout=timeout
    )
    try:
        body = answer.json() if answer.status_code == 200 else {}
    except ValueError:
        body = {}
    token = (
        body.get("token") or body.get("access_token")
        if isinstance(body, dict)
        else None
    )
    if not token:
        return response
    return session.request(
        method, url, timeout=timeout, headers={"Authorization": f"Bearer {token}"}
    )
