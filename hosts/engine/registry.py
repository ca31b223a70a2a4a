"""Registry login from the engine (registry trust per endpoint), and what a
registry's answer, as the engine passes it on, means."""

from dataclasses import dataclass

import docker.errors

from hosts.engine.connections import open_client
from hosts.engine.errors import CLIENT_ERRORS, classify
from hosts.lib import failures


@dataclass(frozen=True)
class RegistryLoginResult:
    ok: bool
    reason: str  # "ok" or a failure code
    message: str


def registry_login(connection, address, username, password):
    """Ask the engine itself to log in to `address` (its /auth call).

    Says whether the engine can pull from that registry: a VCH deployed
    without `--registry-ca` (or an engine without the CA in certs.d) fails
    with unknown_authority. Failures to reach the *engine* raise EngineError;
    the registry's answer comes back as a RegistryLoginResult.
    """
    with open_client(connection) as client:
        try:
            log_in(client, username, password, address)
        except docker.errors.APIError as error:
            return _registry_login_failure(error)
        except CLIENT_ERRORS as e:
            raise classify(e) from e
    return RegistryLoginResult(True, "ok", "the engine logged in to the registry")


def log_in(client, username, password, address):
    """The engine's /auth call, with no docker config file of ours to read."""
    client.login(
        username=username,
        password=password,
        registry=address,
        reauth=True,
        dockercfg_path="/nonexistent/dchweb/config.json",
    )


def _registry_login_failure(error):
    text = failures.full_text(error)
    reason, message = registry_failure(text, "the engine's login failed")
    return RegistryLoginResult(False, reason, message)


def registry_failure(text, what):
    """(reason, message) for what a registry answered the engine."""
    lowered = text.lower()
    detail = registry_said(text)
    for needles, reason, message in _REGISTRY_LOGIN_CLASSIFIERS:
        if any(needle in lowered for needle in needles):
            return reason, f"{message} ({detail})"
    return "failed", f"{what}: {detail}"


def registry_said(text):
    """The engine's own words, without docker-py's "500 Server Error ..." prefix."""
    line = failures.first_line(text, 400)
    return line.split('("', 1)[1].rstrip('")') if '("' in line else line


_REGISTRY_LOGIN_CLASSIFIERS = (
    (
        ("certificate is valid for", "doesn't contain any ip sans", "not valid for"),
        "hostname_mismatch",
        "the registry's certificate is not valid for this address, as the engine "
        "reaches it",
    ),
    (
        ("x509", "certificate signed by unknown authority", "certificate verify"),
        "unknown_authority",
        "the engine does not trust the registry's CA: add it to the engine "
        "(on VIC, deploy the VCH with --registry-ca)",
    ),
    (
        ("unauthorized", "incorrect username or password", "401"),
        "login_refused",
        "login refused: the registry did not accept this username and password "
        "from the engine",
    ),
    (
        ("connection refused",),
        "connection_refused",
        "the engine cannot reach the registry: connection refused",
    ),
    (
        ("no such host", "name or service not known", "server misbehaving"),
        "unknown_host",
        "the engine cannot resolve the registry's host name",
    ),
    (
        ("timeout", "timed out", "deadline exceeded"),
        "timeout",
        "the registry did not answer the engine in time",
    ),
    (
        ("http response to https client", "tls: first record"),
        "tls_not_served",
        "the registry does not speak TLS on this port",
    ),
)
