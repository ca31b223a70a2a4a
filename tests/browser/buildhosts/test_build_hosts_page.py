"""A build host from the page, in Chromium: ask for one, watch its steps
advance to ready without a reload, download its TLS bundle, remove it with
its volumes; the engine keeps nothing of it."""

import contextlib
import json
import shutil
import socket
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from hosts.buildhosts import provisioning
from hosts.models import BuildHost
from tests.support import world
from tests.support.browser import sign_in, until
from tests.support.hostcheck import engine_objects

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The status fragment as the browser shows it, at first and after every change
# (each swap): the host's state and each step's status. A reload would drop it.
RECORD_SWAPS = """
window.dchwebSeen = [];
window.dchwebRecord = () => {
  const status = document.querySelector('#build-host-status');
  if (!status) return;
  const steps = {};
  status.querySelectorAll('tr[data-step]').forEach(
    (row) => { steps[row.dataset.step] = row.dataset.status; });
  window.dchwebSeen.push(JSON.stringify({state: status.dataset.state, steps}));
};
window.dchwebRecord();
new MutationObserver(window.dchwebRecord).observe(
  document.querySelector('main'), {childList: true, subtree: true});
"""


def state_is(state):
    return f"document.querySelector('#build-host-status')?.dataset.state == '{state}'"


class SlowEngine:
    """A unix-socket proxy in front of the devstack engine that holds every
    chunk a client sends for `delay` seconds. On the bare devstack a build
    host is ready in under a second, between two of the page's polls; behind
    this it takes seconds, so the page shows its steps go by."""

    def __init__(self, engine_socket: str, delay: float):
        self.engine_socket = engine_socket
        self.delay = delay
        # A short path: unix socket paths are limited to about 100 bytes.
        self.directory = tempfile.mkdtemp(prefix="dchweb-slow-")
        self.path = str(Path(self.directory) / "docker.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def close(self):
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.server.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.engine_socket)
            threading.Thread(
                target=self._pump, args=(client, upstream, self.delay), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, 0), daemon=True
            ).start()

    @staticmethod
    def _pump(source, target, delay):
        try:
            while chunk := source.recv(65536):
                time.sleep(delay)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def slow_engine(devstack):
    docker_url = devstack["docker_url"]
    assert docker_url.startswith("unix://"), docker_url
    proxy = SlowEngine(docker_url.removeprefix("unix://"), delay=0.25)
    yield proxy
    proxy.close()


def test_a_build_host_from_the_page_to_ready_to_removed(
    live_server,
    page,
    celery_worker,
    devstack,
    build_host_image,
    engine,
    developer,
    slow_engine,
    tmp_path,
    leftovers,
):
    endpoint = world.devstack_endpoint(devstack, docker_url=slow_engine.url)
    registry = world.devstack_registry(devstack)
    sign_in(page, live_server, "alice", "alice-password-1")
    page.on("dialog", lambda dialog: dialog.accept())

    # Ask for one.
    page.click("nav >> text=Build hosts")
    page.wait_for_url(f"{live_server.url}/build-hosts/")
    page.click("text=New build host")
    page.select_option("select[name=endpoint]", str(endpoint.pk))
    page.fill("input[name=name]", "from-the-page")
    assert page.is_checked(f"input[name=registries][value='{registry.pk}']")
    page.select_option("select[name=volume_policy]", "delete")
    page.click("button:has-text('Create build host')")

    # Its page opens and follows the steps without a reload.
    page.wait_for_url(f"{live_server.url}/build-hosts/*/")
    host = BuildHost.objects.get(name="from-the-page")
    assert page.url == f"{live_server.url}/build-hosts/{host.pk}/"
    page.evaluate(RECORD_SWAPS)
    page.wait_for_function(until(state_is("ready")), timeout=120_000)
    # The list survived (no reload); past the first entry, each is a swap.
    seen = [json.loads(item) for item in page.evaluate("window.dchwebSeen")]
    swapped_in_before_ready = [
        snapshot
        for snapshot in seen[1:]
        if snapshot["state"] != "ready"
        and any(status in ("running", "done") for status in snapshot["steps"].values())
    ]
    assert swapped_in_before_ready, f"no step seen going by before ready: {seen}"
    ready = seen[-1]
    assert ready["state"] == "ready"
    assert ready["steps"] == {name: "done" for name in provisioning.STEPS}
    # Settled: the fragment no longer polls.
    assert page.get_attribute("#build-host-status", "hx-trigger") is None
    host.refresh_from_db()
    shown = page.inner_text("#connect-environment")
    assert f"export DOCKER_HOST={host.docker_host}" in shown

    # The TLS bundle.
    with page.expect_download() as download_info:
        page.click("text=Download TLS bundle")
    download = download_info.value
    assert download.suggested_filename == f"dchweb-{host.short_id}-tls.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as bundle:
        assert sorted(bundle.namelist()) == ["ca.pem", "cert.pem", "key.pem"]
    containers, volumes = engine_objects(engine, host)
    assert len(containers) == 1 and len(volumes) == 2

    # Remove it with its volumes.
    page.evaluate("window.dchwebMarker = 'still here'")
    page.check("#build-host-remove input[value=delete]")
    page.click("#build-host-remove button:has-text('Remove')")
    page.wait_for_function(until(state_is("removed")), timeout=60_000)
    assert page.evaluate("window.dchwebMarker") == "still here"
    assert "Removed" in page.inner_text("#build-host-status .host-state")
    assert page.get_attribute("#build-host-status", "hx-trigger") is None

    host.refresh_from_db()
    assert host.state == BuildHost.State.REMOVED
    assert host.remove_volumes is True
    containers, volumes = engine_objects(engine, host)
    assert [container.name for container in containers] == []
    assert [volume.name for volume in volumes] == []
