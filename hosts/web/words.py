"""The words the pages show for states, steps and failure reasons, in one
place. A code without words here is shown as it is (`words_for`)."""

# The build host's timeline: each provisioning step, and the removal's.
STEP_LABELS = {
    "pull_image": "Pull the build-host image",
    "create_volumes": "Create the data and certs volumes",
    "create_container": "Create the container",
    "inject_certs": "Put the certificates in",
    "start": "Start it with mutual TLS",
    "wait_ready": "Wait until its API answers",
    "verify_registry": "Log in to the registries",
    "rollback": "Clean up after the failure",
    "remove_container": "Remove the container",
    "remove_volumes": "Remove the volumes",
    "cache": "Start on the owner's build cache",
    "keep_cache": "Keep the data volume as the owner's build cache",
    "trim": "Trim: prune dangling images and build cache",
    "lease_lapsed": "Its lease lapsed: no heartbeat came in time",
    "stop": "Stop the container, keeping its volumes",
    "resume_start": "Resume: start it again",
    "resume_wait_ready": "Resume: wait until its API answers",
    "claim": "Claimed from the pool: made ahead, ready at once",
}

# Failure reasons (hosts/engine/, hosts/buildhosts/provisioning.py,
# hosts/lib/failures.py, the reconciler) in plain words.
REASON_WORDS = {
    "image_not_found": "the image is not in the registry",
    "login_refused": "the registry refused the login",
    "unauthorized": "the registry refused the login",
    "unknown_authority": "a certificate is signed by a CA that is not trusted",
    "hostname_mismatch": "a certificate does not name the address it was reached at",
    "client_certificate_missing": "the engine wants a client certificate",
    "client_certificate_rejected": "the engine refused dchweb's client certificate",
    "tls_not_served": "TLS was expected but the other side does not speak it",
    "tls_required": "the other side speaks only TLS",
    "tls": "the TLS handshake failed",
    "connection_refused": "nothing answers at that address",
    "connection_reset": "the connection was cut",
    "unknown_host": "the host name does not resolve",
    "timeout": "no answer in time",
    "unreachable": "the endpoint does not answer",
    "out_of_disk": "the endpoint is out of disk space",
    "conflict": "a name is already taken on the engine",
    "not_found": "the engine did not find it",
    "no_port": "the engine published no port for the host's API",
    "host_exited": "the build host stopped right after it started",
    "not_ready": "the build host's API did not answer in time",
    "missing": "the container vanished from the engine",
    "adopted": "dchweb lost its record of this host and found it again",
    "internal": "dchweb itself failed at this step",
    "interrupted": "the worker doing this step stopped; another one took over",
    "host_not_ready": "the build host was not ready (busy with a build, or going away)",
    "failed": "the engine reported an error",
}

# A registry check (dchweb → registry, hosts/lib/registry_check.py) and a
# trust cell (an endpoint's engine → registry, hosts/registries/trust.py): the
# badge's words; the message under it says the rest.
REGISTRY_CHECK_WORDS = {
    **REASON_WORDS,
    "login_required": "needs a login",
    "login_refused": "login refused",
    "not_a_registry": "not a registry",
    "unknown_authority": "CA not trusted",
    "hostname_mismatch": "certificate names another host",
    "tls_not_served": "no TLS on this port",
    "connection_refused": "nothing answers",
    "unknown_host": "host name unknown",
    "timeout": "no answer in time",
    "connection_reset": "connection cut",
    "endpoint_disabled": "endpoint disabled",
    "endpoint_unreachable": "endpoint unreachable",
    "secret_unreadable": "password unreadable",
    "failed": "check failed",
}

# A volume's status (hosts/models.py, Volume.Status) as a badge says it.
VOLUME_STATUS_WORDS = {
    "in_use": "in use",
    "orphaned": "orphaned",
    "dangling": "dangling",
}

# A build's steps (hosts/builds/runner.py) in words.
BUILD_STEP_WORDS = {
    "provision": "getting the build host ready",
    "build": "building the image",
    "push": "pushing the image to the registry",
    "verify": "checking the registry serves the pushed image",
}

# A build fails for the build hosts' reasons (it may provision one) and these.
BUILD_REASON_WORDS = {
    **REASON_WORDS,
    "build_failed": "a step of the Dockerfile failed (see the log)",
    "not_pushed": "the registry does not serve the pushed image",
    "digest_mismatch": "the registry serves another digest than the one pushed",
    "context_missing": "the uploaded context is gone from dchweb's data folder",
    "no_build_host": "the build host is gone",
    "cancelled": "it was cancelled",
    "failed": "the engine reported an error",
}


def words_for(words: dict, code: str | None) -> str:
    """The words for `code`; an unknown code as it is; no code, ""."""
    if not code:
        return ""
    return words.get(code, code)


def stopped_words(host) -> str:
    """Why a stopped host stopped, and what became of it."""
    minutes = host.effective_idle_minutes
    if not minutes:
        return "Stopped; its volumes are kept."
    unit = "minute" if minutes == 1 else "minutes"
    return f"Stopped after {minutes} {unit} without activity; its volumes are kept."


def seconds_words(seconds: int) -> str:
    """48 → "48 s", 125 → "2 min 5 s", 3720 → "1 h 2 min": a lease counts
    in seconds, where the pages' relative times say "now"."""
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


def lease_words(renewed_ago: float, lapses_in: float) -> str:
    """ "renewed 12 s ago, lapses in 48 s" (or "lapsed 3 s ago": removed at
    the next pass)."""
    renewed = f"renewed {seconds_words(renewed_ago)} ago"
    if lapses_in > 0:
        return f"{renewed}, lapses in {seconds_words(lapses_in)}"
    lapsed = seconds_words(-lapses_in)
    return f"{renewed}, lapsed {lapsed} ago: removed at the next check"


def cleanup_rule_words(rule: dict, endpoint_names: dict) -> str:
    """A clean-up plan's rule (hosts/volumes/plans.py, make_plan) as a
    sentence: what it picked, never its keys. `endpoint_names`: id → name."""
    rule = rule or {}
    chosen = len(rule.get("volumes") or []) + len(rule.get("volume_names") or [])
    if chosen:
        picked = f"{chosen} volume{'' if chosen == 1 else 's'} chosen one by one"
    else:
        status = VOLUME_STATUS_WORDS.get(rule.get("status") or "orphaned", "")
        picked = f"dchweb's {status} volumes".replace("  ", " ")
    parts = [picked]
    endpoint_id = rule.get("endpoint_id")
    if endpoint_id is not None:
        parts.append(f"on {endpoint_names.get(endpoint_id, 'a removed endpoint')}")
    if rule.get("owner"):
        parts.append(f"owned by {rule['owner']}")
    days = rule.get("older_than_days")
    if days:
        parts.append(f"made {days} day{'' if days == 1 else 's'} ago or earlier")
    return " ".join(parts)


# The audit trail's detail keys (hosts/core/audit.py, record) as /audit/
# labels them; a key not here reads as its words ("build_host" → "Build host").
AUDIT_DETAIL_LABELS = {
    "docker_host": "DOCKER_HOST",
    "bytes": "Size",
    "fields": "Fields changed",
    "expires_at": "Expires",
    "superuser": "Superuser",
    "misses": "Listings missed",
}

# A notification's mail (/account/notifications/): "By mail: <words>".
MAIL_STATE_WORDS = {
    "pending": "not sent yet",
    "sent": "sent",
    "none": "not sent (no address, or the event is turned off)",
    "failed": "could not be sent",
}
