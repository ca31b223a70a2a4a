"""The domain model (design.md §2): endpoints, registries, certificates (and
dchweb's CA), build hosts and their steps, API tokens and the audit trail.
Volumes, builds and cleanup plans come with their features.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from hosts.lib import crypto, x509


class EndpointQuerySet(models.QuerySet):
    def enabled(self, pk=None):
        """Endpoints an admin has not disabled (one of them, given `pk`)."""
        found = self.exclude(health=Endpoint.Health.DISABLED)
        return found.filter(pk=pk) if pk else found


class Endpoint(models.Model):
    """A Docker API endpoint build hosts run on: a VIC VCH or a plain engine."""

    class TlsMode(models.TextChoices):
        NONE = "none", "No TLS"
        TLS = "tls", "TLS (no server verification)"
        TLSVERIFY = "tlsverify", "TLS, server verified"

    class Health(models.TextChoices):
        ON = "on", "On"
        DEGRADED = "degraded", "Degraded"
        OFF = "off", "Off"
        DISABLED = "disabled", "Disabled by an admin"

    class Flavor(models.TextChoices):
        UNKNOWN = "", "Not probed yet"
        VIC = "vic", "vSphere Integrated Containers"
        DOCKER = "docker", "Docker engine"

    name = models.CharField(max_length=100, unique=True)
    docker_url = models.CharField(
        max_length=300, help_text="tcp://host:2376 or unix:///path/docker.sock"
    )
    tls_mode = models.CharField(
        max_length=10, choices=TlsMode.choices, default=TlsMode.TLSVERIFY
    )
    publish_host = models.CharField(
        max_length=255,
        help_text="Address users and the dashboard use to reach published ports",
    )
    network = models.CharField(
        max_length=200, blank=True, help_text="Docker network build hosts join"
    )
    default_image = models.CharField(max_length=300, blank=True)
    volume_store = models.CharField(
        max_length=100, default="default", help_text="VIC volume store"
    )
    max_build_hosts = models.PositiveIntegerField(default=10)
    # Minutes without activity before a build host here is stopped (issue 14):
    # null = the installation's DCHWEB_IDLE_MINUTES, 0 = never.
    idle_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Warm pool (issue 13): build hosts kept ready here for whoever asks next,
    # with the default image and every registry the endpoint trusts; 0 = none.
    pool_size = models.PositiveIntegerField(default=0)
    # Not probed yet counts as off: nothing is scheduled on an unknown engine.
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.OFF)
    last_error = models.TextField(blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    flavor = models.CharField(
        max_length=10, choices=Flavor.choices, default=Flavor.UNKNOWN, blank=True
    )
    api_version = models.CharField(max_length=20, blank=True)
    # TLS material: the CA that signed the engine's certificate, and the
    # client certificate (with its key) the engine trusts.
    ca_certificate = models.ForeignKey(
        "Certificate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="CA that signed the engine's server certificate",
    )
    client_certificate = models.ForeignKey(
        "Certificate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Client certificate and key dchweb presents to the engine",
    )
    # What the last successful probe learnt, and how the last failure went.
    server_version = models.CharField(max_length=50, blank=True)
    os_arch = models.CharField("OS/architecture", max_length=50, blank=True)
    volume_stores = models.JSONField(default=list, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error_reason = models.CharField(max_length=50, blank=True)
    # The reconciler's last pass (hosts/buildhosts/reconciler.py): what the database and
    # the engine each said, for the admins' drift view.
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    reconcile_summary = models.JSONField(default=dict, blank=True)
    # One reconciler at a time per endpoint: a lease, not a lock that a dead
    # worker could hold forever.
    reconcile_lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name

    @property
    def is_disabled(self) -> bool:
        return self.health == self.Health.DISABLED


class Registry(models.Model):
    """An image registry build hosts trust and push to.

    The password is stored encrypted (hosts/lib/crypto.py) and is never shown
    again after it is set: read it with `get_password()` only to log in.
    """

    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(
        max_length=255, unique=True, help_text="As in image refs: registry.test:5443"
    )
    project = models.CharField(max_length=100, default="default-project")
    ca_pem = models.TextField("CA certificate (PEM)", blank=True)
    username = models.CharField(max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    # The last check (hosts/registries/commands.py): null until checked.
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_reason = models.CharField(max_length=50, blank=True)
    last_check_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "registries"

    def __str__(self):
        return self.address

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def set_password(self, password: str) -> None:
        self.password_encrypted = crypto.encrypt(password) if password else ""

    def get_password(self) -> str:
        if not self.password_encrypted:
            return ""
        return crypto.decrypt(self.password_encrypted)

    def auth_config(self) -> dict | None:
        """The login as docker-py's auth_config, or None without a login."""
        if not self.username:
            return None
        return {
            "username": self.username,
            "password": self.get_password(),
            "serveraddress": self.address,
        }


class RegistryTrust(models.Model):
    """Whether an endpoint's engine can log in to a registry (the trust
    matrix), as the last check (tasks.check_registry_trust) found it."""

    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="registry_trust"
    )
    registry = models.ForeignKey(
        Registry, on_delete=models.CASCADE, related_name="endpoint_trust"
    )
    ok = models.BooleanField(default=False)
    reason = models.CharField(max_length=50, blank=True)
    message = models.TextField(blank=True)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=["endpoint", "registry"], name="one_trust_per_endpoint_registry"
            ),
        )

    def __str__(self):
        return f"{self.endpoint} → {self.registry}: {self.reason or 'unknown'}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self, now=None):
        """Tokens that still open the API: not revoked, not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the plaintext
    is shown once, when created (hosts/core/tokens.py)."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="default")
    # `write` is the default so that the tokens made before scopes existed
    # keep doing what they did (migration 0012).
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.WRITE)
    # The token's public first part: finds the row without the secret, and
    # lets a user tell their tokens apart.
    prefix = models.CharField(max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Null only on the tokens made before expiry existed (migration 0012):
    # every new token gets one (hosts.accounts.commands.create_api_token).
    expires_at = models.DateTimeField(null=True, blank=True)
    # The page's one-time form key (/account/tokens/): a form posted twice
    # (a double click, a reload) makes one token. Blank from the API and CLI.
    submission_key = models.CharField(max_length=64, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(
                fields=["user", "submission_key"],
                condition=~models.Q(submission_key=""),
                name="api_token_one_per_submission",
            ),
        )

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.has_expired()

    @property
    def state(self) -> str:
        """ "revoked", "expired" or "active": what the token does now."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.has_expired() else "active"

    def has_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (
            now or timezone.now()
        )

    @property
    def read_only(self) -> bool:
        return self.scope == self.Scope.READ


class AuditEvent(models.Model):
    """One mutating action, by UI, API, CLI or task. Written only through
    `hosts.audit.record()`."""

    class Source(models.TextChoices):
        UI = "ui", "Web UI"
        API = "api", "API"
        CLI = "cli", "Command line"
        TASK = "task", "Background task"

    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text so the trail still names a user after they are deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (
            models.Index(fields=["-created_at"], name="audit_time_idx"),
            models.Index(
                fields=["action", "-created_at"], name="audit_action_time_idx"
            ),
        )

    def __str__(self):
        who = self.actor_name or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"


class Certificate(models.Model):
    """A certificate admins uploaded (a CA, a client or a server certificate),
    with its chain and, optionally, its private key, encrypted at rest.

    The parsed fields are filled from the PEM by hosts/lib/x509.py when it is
    created through hosts/certificates/commands.py; the key is never shown again.
    """

    class Kind(models.TextChoices):
        CA = "ca", "CA"
        CLIENT = "client", "Client"
        SERVER = "server", "Server"

    name = models.CharField(max_length=100, unique=True)
    pem = models.TextField("certificate and chain (PEM)")
    # Optional: empty when no key was uploaded (text fields store "" not NULL).
    private_key_encrypted = models.TextField(blank=True, editable=False)
    subject = models.TextField()
    issuer = models.TextField()
    sans = models.JSONField("subject alternative names", default=list, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    fingerprint = models.CharField("SHA-256 fingerprint", max_length=95)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    is_ca = models.BooleanField(default=False)
    chain_length = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name

    @property
    def has_private_key(self) -> bool:
        return bool(self.private_key_encrypted)

    def set_private_key(self, key_pem: str | None) -> None:
        self.private_key_encrypted = crypto.encrypt(key_pem) if key_pem else ""

    def get_private_key(self) -> str | None:
        if not self.private_key_encrypted:
            return None
        return crypto.decrypt(self.private_key_encrypted)

    @property
    def expiry_warning(self) -> str | None:
        return x509.expiry_warning(self.not_after)

    @property
    def expires_in_days(self) -> int:
        return (self.not_after - timezone.now()).days


class CertificateAuthority(models.Model):
    """dchweb's own CA (hosts/core/pki.py): one active at a time; rotated ones are
    kept, inactive. The key is encrypted at rest."""

    cert_pem = models.TextField()
    key_encrypted = models.TextField(editable=False)
    fingerprint = models.CharField("SHA-256 fingerprint", max_length=95)
    # At most one active row (the partial unique constraint below).
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "dchweb certificate authority"
        verbose_name_plural = "dchweb certificate authorities"
        constraints = (
            models.UniqueConstraint(
                fields=["active"],
                condition=models.Q(active=True),
                name="one_active_certificate_authority",
            ),
        )

    def __str__(self):
        state = "active" if self.active else "retired"
        return f"dchweb CA {self.fingerprint[:23]} ({state})"

    def set_private_key(self, key_pem: str) -> None:
        self.key_encrypted = crypto.encrypt(key_pem)

    def get_private_key(self) -> str:
        return crypto.decrypt(self.key_encrypted)


class Installation(models.Model):
    """This dchweb installation's identity (one row). Its id labels everything
    dchweb creates on an engine, so two installations sharing an engine never
    touch each other's containers and volumes."""

    installation_id = models.UUIDField(default=uuid.uuid4, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return str(self.installation_id)


def free_pool_q(prefix: str = "") -> models.Q:
    """The one rule of a free pool host: made for the pool, claimed by
    nobody yet. `prefix` reaches it through a relation ("build_hosts__")."""
    return models.Q(**{f"{prefix}from_pool": True, f"{prefix}owner__isnull": True})


class BuildHostQuerySet(models.QuerySet):
    def free_pool(self):
        """Pool hosts nobody has claimed (any state): warm hosts on an
        owner's cache among them."""
        return self.filter(free_pool_q())

    def claimed_or_own(self):
        """Every host but the free pool ones: those are nobody's, in no
        list, cap or idle pass (the endpoints page counts them)."""
        return self.exclude(free_pool_q())


class BuildHost(models.Model):
    """A Docker engine in a container on an endpoint (design.md §2)."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        PROVISIONING = "provisioning", "Provisioning"
        READY = "ready", "Ready"
        BUSY = "busy", "Busy"
        REMOVING = "removing", "Removing"
        REMOVED = "removed", "Removed"
        FAILED = "failed", "Failed"
        # Its container stopped (idle, or by its owner), its volumes kept: it
        # may be resumed until its time to live ends.
        STOPPED = "stopped", "Stopped"

    class VolumePolicy(models.TextChoices):
        DELETE = "delete", "Delete volumes with the host"
        KEEP = "keep", "Keep volumes"
        KEEP_DAYS = "keep_days", "Keep volumes for some days"
        # The data volume (images, build cache) is kept as the owner's cache on
        # this endpoint; their next host there starts on it (issue 13).
        CACHE = "cache", "Keep the data volume as my build cache"

    # States in which the host occupies (or is about to occupy) the endpoint.
    ACTIVE_STATES = (
        State.REQUESTED,
        State.PROVISIONING,
        State.READY,
        State.BUSY,
        State.REMOVING,
    )
    # A stopped host is not in ACTIVE_STATES (it frees its owner's count), but
    # it is still its owner's: listed, its image and CA in use, resumable.
    HELD_STATES = (*ACTIVE_STATES, State.STOPPED)
    # States the host stays in until someone acts: the pages stop polling.
    SETTLED_STATES = (State.READY, State.REMOVED, State.FAILED, State.STOPPED)
    # Its container runs: builds may use it, its owner may connect.
    RUNNING_STATES = (State.READY, State.BUSY)
    # Not yet provisioned: its provision may still be under way.
    WAITING_STATES = (State.REQUESTED, State.PROVISIONING)
    # Its time to live still runs while it is stopped: it may be extended.
    EXTENDABLE_STATES = (*WAITING_STATES, *RUNNING_STATES, State.STOPPED)
    REMOVABLE_STATES = (*EXTENDABLE_STATES, State.FAILED)
    # Gone, or never there: the reconciler leaves them alone.
    ENDED_STATES = (State.REMOVED, State.FAILED)

    # Limits of a request (hosts/buildhosts/commands.py checks them).
    DEFAULT_DISK_GB = 20
    MAX_DISK_GB = 2048
    DEFAULT_TTL_MINUTES = 8 * 60
    MAX_TTL_MINUTES = 7 * 24 * 60
    MAX_EXTEND_MINUTES = 7 * 24 * 60
    # Idle stop: 0 (never) up to a time to live's longest.
    MAX_IDLE_MINUTES = 7 * 24 * 60
    MAX_KEEP_DAYS = 365

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    # None: a pool host nobody has claimed yet (from_pool).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="build_hosts",
    )
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.PROTECT, related_name="build_hosts"
    )
    image = models.CharField(max_length=300)
    registries = models.ManyToManyField(Registry, blank=True, related_name="+")
    state = models.CharField(
        max_length=20, choices=State.choices, default=State.REQUESTED, db_index=True
    )
    step = models.CharField(max_length=30, blank=True)
    error = models.TextField(blank=True)
    error_reason = models.CharField(max_length=50, blank=True)
    disk_gb = models.PositiveIntegerField(default=20)
    volume_policy = models.CharField(
        max_length=10, choices=VolumePolicy.choices, default=VolumePolicy.DELETE
    )
    keep_days = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    # On the engine.
    container_id = models.CharField(max_length=80, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    # TLS: the host's own CA (so a bundle opens this host only), the owner's
    # and dchweb's client certificates. Keys encrypted at rest.
    ca_pem = models.TextField(blank=True)
    ca_key_encrypted = models.TextField(blank=True, editable=False)
    owner_cert_pem = models.TextField(blank=True)
    owner_key_encrypted = models.TextField(blank=True, editable=False)
    client_cert_pem = models.TextField(blank=True)
    client_key_encrypted = models.TextField(blank=True, editable=False)
    # API create with an Idempotency-Key: the same key returns this host.
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # Who is working on it: one provision or removal at a time. A worker that
    # dies leaves a lease that expires (or that its successor takes over).
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The reconciler: how many listings in a row did not show the container,
    # and whether it found the host on the engine rather than made it.
    missed_listings = models.PositiveIntegerField(default=0)
    adopted = models.BooleanField(default=False)
    remove_volumes = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    volumes_kept_until = models.DateTimeField(null=True, blank=True)
    # Idle stop (issue 14): null = the endpoint's default; 0 = never.
    idle_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The last activity seen inside the host's engine, other than dchweb's.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Heartbeat lease (issue 14): a holder that stops calling loses the host.
    lease_seconds = models.PositiveIntegerField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # build_host.expiring is said once per expiry.
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    # Warm pool (issue 13): provisioned ahead for nobody; claimed_at is when a
    # request took it (its owner set then, from the database: labels cannot
    # change on the engine).
    from_pool = models.BooleanField(default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Where the host runs and why, in words ("your cache is there", ...).
    placement = models.CharField(max_length=300, blank=True)
    # The owner's cache volume the host started on, mounted as its data
    # volume instead of a new one ("": a data volume of its own).
    cache_volume = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BuildHostQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_build_host_per_idempotency_key",
            ),
        )
        indexes = (models.Index(fields=["owner", "-created_at"], name="bh_owner_idx"),)

    def __str__(self):
        return f"{self.name} ({self.short_id})"

    @property
    def short_id(self) -> str:
        return self.id.hex[:12]

    @property
    def container_name(self) -> str:
        return f"dchweb-{self.short_id}"

    def volume_name(self, role: str) -> str:
        if role == "docker-data" and self.cache_volume:
            return self.cache_volume
        suffix = {"docker-data": "data", "certs": "certs"}[role]
        return f"{self.container_name}-{suffix}"

    @property
    def is_free_pool_host(self) -> bool:
        """Waiting in its endpoint's pool: nobody's yet."""
        return self.from_pool and self.owner_id is None

    @property
    def volume_names(self) -> list[str]:
        return [self.volume_name("docker-data"), self.volume_name("certs")]

    @property
    def docker_host(self) -> str:
        if not self.port:
            return ""
        return f"tcp://{self.endpoint.publish_host}:{self.port}"

    @property
    def is_settled(self) -> bool:
        return (
            self.state in self.SETTLED_STATES
            and not self.is_resuming
            and not self.is_stopping
        )

    # The step of a ready host its owner asked to stop, until a worker has
    # stopped it (the pages poll it meanwhile).
    STOP_STEP = "stop"

    @property
    def is_stopping(self) -> bool:
        return self.state == self.State.READY and self.step == self.STOP_STEP

    @property
    def can_stop(self) -> bool:
        return self.state == self.State.READY and not self.is_stopping

    # The steps of a stopped host while a worker starts it again (its state
    # stays "stopped" until it answers: it takes no count before it runs).
    RESUME_STEPS = ("resume_start", "resume_wait_ready")

    @property
    def is_resuming(self) -> bool:
        return self.state == self.State.STOPPED and self.step in self.RESUME_STEPS

    @property
    def can_resume(self) -> bool:
        return self.state == self.State.STOPPED and not self.is_resuming

    @property
    def effective_idle_minutes(self) -> int:
        """Minutes without activity before the host is stopped (0: never):
        its own, else its endpoint's, else DCHWEB_IDLE_MINUTES."""
        if self.idle_minutes is not None:
            return self.idle_minutes
        if self.endpoint.idle_minutes is not None:
            return self.endpoint.idle_minutes
        return settings.DCHWEB_IDLE_MINUTES

    @property
    def is_running(self) -> bool:
        return self.state in self.RUNNING_STATES

    @property
    def can_extend(self) -> bool:
        return self.state in self.EXTENDABLE_STATES

    @property
    def can_remove(self) -> bool:
        return self.state in self.REMOVABLE_STATES

    @property
    def tls_bundle_filename(self) -> str:
        return f"dchweb-{self.short_id}-tls.zip"

    @property
    def policy_deletes_volumes(self) -> bool:
        """Removed without a word on its volumes, does the host take them?"""
        return self.volume_policy == self.VolumePolicy.DELETE

    @property
    def policy_label(self) -> str:
        if self.volume_policy == self.VolumePolicy.KEEP_DAYS:
            return f"keep_days:{self.keep_days}"
        return self.volume_policy

    def set_secret(self, field: str, value: str) -> None:
        setattr(self, f"{field}_encrypted", crypto.encrypt(value) if value else "")

    def get_secret(self, field: str) -> str:
        stored = getattr(self, f"{field}_encrypted")
        return crypto.decrypt(stored) if stored else ""


class BuildHostStep(models.Model):
    """One attempt at one provisioning (or removal) step: the timeline."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    build_host = models.ForeignKey(
        BuildHost, on_delete=models.CASCADE, related_name="steps"
    )
    name = models.CharField(max_length=30)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    reason = models.CharField(max_length=50, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("started_at", "id")

    def __str__(self):
        return f"{self.name} #{self.attempt}: {self.status}"

    def finish(self, status, *, error="", reason="", detail=""):
        """The step ended (done or failed), now, with what it says."""
        self.status = status
        self.finished_at = timezone.now()
        self.error = error
        self.reason = reason
        self.detail = detail[:300]
        self.save(update_fields=["status", "finished_at", "error", "reason", "detail"])

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class Build(models.Model):
    """A `docker build` (and push) on a build host: the user's, or an
    ephemeral one the build provisions and removes (design.md §2)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROVISIONING = "provisioning", "Provisioning a build host"
        BUILDING = "building", "Building"
        PUSHING = "pushing", "Pushing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED)
    RUNNING_STATES = (State.PROVISIONING, State.BUILDING, State.PUSHING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="builds"
    )
    build_host = models.ForeignKey(
        BuildHost,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="builds",
    )
    # An ephemeral build provisions its host on this endpoint, then removes it.
    endpoint = models.ForeignKey(
        Endpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ephemeral = models.BooleanField(default=False)
    volume_policy = models.CharField(max_length=20, default="delete")
    registry = models.ForeignKey(
        Registry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The context archive, checked on upload (hosts/builds/contexts.py), kept in
    # DCHWEB_DATA_DIR until the build ends.
    context_name = models.CharField(max_length=200, blank=True)
    context_bytes = models.PositiveBigIntegerField(default=0)
    dockerfile = models.CharField(max_length=255, default="Dockerfile")
    build_args = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list)
    push = models.BooleanField(default=True)
    # `docker build` options (issue 13): images whose layers may serve as the
    # cache (pulled with the registry's login first), the stage to stop at,
    # no cache at all, always pull FROM images, labels on the image.
    cache_from = models.JSONField(default=list, blank=True)
    target = models.CharField(max_length=128, blank=True)
    no_cache = models.BooleanField(default=False)
    pull = models.BooleanField(default=False)
    labels = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=20, choices=State.choices, default=State.QUEUED, db_index=True
    )
    step = models.CharField(max_length=30, blank=True)
    error = models.TextField(blank=True)
    error_reason = models.CharField(max_length=50, blank=True)
    image_id = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=100, blank=True)
    log_bytes = models.PositiveBigIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=["owner", "-created_at"], name="build_owner_idx"),
        )

    def __str__(self):
        return f"build {self.short_id} ({self.image_ref or 'no tag'})"

    @property
    def short_id(self) -> str:
        return self.id.hex[:12]

    @property
    def image_ref(self) -> str:
        return self.tags[0] if self.tags else ""

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class BuildHostImageQuerySet(models.QuerySet):
    def embedded_registry_ids(self, image_ref: str) -> set[int]:
        """Registries whose CA a ready dchweb-made image already holds."""
        ready = self.filter(ref=image_ref, state=BuildHostImage.State.READY)
        return set(ready.values_list("registries", flat=True))

    def record_build_outcome(self, build) -> None:
        """The image of a finished build is ready (with its digest) or failed."""
        state = (
            BuildHostImage.State.READY
            if build.state == Build.State.SUCCEEDED
            else BuildHostImage.State.FAILED
        )
        self.filter(build=build).update(state=state, digest=build.digest)


class BuildHostImage(models.Model):
    """A build-host image made by dchweb with registry CAs embedded (the
    seed's preferred method): build hosts from it need no CA copied in."""

    class State(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    ref = models.CharField(max_length=300, help_text="registry/project/name:tag")
    base_image = models.CharField(max_length=300)
    digest = models.CharField(max_length=100, blank=True)
    registries = models.ManyToManyField(Registry, related_name="+")
    build = models.OneToOneField(
        Build, null=True, on_delete=models.SET_NULL, related_name="build_host_image"
    )
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.BUILDING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = BuildHostImageQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return self.ref


class PushedImageQuerySet(models.QuerySet):
    def record_push(self, build, reference: str, digest: str, size_bytes=None):
        """A reference a build pushed and the registry serves at `digest`:
        one row per build and reference (a build run again updates its own)."""
        repository = reference.split("/", 1)[1].rsplit(":", 1)[0]
        image, _ = self.update_or_create(
            build=build,
            reference=reference,
            defaults={
                "owner_id": build.owner_id,
                "registry_id": build.registry_id,
                "repository": repository,
                "digest": digest,
                "size_bytes": size_bytes,
                "pushed_at": timezone.now(),
                "deleted_at": None,
                "deleted_by": None,
            },
        )
        return image

    def present(self):
        return self.filter(deleted_at__isnull=True)


class PushedImage(models.Model):
    """An image reference a build pushed through dchweb (the owner's, from
    its build), until its manifest is deleted at the registry."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    build = models.ForeignKey(
        Build, null=True, on_delete=models.SET_NULL, related_name="pushed_images"
    )
    # Null once the registry is removed from dchweb: the row still says what
    # was pushed where (the address is in the reference).
    registry = models.ForeignKey(
        Registry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference = models.CharField(max_length=300, help_text="registry/project/name:tag")
    repository = models.CharField(max_length=255, help_text="project/name")
    digest = models.CharField(max_length=100)
    # The manifest's config and layers as stored at the registry (compressed);
    # null when the registry did not say.
    size_bytes = models.BigIntegerField(null=True, blank=True)
    pushed_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = PushedImageQuerySet.as_manager()

    class Meta:
        ordering = ("-pushed_at", "-id")
        indexes = (
            models.Index(fields=["owner", "-pushed_at"], name="pushed_image_owner_idx"),
        )
        constraints = (
            models.UniqueConstraint(
                fields=["build", "reference"], name="pushed_image_once_per_build"
            ),
        )

    def __str__(self):
        return f"{self.reference}@{self.digest[:19]}"

    @property
    def address(self) -> str:
        return self.reference.split("/", 1)[0]

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class DeploymentQuerySet(models.QuerySet):
    def waiting(self, grace=timedelta(0)):
        """Requested, and untouched for `grace`: nobody is starting them."""
        return self.filter(
            state=Deployment.State.REQUESTED, updated_at__lte=timezone.now() - grace
        )


class Deployment(models.Model):
    """A pushed image run on an endpoint (the seed's workflow step 4)."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        STARTING = "starting", "Pulling and starting"
        RUNNING = "running", "Running"
        EXITED = "exited", "Exited"
        FAILED = "failed", "Failed"
        REMOVING = "removing", "Removing"
        REMOVED = "removed", "Removed"

    # Its container is (or is about to be) on the engine: ask how it does.
    LIVE_STATES = (State.STARTING, State.RUNNING)
    # Going, or gone: removing it again is a no-op.
    LEAVING_STATES = (State.REMOVING, State.REMOVED)
    # Will change by itself: the page keeps polling.
    CHANGING_STATES = (State.REQUESTED, *LIVE_STATES, State.REMOVING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deployments"
    )
    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="+")
    image = models.CharField(max_length=300)
    registry = models.ForeignKey(
        Registry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    command = models.JSONField(default=list, blank=True)
    state = models.CharField(
        max_length=20, choices=State.choices, default=State.REQUESTED
    )
    container_id = models.CharField(max_length=80, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_reason = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return f"{self.image} on {self.endpoint.name}"

    @property
    def short_id(self) -> str:
        return self.id.hex[:12]

    @property
    def container_name(self) -> str:
        return f"dchweb-run-{self.short_id}"


class Volume(models.Model):
    """The volume ledger (design.md §2): every volume seen on every endpoint,
    whose it is, where it came from, what it costs, and whether it is used."""

    class Status(models.TextChoices):
        IN_USE = "in_use", "In use"
        ORPHANED = "orphaned", "Orphaned (dchweb's, not attached)"
        DANGLING = "dangling", "Dangling (not dchweb's, not attached)"

    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="volumes"
    )
    name = models.CharField(max_length=255)
    driver = models.CharField(max_length=100, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    managed = models.BooleanField(default=False, db_index=True)
    # The io.dchweb.installation label: a rule cleans up only this one's.
    installation = models.CharField(max_length=64, blank=True)
    anonymous = models.BooleanField(default=False)
    # dchweb's own volumes: which build host, which role, whose.
    build_host = models.ForeignKey(
        BuildHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(max_length=20, blank=True)
    owner_name = models.CharField(max_length=150, blank=True, db_index=True)
    # Provenance of any volume: the last container seen using it.
    attached_to = models.JSONField(default=list, blank=True)
    last_container = models.CharField(max_length=255, blank=True)
    last_image = models.CharField(max_length=300, blank=True)
    created_on_engine = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    last_attached = models.DateTimeField(null=True, blank=True)
    detached_since = models.DateTimeField(null=True, blank=True)
    present = models.BooleanField(default=True, db_index=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    size_measured_at = models.DateTimeField(null=True, blank=True)
    # Role "cache" (issue 13): an owner's build cache, the data volume of a
    # host removed with policy "cache". The host starting on it now (one at
    # a time), when it was last used, and how many hosts reused it.
    cache_host = models.ForeignKey(
        BuildHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cache_last_used = models.DateTimeField(null=True, blank=True)
    cache_reuses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("endpoint_id", "name")
        constraints = (
            models.UniqueConstraint(
                fields=["endpoint", "name"], name="one_ledger_row_per_volume"
            ),
        )
        indexes = (
            models.Index(
                fields=["present", "status", "endpoint"], name="vol_filter_idx"
            ),
            # The totals per owner (hosts/volumes/ledger.py: totals).
            models.Index(
                fields=["present", "status", "owner_name"], name="vol_owner_idx"
            ),
            # A page of the ledger in the page's sorts walks these (LIMIT 50)
            # instead of sorting every present row. Partial: the ledger's
            # queries say `WHERE present`, which a plain index cannot seek.
            models.Index(
                fields=["name"], condition=models.Q(present=True), name="vol_name_idx"
            ),
            models.Index(
                fields=["status", "name"],
                condition=models.Q(present=True),
                name="vol_status_name_idx",
            ),
            models.Index(
                fields=["size_bytes"],
                condition=models.Q(present=True),
                name="vol_size_idx",
            ),
        )

    def __str__(self):
        # The endpoint's name (one read if not joined): this is what the
        # audit trail and the admin show.
        return f"{self.name} on {self.endpoint.name}"


class VolumeLedgerStamp(models.Model):
    """One row (id 1) whose `stamp` the database itself changes, in the same
    transaction, whenever a volume row is inserted or deleted or any of its
    columns but `last_seen` and `last_attached` is updated: triggers on
    hosts_volume (migration 0011, SQLite and PostgreSQL). The ledger's totals
    are cached under the stamp (hosts/volumes/ledger.py: totals), so whatever writes
    the ledger (refresh, provisioning, clean-up, sizes, a cascade, raw SQL)
    makes them be computed again, and a rolled-back write leaves the
    old stamp with the old rows. A stamp never repeats (a random 64-bit value
    on SQLite, a sequence on PostgreSQL). No row: no caching.

    A new Volume column, or a migration that rebuilds hosts_volume on SQLite
    (which drops its triggers), needs the triggers made again:
    tests/unit/volumes/test_volume_totals.py fails until they are."""

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    stamp = models.BigIntegerField()

    def __str__(self):
        return f"volume ledger stamp {self.stamp}"


class CleanupPlan(models.Model):
    """A dry-run list of volumes to remove, executed exactly as planned."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        # Sent to the volumes' owners, who may keep or release each volume
        # until notice_ends_at; then executed.
        NOTICE = "notice", "Owners notified"
        EXECUTING = "executing", "Executing"
        DONE = "done", "Done"

    planned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    total_bytes = models.BigIntegerField(default=0)
    reclaimed_bytes = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    executed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A notice to the owners first (issue 14): how long they have to answer,
    # and for how long at most an owner may keep a volume.
    notice_days = models.PositiveSmallIntegerField(null=True, blank=True)
    notice_ends_at = models.DateTimeField(null=True, blank=True)
    keep_days_allowed = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self):
        return f"cleanup plan {self.pk} ({self.state})"


class CleanupItem(models.Model):
    class Result(models.TextChoices):
        PENDING = "", "Not executed"
        REMOVED = "removed", "Removed"
        SKIPPED_IN_USE = "skipped_in_use", "Skipped: in use"
        NOT_FOUND = "not_found", "Not found"
        ERROR = "error", "Error"
        # The owner kept it when the plan went out as a notice.
        KEPT = "kept", "Kept by its owner"

    class Answer(models.TextChoices):
        NONE = "", "Not answered"
        KEEP = "keep", "Keep"
        RELEASE = "release", "Release"

    plan = models.ForeignKey(
        CleanupPlan, on_delete=models.CASCADE, related_name="items"
    )
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    volume_name = models.CharField(max_length=255)
    reason = models.CharField(max_length=200)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    result = models.CharField(max_length=20, choices=Result.choices, blank=True)
    detail = models.TextField(blank=True)
    # Whose volume (the ledger's owner when planned): who answers a notice.
    owner_name = models.CharField(max_length=150, blank=True, db_index=True)
    answer = models.CharField(max_length=10, choices=Answer.choices, blank=True)
    answer_reason = models.TextField(blank=True)
    keep_until = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self):
        return f"{self.volume_name}: {self.result or 'planned'}"


class Notification(models.Model):
    """One event that people are told of (design.md §4.4), kept as an outbox:
    written in the transaction that made it happen, then sent by mail and to
    every webhook that asked for it (hosts/notifications/)."""

    class Event(models.TextChoices):
        BUILD_HOST_READY = "build_host.ready", "A build host is ready"
        BUILD_HOST_FAILED = "build_host.failed", "A build host failed"
        BUILD_HOST_STOPPED = "build_host.stopped", "A build host was stopped"
        BUILD_HOST_EXPIRING = "build_host.expiring", "A build host expires soon"
        BUILD_HOST_REMOVED = "build_host.removed", "A build host was removed"
        BUILD_SUCCEEDED = "build.succeeded", "A build succeeded"
        BUILD_FAILED = "build.failed", "A build failed"
        CERTIFICATE_EXPIRING = "certificate.expiring", "A certificate expires soon"
        ENDPOINT_OFF = "endpoint.off", "An endpoint went off"
        ENDPOINT_ON = "endpoint.on", "An endpoint is back on"
        REGISTRY_TRUST_LOST = "registry.trust_lost", "An endpoint lost a registry"
        VOLUMES_OVER_BUDGET = "volumes.over_budget", "Volumes over budget"
        CLEANUP_NOTICE = "cleanup.notice", "Volumes planned for clean-up"

    class MailState(models.TextChoices):
        PENDING = "pending", "Not sent yet"
        SENT = "sent", "Sent"
        NONE = "none", "Nobody to tell by mail"
        FAILED = "failed", "Could not be sent"

    event = models.CharField(max_length=40, choices=Event.choices, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # The webhook body's "object": plain JSON, as the API shows the object.
    object = models.JSONField(default=dict, blank=True)
    # Whom it concerns: an owner; null = the admins.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    mail_state = models.CharField(
        max_length=10, choices=MailState.choices, default=MailState.PENDING
    )
    mail_error = models.TextField(blank=True)
    # When the deliveries were planned: null = not yet dispatched.
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("-at", "-id")

    def __str__(self):
        return f"{self.event} at {self.at:%Y-%m-%d %H:%M}"


class NotificationSettings(models.Model):
    """Which events a user does not want by mail (no row: every event that
    concerns them)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_settings",
    )
    muted_events = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"notification settings of {self.user}"


class Webhook(models.Model):
    """An admin's receiver of events: signed POSTs (design.md §4.4)."""

    class Format(models.TextChoices):
        GENERIC = "generic", "Generic JSON"
        SLACK = "slack", "Slack-compatible"

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    events = models.JSONField(default=list)
    format = models.CharField(
        max_length=10, choices=Format.choices, default=Format.GENERIC
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt(secret)

    def get_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)


class WebhookDelivery(models.Model):
    """One notification sent to one webhook: its tries and the answers."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Will try again"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    # The X-Dchweb-Delivery header: a receiver drops a repeat by it.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries"
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    # A redelivery by hand is a delivery of its own.
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    tries = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_try_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(
                fields=["webhook", "notification"],
                condition=models.Q(redelivery_of__isnull=True),
                name="one_first_delivery_per_webhook",
            ),
        )

    def __str__(self):
        return f"{self.notification.event} to {self.webhook.name}: {self.state}"
