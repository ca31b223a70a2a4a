from datetime import datetime

from ninja import Field, Schema


class BuildHostIn(Schema):
    endpoint_id: int | None = Field(
        None,
        description="omitted: dchweb places the host (the owner's cache, then a "
        "free pool host, then the endpoint with the fewest running hosts)",
    )
    registry_ids: list[int] | None = Field(
        None, description="registries the host must trust; omitted: all"
    )
    name: str = ""
    image: str = Field("", description="omitted: the endpoint's default image")
    disk_gb: int | None = None
    ttl_minutes: int | None = None
    volume_policy: str = Field(
        "delete",
        description='"delete", "keep", "keep_days:N" or "cache" (the data '
        "volume is kept as the owner's build cache on this endpoint)",
    )
    lease_seconds: int | None = Field(
        None,
        description="a heartbeat lease (30 to 86400 s): unless POST "
        ".../heartbeat renews it in time, the host is removed by its volume "
        "policy; omitted: no lease",
    )
    idle_minutes: int | None = Field(
        None,
        description="minutes without activity inside the host before it is "
        "stopped (volumes kept, resumable); 0 = never; omitted: the "
        "endpoint's, else DCHWEB_IDLE_MINUTES",
    )


class ExtendIn(Schema):
    minutes: int = Field(60, ge=1)


class BuildHostStepOut(Schema):
    name: str
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str
    reason: str
    detail: str


class BuildHostOut(Schema):
    id: str
    name: str
    owner: str
    endpoint_id: int
    image: str
    state: str
    step: str
    steps: list[BuildHostStepOut]
    docker_host: str
    expires_at: datetime
    volume_policy: str
    disk_gb: int
    volumes: list[str]
    registry_ids: list[int]
    error: str
    error_reason: str = Field(
        description="why it failed, one word: image_not_found, login_refused, "
        "unknown_authority, connection_refused, timeout, out_of_disk, "
        "host_exited, not_ready, missing..."
    )
    created_at: datetime
    ready_at: datetime | None
    lease_seconds: int | None = Field(description="null: the host has no lease")
    lease_expires_at: datetime | None = Field(
        description="removed soon after this unless a heartbeat renews the lease"
    )
    idle_minutes: int = Field(
        description="minutes without activity before it is stopped (0 = never), "
        "its own or its endpoint's or the installation's"
    )
    last_activity_at: datetime | None = Field(
        description="the last activity seen inside its engine (not dchweb's checks)"
    )
    stopped_at: datetime | None = Field(description="when it was stopped, if it is")
    placement: str = Field(description="the endpoint chosen and why, in words")
    from_pool: bool = Field(description="claimed from its endpoint's warm pool")
    cache_volume: str | None = Field(
        description="the owner's cache volume it started on; null: none"
    )

    @staticmethod
    def resolve_id(host):
        return str(host.pk)

    @staticmethod
    def resolve_owner(host):
        return host.owner.get_username() if host.owner_id else ""

    @staticmethod
    def resolve_cache_volume(host):
        return host.cache_volume or None

    @staticmethod
    def resolve_steps(host):
        return list(host.steps.all())

    @staticmethod
    def resolve_volume_policy(host):
        return host.policy_label

    @staticmethod
    def resolve_volumes(host):
        return host.volume_names

    @staticmethod
    def resolve_registry_ids(host):
        return [registry.pk for registry in host.registries.all()]

    @staticmethod
    def resolve_idle_minutes(host):
        return host.effective_idle_minutes


class HeartbeatOut(Schema):
    lease_expires_at: datetime
