"""The engine adapter's build-host calls are safe to repeat against a real
engine: a create that meets its own earlier work (409) goes on, a remove that
meets 404 is done, and someone else's object with our name is a conflict."""

import contextlib
import dataclasses
import uuid

import docker.errors
import pytest

from hosts import engine as adapter

pytestmark = pytest.mark.integration


@pytest.fixture
def connection(devstack):
    return adapter.Connection(docker_url=devstack["docker_url"])


@pytest.fixture
def spec(build_host_image, devstack, engine):
    name = f"dchweb-test-{uuid.uuid4().hex[:8]}"
    labels = {"io.dchweb.test": "adapter", "io.dchweb.build-host": name}
    yield adapter.ContainerSpec(
        name=name,
        image=build_host_image,
        command=["-tlsverify"],
        labels=labels,
        binds={f"{name}-data": "/var/lib/docker", f"{name}-certs": "/certs"},
        publish_tls_port=True,
        host_ip="127.0.0.1",
        network=devstack["network"],
        dind=True,
    )
    with contextlib.suppress(docker.errors.NotFound):
        engine.containers.get(name).remove(force=True, v=True)
    for volume in spec_volumes(engine, name):
        volume.remove(force=True)


def spec_volumes(engine, name):
    return engine.volumes.list(filters={"label": f"io.dchweb.build-host={name}"})


def test_creating_twice_finds_the_first(connection, spec, engine):
    for volume in spec.binds:
        assert adapter.create_volume(connection, volume, spec.labels) == volume
        assert adapter.create_volume(connection, volume, spec.labels) == volume

    first = adapter.create_container(connection, spec)
    second = adapter.create_container(connection, spec)

    assert first == second
    assert len(engine.containers.list(all=True, filters={"name": spec.name})) == 1
    assert len(spec_volumes(engine, spec.name)) == 2


def test_the_container_is_made_as_its_spec_says(connection, spec, engine, devstack):
    made = engine.containers.get(adapter.create_container(connection, spec))

    config, host_config = made.attrs["Config"], made.attrs["HostConfig"]
    assert made.name == spec.name and made.status == "created"
    assert config["Image"] == spec.image and config["Cmd"] == spec.command
    assert spec.labels.items() <= config["Labels"].items()
    assert sorted(host_config["Binds"]) == sorted(
        f"{name}:{path}:rw" for name, path in spec.binds.items()
    )
    assert set(config["Volumes"]) == set(spec.binds.values())
    assert "2376/tcp" in config["ExposedPorts"]
    assert host_config["PortBindings"] == {
        "2376/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]
    }
    assert host_config["NetworkMode"] == devstack["network"]
    assert list(made.attrs["NetworkSettings"]["Networks"]) == [devstack["network"]]
    assert host_config["CapAdd"] == adapter.DIND_OPTIONS["cap_add"]
    assert host_config["SecurityOpt"] == adapter.DIND_OPTIONS["security_opt"]
    assert not host_config["Privileged"]


def test_a_name_taken_by_someone_else_is_a_conflict(connection, spec):
    adapter.create_container(connection, spec)
    impostor = dataclasses.replace(
        spec, labels={**spec.labels, "io.dchweb.build-host": "another"}
    )

    with pytest.raises(adapter.EngineConflict, match="not ours"):
        adapter.create_container(connection, impostor)


def test_removing_twice_is_done_and_a_volume_in_use_is_a_conflict(connection, spec):
    for volume in spec.binds:
        adapter.create_volume(connection, volume, spec.labels)
    adapter.create_container(connection, spec)
    data_volume = next(iter(spec.binds))

    with pytest.raises(adapter.EngineConflict, match="in use"):
        adapter.remove_volume(connection, data_volume)
    assert adapter.remove_container(connection, spec.name) is True
    assert adapter.remove_container(connection, spec.name) is False
    assert adapter.remove_volume(connection, data_volume) is True
    assert adapter.remove_volume(connection, data_volume) is False


def test_the_containers_listing_finds_ours_and_leaves_volumes_out(connection, spec):
    installation_id = f"test-{uuid.uuid4().hex[:8]}"
    ours = dataclasses.replace(
        spec,
        labels={
            **spec.labels,
            "io.dchweb.managed": "true",
            "io.dchweb.installation": installation_id,
        },
    )
    for volume in spec.binds:
        adapter.create_volume(connection, volume, ours.labels)
    adapter.create_container(connection, ours)

    containers = adapter.list_managed_containers(connection, installation_id)

    assert [(item.kind, item.name) for item in containers] == [("container", spec.name)]
    assert containers[0].labels["io.dchweb.build-host"] == spec.name
    # The two-call listing has the same container and the volumes besides.
    everything = adapter.list_managed(connection, installation_id)
    assert sorted((item.kind, item.name) for item in everything) == sorted(
        [("container", spec.name)] + [("volume", name) for name in spec.binds]
    )
    assert adapter.list_managed_containers(connection, f"{installation_id}-x") == []
