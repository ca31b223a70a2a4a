"""How a build host's `system df` answer becomes what the "Inside" section
and GET /build-hosts/{id}/inside show: sizes the engine did not measure are
unknown (not -1), an image named `<none>:<none>` is dangling, and what a trim
would free counts only the dangling images no container uses, without the
layers they share."""

import contextlib
from unittest import mock

from hosts import engine
from hosts.engine import inside

DF = {
    "LayersSize": 3_000,
    "Images": [
        {
            "Id": "sha256:tagged",
            "RepoTags": ["app:1"],
            "Created": 1_700_000_000,
            "Size": 1_000,
            "SharedSize": 100,
            "Containers": 1,
        },
        {
            "Id": "sha256:dangling",
            "RepoTags": ["<none>:<none>"],
            "Created": 1_700_000_000,
            "Size": 800,
            "SharedSize": 300,
            "Containers": 0,
        },
        {
            "Id": "sha256:dangling-in-use",
            "RepoTags": None,
            "Created": 1_700_000_000,
            "Size": 700,
            "SharedSize": -1,
            "Containers": 1,
        },
    ],
    "Containers": [
        {
            "Id": "c1",
            "Names": ["/web"],
            "Image": "app:1",
            "State": "running",
            "Status": "Up 3 minutes",
            "Created": 1_700_000_100,
            "SizeRw": 50,
        },
        {
            "Id": "c2",
            "Names": ["/old"],
            "Image": "sha256:dangling-in-use",
            "State": "exited",
            "Status": "Exited (0) 1 hour ago",
            "Created": 0,
        },
    ],
    "Volumes": [
        {"Name": "a", "UsageData": {"Size": 400}},
        {"Name": "b", "UsageData": {"Size": -1}},
    ],
    "BuildCache": [
        {"ID": "x", "Size": 90, "Shared": False},
        {"ID": "y", "Size": 60, "Shared": True},
    ],
}


def read(answer):
    client = mock.MagicMock()
    client.api.get.return_value.json.return_value = answer
    with mock.patch.object(
        inside, "open_client", return_value=contextlib.nullcontext(client)
    ):
        return engine.read_inside(engine.Connection(docker_url="tcp://h:1"))


def test_images_containers_and_disk_from_one_system_df():
    seen = read(DF)

    tagged, dangling, in_use = seen.images
    assert (tagged.tags, tagged.dangling) == (("app:1",), False)
    assert (dangling.tags, dangling.dangling) == ((), True)
    assert in_use.dangling and in_use.containers == 1
    web, old = seen.containers
    assert (web.name, web.state, web.size_bytes) == ("web", "running", 50)
    assert (old.size_bytes, old.created_at) == (None, None)
    assert seen.disk == engine.DiskUse(
        images_bytes=3_000,
        build_cache_bytes=90,
        volumes_bytes=400,
        containers_bytes=50,
        dangling_images_bytes=500,
    )


def test_an_empty_engine_is_all_zero():
    seen = read({})

    assert (seen.containers, seen.images) == ((), ())
    assert seen.disk == engine.DiskUse(0, 0, 0, 0, 0)
