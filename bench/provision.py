"""Time to a ready build host: dchweb against the same steps done by hand.

    cd /work/main && devstack/up && devstack/exec .venv/bin/python bench/provision.py

dchweb: hosts.buildhosts.create_build_host() in this process, a real Celery
worker subprocess on a queue of its own doing the provisioning, on a throwaway
SQLite database (var/bench-<pid>.sqlite3); the clock runs from the call until
the row says "ready" (polled every 50 ms).

Direct: the same work with docker-py on the same engine: pull, two named
volumes, the container with the same options, the six TLS files and the
registry CA copied in before the start, start, /_ping over mutual TLS, and a
registry login from the build host.

Runs are interleaved (direct, dchweb, direct, ...) after one untimed warm-up
of each. Removal is not timed. Everything made here (containers, volumes, the
worker, the database) is removed at the end, on Ctrl-C and on errors too.
"""

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 5
POLL_SECONDS = 0.01
READY_TIMEOUT_SECONDS = 120
GOAL_RATIO = 1.15
STEPS = (
    "pull_image",
    "create_volumes",
    "create_container",
    "inject_certs",
    "start",
    "wait_ready",
    "verify_registry",
)
TOKEN = uuid.uuid4().hex[:8]
BENCH_LABEL = "io.dchweb.bench"


def say(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def required(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(
            f"{name} is not set: run this inside the devstack: "
            "devstack/up && devstack/exec .venv/bin/python bench/provision.py"
        )
    return value


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --- The direct path: docker-py by hand ------------------------------------------


class Direct:
    """The build host as an admin would start it with docker-py."""

    def __init__(self, devstack, workdir):
        import docker

        self.devstack = devstack
        self.workdir = workdir
        self.client = docker.DockerClient(base_url=devstack["docker_url"], timeout=120)
        self.client.api.trust_env = False

    def run(self, number):
        """One build host to ready; returns (seconds, {step: seconds})."""
        from tests.support import pki
        from tests.support.buildhost import (
            DIND_OPTIONS,
            mutual_tls_client,
            registry_ca_files,
            stream_errors,
            tar_of,
            tlsverify_files,
            wait_until_pinged,
            write_client_files,
        )

        name = f"dchweb-bench-{TOKEN}-{number}"
        labels = {BENCH_LABEL: TOKEN}
        devstack = self.devstack
        steps = {}
        started = mark = time.perf_counter()

        def step(step_name):
            nonlocal mark
            now = time.perf_counter()
            steps[step_name] = now - mark
            mark = now

        repository, tag = devstack["image"].rsplit(":", 1)
        chunks = self.client.api.pull(
            repository,
            tag=tag,
            stream=True,
            decode=True,
            auth_config=devstack["registry_auth"],
        )
        errors = stream_errors(chunks)
        if errors:
            raise RuntimeError(f"pull failed: {errors}")
        step("pull_image")

        binds = {}
        for suffix, path in (("data", "/var/lib/docker"), ("certs", "/certs")):
            volume = self.client.volumes.create(name=f"{name}-{suffix}", labels=labels)
            binds[volume.name] = {"bind": path, "mode": "rw"}
        step("create_volumes")

        container = self.client.containers.create(
            devstack["image"],
            command=["-tlsverify"],
            name=name,
            labels=labels,
            detach=True,
            volumes=binds,
            ports={"2376/tcp": ("127.0.0.1", None)},
            network=devstack["network"],
            **DIND_OPTIONS,
        )
        step("create_container")

        # Certificates are made here, as dchweb makes them in this step.
        ca = pki.make_ca(f"bench build host {name}")
        server = ca.issue_server(name, [name], ["127.0.0.1"])
        client_pair = ca.issue_client("bench")
        cert_dir = write_client_files(self.workdir / name, ca, client_pair)
        files = tlsverify_files(ca, server, client_pair)
        files.update(registry_ca_files(devstack["registry"], devstack["registry_ca"]))
        if not container.put_archive("/", tar_of(files)):
            raise RuntimeError("the engine refused the archive")
        step("inject_certs")

        container.start()
        container.reload()
        port = int(container.ports["2376/tcp"][0]["HostPort"])
        step("start")

        url = f"https://127.0.0.1:{port}"
        # Every 0.25 s, as hosts.provisioning.PING_INTERVAL_SECONDS.
        wait_until_pinged(url, cert_dir, timeout=READY_TIMEOUT_SECONDS)
        step("wait_ready")

        build_host = mutual_tls_client(url, cert_dir)
        try:
            build_host.login(
                username=devstack["registry_user"],
                password=devstack["registry_password"],
                registry=devstack["registry"],
                reauth=True,
                dockercfg_path="/nonexistent/dchweb-bench/config.json",
            )
        finally:
            build_host.close()
        step("verify_registry")
        elapsed = time.perf_counter() - started

        container.remove(force=True, v=True)
        for volume in binds:
            self.client.volumes.get(volume).remove()
        return elapsed, steps

    def remove_labelled(self, key, value):
        """Remove every container, then every volume, labelled key=value."""
        import docker.errors

        label = {"label": f"{key}={value}"}
        count = 0
        for container in self.client.containers.list(all=True, filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
                count += 1
        for volume in self.client.volumes.list(filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)
                count += 1
        return count


# --- The dchweb path: web call, Celery worker, provisioning ------------------------


def setup_django(database, queue):
    os.environ["DCHWEB_SQLITE_PATH"] = str(database)
    os.environ["DCHWEB_TASK_QUEUE"] = queue
    # A fresh database makes a fresh installation id: the bench's own label.
    os.environ.pop("DCHWEB_INSTALLATION_ID", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dchweb.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from dchweb.celery import app

    app.conf.task_default_queue = queue


def make_world(devstack):
    from django.contrib.auth import get_user_model

    from hosts import installation
    from tests.support import world

    endpoint = world.devstack_endpoint(devstack)
    registry = world.devstack_registry(devstack)
    user = world.developer(get_user_model(), username="bench")
    return endpoint, registry, user, installation.installation_id()


class Worker:
    """`celery -A dchweb worker` on the bench's queue and database."""

    def __init__(self, queue, database, log_path):
        self.queue = queue
        self.log_path = log_path
        env = dict(
            os.environ, DCHWEB_SQLITE_PATH=str(database), DCHWEB_TASK_QUEUE=queue
        )
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "dchweb", "worker"),
                    *("-Q", queue, "--concurrency", "1", "-n", f"{queue}@%h"),
                    *("-l", "info"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C here reaches the bench, which then
                # stops the worker in order.
                start_new_session=True,
            )

    def wait_ready(self, timeout=60):
        from kombu.exceptions import OperationalError
        from redis.exceptions import RedisError

        from dchweb.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log_tail()}")
            try:
                replies = app.control.ping(timeout=1.0)
            except (OperationalError, RedisError):
                # Redis restarting (another session's fault tests do that).
                time.sleep(0.5)
                continue
            if any(
                name.startswith(f"{self.queue}@") for reply in replies for name in reply
            ):
                return
        raise RuntimeError(f"the worker never answered:\n{self.log_tail()}")

    def log_tail(self):
        return self.log_path.read_text(errors="replace")[-3000:]

    def peak_rss_kib(self):
        """VmHWM of the worker's main process and of its pool process(es)."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            pids += [int(pid) for pid in children.read_text().split()]
        peaks = []
        for index, pid in enumerate(pids):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        role = "main" if index == 0 else "pool"
                        peaks.append((role, pid, int(line.split()[1])))
        return peaks

    def stop(self, timeout=20):
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)


def dchweb_run(user, endpoint, registry, number):
    """One build host to ready through dchweb; returns (seconds, {step: s})."""
    from hosts import buildhosts
    from hosts.models import AuditEvent, BuildHost

    data = {
        "endpoint_id": endpoint.pk,
        "registry_ids": [registry.pk],
        "name": f"bench-{TOKEN}-{number}",
        "volume_policy": "delete",
    }
    wall = time.time()
    started = time.perf_counter()
    host, _ = buildhosts.create_build_host(user, data, source=AuditEvent.Source.API)
    wait_for_state(host, BuildHost.State.READY, started)
    elapsed = time.perf_counter() - started
    host.refresh_from_db()
    steps = step_durations(host)
    # The same span ended by the worker's own ready_at stamp: free of the
    # 50 ms polling granularity (same machine clock, wall time).
    steps["ready_at"] = host.ready_at.timestamp() - wall

    buildhosts.request_removal(
        user, host, volumes="delete", source=AuditEvent.Source.API
    )
    wait_for_state(host, BuildHost.State.REMOVED, time.perf_counter())
    return elapsed, steps


def wait_for_state(host, wanted, started):
    from hosts.models import BuildHost

    rows = BuildHost.objects.filter(pk=host.pk)
    while True:
        state, step, error = rows.values_list("state", "step", "error").get()
        if state == wanted:
            return
        if state == BuildHost.State.FAILED:
            raise RuntimeError(f"build host failed at {step}: {error}")
        if time.perf_counter() - started > READY_TIMEOUT_SECONDS:
            raise RuntimeError(f"build host still {state} ({step}) after the timeout")
        time.sleep(POLL_SECONDS)


def step_durations(host):
    """From the BuildHostStep rows; "queue" is request → first step and
    "mark_ready" the last step's end → ready."""
    rows = list(host.steps.order_by("started_at", "id"))
    found = {}
    for row in rows:
        if row.finished_at is not None:
            found[row.name] = (row.finished_at - row.started_at).total_seconds()
    if rows:
        found["queue"] = (rows[0].started_at - host.created_at).total_seconds()
        if host.ready_at and rows[-1].finished_at:
            found["mark_ready"] = (host.ready_at - rows[-1].finished_at).total_seconds()
    return found


# --- Report ---------------------------------------------------------------------


def report(times, steps, peaks, warmups):
    direct, dchweb = times["direct"], times["dchweb"]
    say()
    say(f"{'run':>4}  {'direct s':>9}  {'dchweb s':>9}")
    for index, (one, other) in enumerate(zip(direct, dchweb, strict=True), 1):
        say(f"{index:>4}  {one:>9.3f}  {other:>9.3f}")
    direct_median = statistics.median(direct)
    dchweb_median = statistics.median(dchweb)
    ratio = dchweb_median / direct_median
    say(f"{'med':>4}  {direct_median:>9.3f}  {dchweb_median:>9.3f}")
    say(
        f"warm-up (untimed in the medians): direct {warmups['direct']:.3f} s, "
        f"dchweb {warmups['dchweb']:.3f} s"
    )
    verdict = "meets" if ratio <= GOAL_RATIO else "misses"
    say(f"ratio dchweb/direct: {ratio:.3f} ({verdict} the goal of <= {GOAL_RATIO})")
    stamped = statistics.median(run["ready_at"] for run in steps["dchweb"])
    say(
        f"dchweb to its ready_at stamp (no polling delay): median {stamped:.3f} s, "
        f"ratio {stamped / direct_median:.3f}"
    )
    say()
    say("median per step (s); dchweb's from its BuildHostStep rows")
    say(f"{'step':<16}  {'direct':>7}  {'dchweb':>7}")
    for name in ("queue", *STEPS, "mark_ready"):
        cells = []
        for side in ("direct", "dchweb"):
            values = [run[name] for run in steps[side] if name in run]
            cells.append(f"{statistics.median(values):>7.3f}" if values else "      -")
        say(f"{name:<16}  {cells[0]}  {cells[1]}")
    say()
    for role, pid, kib in peaks:
        say(f"worker peak RSS (VmHWM), {role} process {pid}: {kib / 1024:.1f} MiB")


# --- Main -------------------------------------------------------------------------


def devstack_values():
    registry_password = (
        Path(required("DCHWEB_REGISTRY_PASSWORD_FILE")).read_text().strip()
    )
    values = {
        "docker_url": required("DCHWEB_DOCKER_URL"),
        "network": required("DCHWEB_DEVSTACK_NETWORK"),
        "image": required("DCHWEB_BUILD_HOST_IMAGE"),
        "registry": required("DCHWEB_REGISTRY"),
        "registry_ca": Path(required("DCHWEB_REGISTRY_CA")).read_bytes(),
        "registry_user": required("DCHWEB_REGISTRY_USER"),
        "registry_password": registry_password,
    }
    required("DCHWEB_REDIS_URL")
    values["registry_auth"] = {
        "username": values["registry_user"],
        "password": registry_password,
        "serveraddress": values["registry"],
    }
    return values


def remove_queue(queue):
    """The queue's keys in Redis: its lists and its exchange bindings."""
    from dchweb.celery import app

    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        names = [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
        names += client.scan_iter(match=f"{queue}*")
        client.delete(*names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    devstack = devstack_values()

    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    database = var / f"bench-{os.getpid()}.sqlite3"
    log_path = var / f"bench-{os.getpid()}-worker.log"
    queue = f"dchweb-bench-{TOKEN}"
    worker = None
    direct = None
    installation_id = None
    ok = failed = False
    workdir = tempfile.TemporaryDirectory(prefix="dchweb-bench-")
    try:
        say(f"bench {TOKEN}: database {database.name}, queue {queue}")
        setup_django(database, queue)
        endpoint, registry, user, installation_id = make_world(devstack)
        direct = Direct(devstack, Path(workdir.name))
        worker = Worker(queue, database, log_path)
        worker.wait_ready()
        say(f"worker pid {worker.process.pid} ready; image {devstack['image']}")

        def dchweb(number):
            return dchweb_run(user, endpoint, registry, number)

        sides = (("direct", direct.run), ("dchweb", dchweb))
        warmups = {}
        for side, run in sides:
            warmups[side], _ = run(0)
            say(f"warm-up {side}: {warmups[side]:.3f} s")
        times = {"direct": [], "dchweb": []}
        steps = {"direct": [], "dchweb": []}
        for number in range(1, args.runs + 1):
            for side, run in sides:
                seconds, detail = run(number)
                times[side].append(seconds)
                steps[side].append(detail)
                say(f"run {number} {side}: {seconds:.3f} s")
        report(times, steps, worker.peak_rss_kib(), warmups)
        ok = True
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
    except Exception:
        failed = True
        raise
    finally:
        cleanup(worker, direct, installation_id, queue, database, log_path, failed)
        workdir.cleanup()
    return 0 if ok else 1


def cleanup(worker, direct, installation_id, queue, database, log_path, failed):
    """Worker first (so it makes nothing more), then engine objects, then files."""
    # A second Ctrl-C must not cut the clean-up short.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if worker is not None:
            worker.stop()
        if direct is not None:
            removed = direct.remove_labelled(BENCH_LABEL, TOKEN)
            if installation_id:
                removed += direct.remove_labelled(
                    "io.dchweb.installation", installation_id
                )
            if removed:
                say(f"clean-up: removed {removed} leftover containers/volumes")
            direct.client.close()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
            with contextlib.suppress(Exception):
                remove_queue(queue)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        if failed and worker is not None:
            say(f"worker log kept: {log_path}")
        else:
            log_path.unlink(missing_ok=True)
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
