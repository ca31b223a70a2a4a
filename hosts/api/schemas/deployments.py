from datetime import datetime

from ninja import Field, Schema


class DeploymentIn(Schema):
    endpoint_id: int
    image: str = Field(description="e.g. registry.test:5443/project/app@sha256:...")
    command: list[str] | str | None = None


class DeploymentOut(Schema):
    id: str
    owner: str
    endpoint_id: int
    image: str
    command: list[str]
    state: str
    container_id: str
    exit_code: int | None
    error: str
    error_reason: str
    output: str = Field("", description="the container's last output lines")
    created_at: datetime

    @staticmethod
    def resolve_id(deployment):
        return str(deployment.pk)

    @staticmethod
    def resolve_owner(deployment):
        return deployment.owner.get_username()

    @staticmethod
    def resolve_output(deployment):
        return getattr(deployment, "output", "")
