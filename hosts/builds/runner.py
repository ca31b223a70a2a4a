"""Running a build: provision (ephemeral host), build, push, verify, clean up.

Every chunk of the build and push streams goes to the build's log file as it
arrives; an error inside a 200 stream fails the build with the engine's words.
A push counts only when the registry serves the manifest with the digest the
engine reported. Run twice (a redelivered task), a build starts over: build
and push are safe to repeat.
"""

import logging
import threading
import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from hosts import engine
from hosts.buildhosts import provisioning
from hosts.builds import contexts
from hosts.builds import logs as buildlogs
from hosts.core import audit, leases
from hosts.lib import registry_check, registry_manifests
from hosts.models import AuditEvent, Build, BuildHost, BuildHostImage, PushedImage
from hosts.notifications import outbox, payloads
from hosts.volumes import caches

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=40)
CANCEL_POLL_SECONDS = 0.5
HOST_SETTLE_TIMEOUT_SECONDS = 300
SYSTEM = AuditEvent.Source.TASK
DONE, SKIPPED, LEASE_BUSY = "done", "skipped", "lease_busy"


class BuildStepFailed(Exception):
    def __init__(self, step: str, reason: str, message: str):
        super().__init__(message)
        self.step = step
        self.reason = reason
        self.message = message


class BuildCancelled(Exception):
    pass


def run(build_id, worker: str) -> str:
    # One client per engine for the whole build (its host's provision, the
    # build, the push, the removal): one TLS handshake with the build host,
    # not one per call.
    with engine.reusing_clients():
        return _run(build_id, worker)


def _run(build_id, worker: str) -> str:
    build = (
        Build.objects.select_related("build_host", "registry")
        .filter(pk=build_id)
        .first()
    )
    if build is None:
        return SKIPPED
    if build.is_final:
        _end_ephemeral_host(build, worker)
        return SKIPPED
    if not leases.take(Build, build.pk, worker, LEASE):
        return LEASE_BUSY
    watcher = _CancelWatcher(build.pk)
    try:
        _start(build)
        host = _host_for(build, worker)
        _set_host_busy(host)
        watcher.start(host)
        image_id = _build(build, host, watcher)
        digest = _push_all(build, host, watcher, worker) if build.push else ""
        _finish(build, Build.State.SUCCEEDED, image_id=image_id, digest=digest)
    except (BuildCancelled, engine.StreamStopped):
        _finish(build, Build.State.CANCELLED)
    except BuildStepFailed as failure:
        if watcher.cancelled:
            _finish(build, Build.State.CANCELLED)
        else:
            _fail(build, failure)
    except Exception as error:
        logger.exception("build %s crashed", build.pk)
        _fail(build, BuildStepFailed(build.step, "internal", f"dchweb failed: {error}"))
    finally:
        watcher.stop()
        _release_host(build)  # again: a crash inside _finish must not keep it busy
        _end_ephemeral_host(build, worker)
        contexts.discard(build.context_name)
        leases.release(Build, build.pk, worker)
    return DONE


def interrupted(now=None, grace=timedelta(0)):
    """Unfinished builds nobody runs (untouched for `grace`)."""
    now = now or timezone.now()
    return Build.objects.filter(
        leases.unowned(now), updated_at__lte=now - grace, cancel_requested=False
    ).exclude(state__in=Build.FINAL_STATES)


def _start(build):
    build.started_at = build.started_at or timezone.now()
    build.error, build.error_reason = "", ""
    build.save(update_fields=["started_at", "error", "error_reason", "updated_at"])
    if buildlogs.size(build.pk):
        _log(build, "\n--- started again (the previous worker stopped) ---\n")


def _set_state(build, state, step):
    build.state, build.step = state, step
    build.save(update_fields=["state", "step", "updated_at"])
    logger.info("build %s: %s", build.short_id, state)


def _log(build, text):
    buildlogs.append(build.pk, text)


# --- The build host -----------------------------------------------------------------


def _host_for(build, worker) -> BuildHost:
    host = build.build_host
    if host is None:
        raise BuildStepFailed("provision", "no_build_host", "the build host is gone")
    if build.ephemeral and host.state in BuildHost.WAITING_STATES:
        _set_state(build, Build.State.PROVISIONING, "provision")
        _log(
            build, f"--- provisioning build host {host.name} on {host.endpoint.name}\n"
        )
        provisioning.provision(host.pk, worker)
        host = _wait_settled(host)  # read again: as the provisioning left it
    else:
        host.refresh_from_db()
    if not host.is_running:
        detail = host.error or f"the build host is {host.state}"
        raise BuildStepFailed("provision", host.error_reason or "not_ready", detail)
    if build.ephemeral and host.from_pool:
        on_cache = (
            f", on your build cache {host.cache_volume}" if host.cache_volume else ""
        )
        _log(
            build,
            f"--- build host {host.name} claimed from the pool on "
            f"{host.endpoint.name}: provisioned ahead{on_cache}, no wait\n",
        )
    _log(build, f"--- build host {host.name} ready at {host.docker_host}\n")
    return host


def _wait_settled(host):
    """Another worker may hold the host (a resumed provision): wait for it."""
    deadline = time.monotonic() + HOST_SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        host.refresh_from_db()
        if host.state not in BuildHost.WAITING_STATES:
            return host
        time.sleep(0.5)
    return host


def _set_host_busy(host):
    BuildHost.objects.filter(pk=host.pk, state=BuildHost.State.READY).update(
        state=BuildHost.State.BUSY
    )


def _release_host(build):
    """Busy → ready when no other build runs on the host."""
    host_id = build.build_host_id
    if host_id is None:
        return
    others = Build.objects.filter(
        build_host_id=host_id, state__in=(Build.State.BUILDING, Build.State.PUSHING)
    ).exclude(pk=build.pk)
    if not others.exists():
        BuildHost.objects.filter(pk=host_id, state=BuildHost.State.BUSY).update(
            state=BuildHost.State.READY
        )


def _mark_ephemeral_host_going(build):
    """A build's own host is marked for removal (volumes by its policy) when
    the build ends; the caller removes it (_end_ephemeral_host)."""
    if not build.ephemeral or build.build_host_id is None:
        return
    _mark_going(BuildHost.objects.get(pk=build.build_host_id))


def _mark_going(host):
    """The host, marked for removal if it runs (not failed and rolled back
    already, nor going)."""
    if host.is_running:
        host, _ = provisioning.mark_for_removal(
            None, host, host.policy_deletes_volumes, source=SYSTEM
        )
    return host


def _end_ephemeral_host(build, worker):
    """A build's own host goes when the build ends, removed right here by the
    build's worker (a queued removal could wait behind other builds). A host
    another worker still holds is left `removing`: the periodic pass resumes
    its removal."""
    if not build.ephemeral or build.build_host_id is None:
        return
    host = BuildHost.objects.get(pk=build.build_host_id)
    if host.state == BuildHost.State.REQUESTED:
        # Never provisioned (the build was cancelled first): nothing on the engine.
        BuildHost.objects.filter(pk=host.pk, state=BuildHost.State.REQUESTED).update(
            state=BuildHost.State.REMOVED, removed_at=timezone.now()
        )
        return
    host = _mark_going(host)  # marked already, unless the build's end crashed
    if host.state != BuildHost.State.REMOVING:
        return  # failed (rolled back already), or removed
    volumes = (
        "data kept as your build cache"
        if caches.keeps_cache(host)
        else f"volumes: {host.policy_label}"
    )
    _log(build, f"--- removing build host {host.name} ({volumes})\n")
    provisioning.remove(host.pk, worker)


# --- Build and push ------------------------------------------------------------------


def _build(build, host, watcher) -> str:
    _set_state(build, Build.State.BUILDING, "build")
    _log(
        build,
        f"--- docker build -t {build.image_ref} (Dockerfile: {build.dockerfile})\n",
    )
    connection = provisioning.host_connection(host)
    _pull_cache_images(build, host, connection)
    try:
        image_id = engine.build_image(
            connection,
            contexts.path_of(build.context_name),
            dockerfile=build.dockerfile,
            tag=build.image_ref,
            build_args=build.build_args,
            output=lambda text: _log(build, text),
            stop=lambda: watcher.cancelled,
            logins=_logins_for_from(build, host),
            options=_options(build),
        )
        for tag in build.tags[1:]:
            engine.tag_image(connection, image_id, tag)
    except engine.StreamStopped:
        raise
    except FileNotFoundError:
        raise BuildStepFailed(
            "build", "context_missing", "the build context is gone from the data folder"
        ) from None
    except engine.EngineError as error:
        raise BuildStepFailed("build", error.reason, error.message) from error
    build.image_id = image_id
    build.save(update_fields=["image_id", "updated_at"])
    _log(build, f"--- built {image_id}\n")
    return image_id


def _options(build):
    return engine.BuildOptions(
        cache_from=tuple(build.cache_from),
        target=build.target,
        no_cache=build.no_cache,
        pull=build.pull,
        labels=tuple(build.labels.items()),
    )


def _pull_cache_images(build, host, connection):
    """The classic builder reuses layers of local images only: each cache
    image is pulled first, with its registry's login. One that cannot be
    pulled is a note, not a failure: the build runs, without that cache."""
    logins = {
        registry.address: registry.auth_config()
        for registry in host.registries.exclude(username="")
    }
    for image in build.cache_from:
        _log(build, f"--- pulling the cache image {image}\n")
        try:
            engine.pull_image(connection, image, logins.get(image.split("/", 1)[0]))
        except engine.EngineError as error:
            _log(build, f"note: {image} is not used as a cache: {error.message}\n")


def _logins_for_from(build, host):
    """Logins for the registries the Dockerfile names (FROM a private image);
    none when it names none, which saves a round trip per registry."""
    text = contexts.read_dockerfile(build.context_name, build.dockerfile)
    return [
        registry.auth_config()
        for registry in host.registries.exclude(username="")
        if registry.address in text
    ]


def _push_all(build, host, watcher, worker) -> str:
    """Push every tag, then verify each at the registry. An ephemeral
    build's host is of no more use once its image is pushed: its removal
    runs while the registry is asked (the verification needs only the
    registry), not after."""
    _set_state(build, Build.State.PUSHING, "push")
    registry = build.registry
    auth = registry.auth_config() if registry is not None else None
    connection = provisioning.host_connection(host)
    pushed = []
    for tag in build.tags:
        _log(build, f"--- docker push {tag}\n")
        try:
            digest = engine.push_image(
                connection,
                tag,
                auth,
                output=lambda text: _log(build, text),
                stop=lambda: watcher.cancelled,
            )
        except engine.StreamStopped:
            raise
        except engine.EngineError as error:
            raise BuildStepFailed("push", error.reason, error.message) from error
        pushed.append((tag, digest))
    verification = _Verification(build.registry, pushed)
    _remove_host_meanwhile(build, worker, watcher)
    for (tag, digest), served in zip(pushed, verification.results(), strict=True):
        _record_verified(build, tag, digest, served)
    return pushed[0][1]


class _Verification:
    """Asks the registry, in a thread of its own, what it serves for each
    pushed tag (registry calls only: no database, so the build's own thread
    may go on meanwhile)."""

    def __init__(self, registry, pushed):
        login = {
            "ca_pem": registry.ca_pem if registry else "",
            "username": registry.username if registry else "",
            "password": registry.get_password() if registry else "",
        }
        self._answers = []
        self._thread = threading.Thread(
            target=self._ask, args=(pushed, login), daemon=True
        )
        self._thread.start()

    def _ask(self, pushed, login):
        for tag, digest in pushed:
            address, rest = tag.split("/", 1)
            repository = rest.rsplit(":", 1)[0]
            try:
                # One GET: the digest it serves, and the size /images/ shows.
                answer = registry_manifests.served_manifest(
                    address, repository, digest, **login
                )
            except Exception as error:  # raised in the build's thread
                answer = error
            self._answers.append(answer)

    def results(self):
        """Each tag's ServedManifest, in order, once all are known; a
        failure is raised here, in the build's thread."""
        self._thread.join()
        for answer in self._answers:
            if isinstance(answer, registry_check.ManifestUnavailable):
                raise BuildStepFailed("verify", "not_pushed", answer.message)
            if isinstance(answer, Exception):
                raise answer
        return self._answers


def _remove_host_meanwhile(build, worker, watcher) -> None:
    """An ephemeral build's host goes now (its cancel watcher first: it
    looks into the host). A removal that breaks is left to the build's end
    and the periodic pass: the pushed image does not wait on it."""
    if not build.ephemeral or build.build_host_id is None:
        return
    watcher.stop()
    try:
        _end_ephemeral_host(build, worker)
    except Exception:
        logger.exception("build %s: its host's removal failed", build.pk)


def _record_verified(build, tag, digest, served):
    """Done only when the registry serves the manifest with this digest."""
    if served.digest != digest:
        raise BuildStepFailed(
            "verify",
            "digest_mismatch",
            f"the registry serves {served.digest}, not {digest}",
        )
    _log(build, f"--- {tag}: the registry serves {digest}\n")
    audit.record(
        None, "build.pushed", build, {"tag": tag, "digest": digest}, source=SYSTEM
    )
    # Listed on /images/ from now on, whatever becomes of the build's other
    # tags: this one is at the registry.
    PushedImage.objects.record_push(build, tag, digest, size_bytes=served.size_bytes)


def _fail(build, failure):
    _log(build, f"\nFAILED at {failure.step}: {failure.message}\n")
    _finish(build, Build.State.FAILED, error=failure.message, reason=failure.reason)


def _finish(build, state, *, image_id="", digest="", error="", reason=""):
    logger.info("build %s: %s %s", build.short_id, state, reason or digest)
    with transaction.atomic():
        build.state = state
        build.finished_at = timezone.now()
        build.error, build.error_reason = error, reason
        build.digest = digest or build.digest
        build.image_id = image_id or build.image_id
        build.log_bytes = buildlogs.size(build.pk)
        build.save(
            update_fields=[
                "state",
                "finished_at",
                "error",
                "error_reason",
                "digest",
                "image_id",
                "log_bytes",
                "updated_at",
            ]
        )
        # In the same transaction: whoever sees the build ended sees its
        # host free again (not busy for the moment the worker takes to
        # reach its clean-up), or, the build's own host, already going.
        _release_host(build)
        _mark_ephemeral_host_going(build)
        BuildHostImage.objects.record_build_outcome(build)
        audit.record(
            None,
            f"build.{state}",
            build,
            {"digest": build.digest, "reason": reason, "step": build.step},
            source=SYSTEM,
        )
        if state in (Build.State.SUCCEEDED, Build.State.FAILED):
            event = f"build.{state}"
            outbox.emit(event, payloads.build(event, build), owner=build.owner)


class _CancelWatcher:
    """Watches the database for a cancel; then stops the build's running
    step on the build host, so a long silent step does not hold it up."""

    def __init__(self, build_id):
        self.build_id = build_id
        self.cancelled = False
        self._done = threading.Event()
        self._thread = None

    def start(self, host):
        since = time.time() - 1
        to_host = provisioning.host_connection(host)
        self._thread = threading.Thread(
            target=self._watch, args=(to_host, since), daemon=True
        )
        self._thread.start()

    def _watch(self, to_host, since):
        try:
            while not self._done.wait(CANCEL_POLL_SECONDS):
                if Build.objects.filter(
                    pk=self.build_id, cancel_requested=True
                ).exists():
                    self.cancelled = True
                    break
            while self.cancelled and not self._done.is_set():
                try:
                    engine.stop_build_containers(to_host, since)
                except engine.EngineError as error:
                    logger.warning(
                        "build %s: could not stop its step: %s", self.build_id, error
                    )
                self._done.wait(CANCEL_POLL_SECONDS)
        finally:
            connection.close()  # this thread's own database connection

    def stop(self):
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.cancelled:
            self.cancelled = Build.objects.filter(
                pk=self.build_id, cancel_requested=True
            ).exists()
