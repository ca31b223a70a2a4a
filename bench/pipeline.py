"""The one-click ephemeral pipeline: dchweb against the same steps done by hand.

    cd /work/main && devstack/up && devstack/exec .venv/bin/python bench/pipeline.py

1. dchweb: hosts.builds.create_build() in this process with endpoint_id (an
   ephemeral build host), a context upload (tests/support/contexts.py
   hello_context: FROM scratch + busybox), push to
   registry.test:5443/default-project/bench-<rand>:<n>, volume_policy delete;
   a real Celery worker subprocess on a queue of its own does the rest
   (provision, build, push, verify the manifest digest, remove the host) on a
   throwaway SQLite database (var/bench-<pid>.sqlite3) and a throwaway data
   folder (DCHWEB_DATA_DIR). The clock runs from the call until the build is
   final AND its build host is "removed" (both polled every 10 ms).

   Direct: the same steps with docker-py on the same engine in the same run:
   pull, two named volumes, the container (as tests/support/buildhost.py),
   the six TLS files and the registry CA before the start, start, /_ping
   over mutual TLS, a registry login from the build host, client.api.build
   of the same archive, push with the login, HEAD of the manifest by digest
   at the registry (hosts.registry_check.manifest_digest), then the
   container and its volumes removed.

   One untimed warm-up of each, then 5 runs interleaved (direct, dchweb, ...);
   medians and the ratio dchweb/direct (goal <= 1.10). Every pipeline pushes
   to a repository of its own, so every push uploads its layer.

2. 4 dchweb pipelines at once with 2 workers (a second worker joins the
   queue): the total wall time and each one's time; all must succeed.

3. Peak RSS (VmHWM) of the workers (main and pool processes) and of this one.

Everything made here (containers, volumes, pushed manifests, the workers,
the database, the data folder, the Redis queue) is removed at the end, on
Ctrl-C / SIGTERM and on errors too (the worker logs are kept after an error).
"""

import argparse
import contextlib
import io
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# bench/provision.py's helpers: the world, the Django setup, the worker.
from bench import provision  # noqa: E402
from bench.provision import say  # noqa: E402

RUNS = 5
PARALLEL = 4
POLL_SECONDS = 0.01
PIPELINE_TIMEOUT_SECONDS = 300
GOAL_RATIO = 1.10
TOKEN = uuid.uuid4().hex[:8]
BENCH_LABEL = "io.dchweb.bench"
PROJECT = "default-project"


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def since(stamp, wall):
    return None if stamp is None else stamp.timestamp() - wall


def vm_hwm_kib(pid="self"):
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


# --- Made here, to remove at the end ------------------------------------------------


class Made:
    """Every image this run may have pushed: (repository, tag) pairs, noted
    before the push, so that an interrupted pipeline's image is found too."""

    def __init__(self):
        self.images = []

    def pushing(self, repository, tag):
        self.images.append((repository, tag))

    def delete_images(self, devstack):
        """DELETE the manifest each tag points at (the devstack registry
        allows deletes; blobs stay until its garbage collection). Returns
        (deleted, found)."""
        from hosts import registry_check

        login = (devstack["registry_user"], devstack["registry_password"])
        ca_pem = devstack["registry_ca"].decode()
        deleted = found = 0
        with registry_check.registry_session(ca_pem) as session:
            for repository, tag in self.images:
                try:
                    digest = registry_check.manifest_digest(
                        devstack["registry"], repository, tag, ca_pem, *login
                    )
                except registry_check.ManifestUnavailable:
                    continue  # never pushed
                found += 1
                url = f"https://{devstack['registry']}/v2/{repository}/manifests"
                with contextlib.suppress(Exception):
                    answer = session.delete(f"{url}/{digest}", auth=login, timeout=10)
                    deleted += answer.status_code in (202, 404)
        return deleted, found


def new_repository():
    return f"{PROJECT}/bench-{uuid.uuid4().hex[:8]}"


# --- Direct: docker-py by hand ------------------------------------------------------


class Direct(provision.Direct):
    """A build host started by hand, one build and push on it, then removed."""

    def pipeline(self, number, context, made):
        """Returns (seconds, {step: seconds})."""
        from hosts import registry_check
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

        devstack = self.devstack
        name = f"dchweb-bench-{TOKEN}-{number}"
        labels = {BENCH_LABEL: TOKEN}
        repository = new_repository()
        ref = f"{devstack['registry']}/{repository}:{max(number, 1)}"
        made.pushing(repository, str(max(number, 1)))
        steps = {}
        started = mark = time.perf_counter()

        def step(step_name):
            nonlocal mark
            now = time.perf_counter()
            steps[step_name] = now - mark
            mark = now

        image, tag = devstack["image"].rsplit(":", 1)
        errors = stream_errors(
            self.client.api.pull(
                image,
                tag=tag,
                stream=True,
                decode=True,
                auth_config=devstack["registry_auth"],
            )
        )
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
        url = f"https://127.0.0.1:{int(container.ports['2376/tcp'][0]['HostPort'])}"
        step("start")
        wait_until_pinged(url, cert_dir, timeout=120)
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
            step("verify_registry")
            steps["provision (to ready)"] = time.perf_counter() - started

            image_id, build_errors = "", []
            for chunk in build_host.api.build(
                fileobj=io.BytesIO(context),
                custom_context=True,
                encoding="gzip",
                tag=ref,
                decode=True,
                rm=True,
                forcerm=True,
            ):
                image_id = (chunk.get("aux") or {}).get("ID", image_id)
                build_errors += stream_errors([chunk])
            if build_errors or not image_id:
                raise RuntimeError(f"build failed: {build_errors or 'no image id'}")
            step("build")

            digest, push_errors = "", []
            for chunk in build_host.api.push(
                ref.rsplit(":", 1)[0],
                tag=ref.rsplit(":", 1)[1],
                stream=True,
                decode=True,
                auth_config=devstack["registry_auth"],
            ):
                digest = (chunk.get("aux") or {}).get("Digest", digest)
                push_errors += stream_errors([chunk])
            if push_errors or not digest:
                raise RuntimeError(f"push failed: {push_errors or 'no digest'}")
        finally:
            build_host.close()

        served = registry_check.manifest_digest(
            devstack["registry"],
            repository,
            digest,
            ca_pem=devstack["registry_ca"].decode(),
            username=devstack["registry_user"],
            password=devstack["registry_password"],
        )
        if served != digest:
            raise RuntimeError(f"the registry serves {served}, not {digest}")
        step("push + verify")

        container.remove(force=True, v=True)
        step("remove_container")
        for volume in binds:
            self.client.volumes.get(volume).remove()
        step("remove_volumes")
        return time.perf_counter() - started, steps


# --- dchweb: create_build, the worker does the rest ---------------------------------


class Worker(provision.Worker):
    """provision.Worker with a node name of its own, so two can share a queue."""

    def __init__(self, queue, database, log_path, node):
        import subprocess

        self.queue = queue
        self.node = node
        self.log_path = log_path
        env = dict(
            os.environ, DCHWEB_SQLITE_PATH=str(database), DCHWEB_TASK_QUEUE=queue
        )
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "dchweb", "worker"),
                    *("-Q", queue, "--concurrency", "1", "-n", f"{node}@%h"),
                    *("-l", "info"),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout=60):
        from kombu.exceptions import OperationalError
        from redis.exceptions import RedisError

        from dchweb.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.node} exited:\n{self.log_tail()}")
            try:
                replies = app.control.ping(timeout=1.0)
            except (OperationalError, RedisError):
                time.sleep(0.5)
                continue
            if any(
                name.startswith(f"{self.node}@") for reply in replies for name in reply
            ):
                return
        raise RuntimeError(f"worker {self.node} never answered:\n{self.log_tail()}")


class Pipeline:
    """One build through dchweb, watched until the build is final and its
    ephemeral build host removed."""

    def __init__(self, user, endpoint, registry, number, context, made):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from hosts import builds
        from hosts.models import AuditEvent

        self.number = number
        self.repository = new_repository()
        made.pushing(self.repository, str(max(number, 1)))
        data = {
            "tag": f"{registry.address}/{self.repository}:{max(number, 1)}",
            "endpoint_id": endpoint.pk,
            "registry_id": registry.pk,
            "push": True,
            "volume_policy": "delete",
        }
        upload = SimpleUploadedFile("context.tar.gz", context)
        self.wall = time.time()
        self.started = time.perf_counter()
        self.build = builds.create_build(
            user, data, upload=upload, source=AuditEvent.Source.API
        )
        self.seen = {"submitted": time.time() - self.wall}
        self.state = self.build.state
        self.host_state = None
        self.seconds = None

    @property
    def done(self):
        return self.seconds is not None

    def poll(self):
        """Look once; True when finished. Raises when the build failed."""
        from hosts.models import Build, BuildHost

        if self.done:
            return True
        if self.state not in Build.FINAL_STATES:
            state, error = (
                Build.objects.filter(pk=self.build.pk)
                .values_list("state", "error")
                .get()
            )
            if state != self.state:
                self.seen[state] = time.time() - self.wall
                self.state = state
            if state in Build.FINAL_STATES and state != Build.State.SUCCEEDED:
                raise RuntimeError(
                    f"dchweb build {self.number} {state}: {error}\n{self.log_tail()}"
                )
            if state not in Build.FINAL_STATES:
                return False
        host_state, error = (
            BuildHost.objects.filter(pk=self.build.build_host_id)
            .values_list("state", "error")
            .get()
        )
        if host_state != self.host_state:
            self.seen[f"host {host_state}"] = time.time() - self.wall
            self.host_state = host_state
        if host_state == BuildHost.State.FAILED:
            raise RuntimeError(f"build host of build {self.number} failed: {error}")
        if host_state == BuildHost.State.REMOVED:
            self.seconds = time.perf_counter() - self.started
            self.build.refresh_from_db()
            return True
        if time.perf_counter() - self.started > PIPELINE_TIMEOUT_SECONDS:
            raise RuntimeError(
                f"dchweb build {self.number}: build {self.state}, host {host_state} "
                f"after {PIPELINE_TIMEOUT_SECONDS} s\n{self.log_tail()}"
            )
        return False

    def log_tail(self):
        from hosts import buildlogs

        with contextlib.suppress(Exception):
            return buildlogs.tail(self.build.pk)[0][-2000:]
        return ""

    def steps(self):
        """Where the time went (s), from the worker's stamps (Build, BuildHost,
        BuildHostStep) and what the bench saw (state changes, 10 ms polls)."""
        from hosts.models import BuildHost

        build = self.build
        host = BuildHost.objects.get(pk=build.build_host_id)
        rows = list(host.steps.order_by("started_at", "id"))
        provision_rows = [r for r in rows if not r.name.startswith("remove")]
        remove_rows = [r for r in rows if r.name.startswith("remove")]
        wall, seen = self.wall, self.seen
        started = since(build.started_at, wall)
        ready = since(host.ready_at, wall)
        finished = since(build.finished_at, wall)
        removed = since(host.removed_at, wall)
        building = seen.get("building", ready)
        pushing = seen.get("pushing", finished)
        found = {
            "submit (create_build)": seen["submitted"],
            "queue (to build start)": started - seen["submitted"],
            "provision (to ready_at)": ready - started,
            "build": pushing - building,
            "push + verify": finished - pushing,
        }
        if provision_rows:
            found["  provision steps (sum)"] = sum(
                r.duration_seconds or 0 for r in provision_rows
            )
            found["  ready_at → building"] = building - ready
        if remove_rows and removed is not None:
            first = since(remove_rows[0].started_at, wall)
            found["finished → removal starts"] = first - finished
            found["remove (steps → removed_at)"] = removed - first
            found["  remove steps (sum)"] = sum(
                r.duration_seconds or 0 for r in remove_rows
            )
        for row in rows:
            found[row.name] = found.get(row.name, 0) + (row.duration_seconds or 0)
        if remove_rows and remove_rows[-1].finished_at and removed is not None:
            found["mark removed"] = removed - since(remove_rows[-1].finished_at, wall)
        found["removed_at → seen"] = self.seconds - removed
        found["to removed_at (stamp)"] = removed
        return found


def run_dchweb(pipelines):
    # Every pipeline is looked at on every round (a list, not all()'s
    # short circuit), so each one's end is seen within a round.
    while not all([pipeline.poll() for pipeline in pipelines]):
        time.sleep(POLL_SECONDS)


# --- Report ---------------------------------------------------------------------


STEP_ROWS = (
    "submit (create_build)",
    "queue (to build start)",
    "pull_image",
    "create_volumes",
    "create_container",
    "inject_certs",
    "start",
    "wait_ready",
    "verify_registry",
    "  provision steps (sum)",
    "provision (to ready_at)",
    "provision (to ready)",
    "  ready_at → building",
    "build",
    "push + verify",
    "finished → removal starts",
    "remove_container",
    "remove_volumes",
    "mark removed",
    "remove (steps → removed_at)",
    "removed_at → seen",
    "to removed_at (stamp)",
)


def report_sequential(times, steps, warmups):
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
        f"warm-up (not in the medians): direct {warmups['direct']:.3f} s, "
        f"dchweb {warmups['dchweb']:.3f} s"
    )
    verdict = "meets" if ratio <= GOAL_RATIO else "misses"
    say(f"ratio dchweb/direct: {ratio:.3f} ({verdict} the goal of <= {GOAL_RATIO})")
    stamped = statistics.median(run["to removed_at (stamp)"] for run in steps["dchweb"])
    say(
        f"dchweb to the worker's removed_at stamp (no polling delay): median "
        f"{stamped:.3f} s, ratio {stamped / direct_median:.3f}"
    )
    say()
    say("median per step (s); dchweb's from its Build, BuildHost and BuildHostStep")
    say("stamps, and the state changes the bench saw")
    say(f"  {'step':<30} {'direct':>7} {'dchweb':>7}")
    for name in STEP_ROWS:
        cells = []
        for side in ("direct", "dchweb"):
            values = [run[name] for run in steps[side] if run.get(name) is not None]
            cells.append(f"{statistics.median(values):>7.3f}" if values else "      -")
        say(f"  {name:<30} {cells[0]} {cells[1]}")


def report_peaks(workers):
    say()
    for worker in workers:
        for role, pid, kib in worker.peak_rss_kib():
            say(
                f"worker {worker.node} peak RSS (VmHWM), {role} process {pid}: "
                f"{kib / 1024:.1f} MiB"
            )
    say(f"bench process peak RSS (VmHWM): {vm_hwm_kib() / 1024:.1f} MiB")


# --- Main -------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each")
    parser.add_argument(
        "--parallel", type=int, default=PARALLEL, help="pipelines at once in part 2"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    devstack = provision.devstack_values()
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        sys.exit("/bin/busybox is missing: devstack/up installs busybox-static")

    var = ROOT / "var"
    var.mkdir(exist_ok=True)
    database = var / f"bench-{os.getpid()}.sqlite3"
    data_dir = Path(tempfile.mkdtemp(prefix="dchweb-bench-data-"))
    os.environ["DCHWEB_DATA_DIR"] = str(data_dir)
    workdir = tempfile.TemporaryDirectory(prefix="dchweb-bench-")
    queue = f"dchweb-bench-{TOKEN}"
    workers, direct, installation_id = [], None, None
    made = Made()
    ok = failed = False
    try:
        say(f"bench {TOKEN}: database {database.name}, queue {queue}, data {data_dir}")
        provision.setup_django(database, queue)
        endpoint, registry, user, installation_id = provision.make_world(devstack)
        direct = Direct(devstack, Path(workdir.name))
        from tests.support.contexts import hello_context

        context = hello_context(busybox.read_bytes())

        def start_worker(index):
            log = var / f"bench-{os.getpid()}-worker{index}.log"
            worker = Worker(queue, database, log, f"{queue}-w{index}")
            workers.append(worker)
            worker.wait_ready()
            say(f"worker {worker.node} (pid {worker.process.pid}) ready")

        def dchweb(number):
            pipeline = Pipeline(user, endpoint, registry, number, context, made)
            run_dchweb([pipeline])
            return pipeline.seconds, pipeline.steps()

        def by_hand(number):
            return direct.pipeline(number, context, made)

        start_worker(1)
        say(f"image {devstack['image']}, context {len(context)} bytes (gzip)")

        # 1. One at a time, interleaved.
        sides = (("direct", by_hand), ("dchweb", dchweb))
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
        report_sequential(times, steps, warmups)

        # 2. Several at once, two workers.
        start_worker(2)
        say()
        say(f"{args.parallel} dchweb pipelines at once, 2 workers (concurrency 1 each)")
        started = time.perf_counter()
        pipelines = [
            Pipeline(user, endpoint, registry, 100 + index, context, made)
            for index in range(1, args.parallel + 1)
        ]
        submitted = time.perf_counter() - started
        run_dchweb(pipelines)
        total = time.perf_counter() - started
        say(f"all {len(pipelines)} succeeded; submitting took {submitted:.3f} s")
        for pipeline in pipelines:
            offset = pipeline.started - started
            parts = pipeline.steps()
            detail = ", ".join(
                f"{label} {parts[name]:.2f}"
                for label, name in (
                    ("queue", "queue (to build start)"),
                    ("provision", "provision (to ready_at)"),
                    ("build", "build"),
                    ("push", "push + verify"),
                    ("wait for removal", "finished → removal starts"),
                    ("remove", "remove (steps → removed_at)"),
                )
                if name in parts
            )
            say(
                f"  pipeline {pipeline.number}: {pipeline.seconds:.3f} s, submitted "
                f"at +{offset:.3f} s ({detail})"
            )
        say(f"total wall time: {total:.3f} s")

        # 3. Memory.
        report_peaks(workers)
        leftovers = [p.name for p in (data_dir / "contexts").glob("*")]
        if leftovers:
            say(f"note: contexts left in the data folder: {leftovers}")
        ok = True
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
    except Exception:
        failed = True
        raise
    finally:
        cleanup(workers, direct, installation_id, queue, database, data_dir, failed)
        delete_manifests(made, devstack)
        workdir.cleanup()
    return 0 if ok else 1


def delete_manifests(made, devstack):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if made.images:
            deleted, found = made.delete_images(devstack)
            say(f"clean-up: deleted {deleted} of the {found} images pushed")
    finally:
        signal.signal(signal.SIGINT, previous)


def cleanup(workers, direct, installation_id, queue, database, data_dir, failed):
    """Workers first (so they make nothing more), then engine objects, the
    registry's manifests, Redis, then files."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for worker in workers:
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
                provision.remove_queue(queue)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        for worker in workers:
            if failed:
                say(f"worker log kept: {worker.log_path}")
            else:
                worker.log_path.unlink(missing_ok=True)
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
