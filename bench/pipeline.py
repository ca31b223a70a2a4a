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
   final AND its build host is "removed" (both polled every 50 ms).

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

3. With a warm pool (--pool-size 2 on the endpoint, set by an admin as the
   endpoints' PATCH does: hosts.endpoints.patch_endpoint): 5 runs interleaved
   again, dchweb's pipelines with volume_policy delete ("with pool"), then
   with volume_policy cache ("with pool and cache": the owner's build cache
   is kept, the endpoint makes a warm host on it, and the next pipeline
   claims that); the direct side is the same cold pipeline by hand as in 1.
   Before each dchweb run the pool is full again, and with the cache the
   warm host on it is ready (waited for, untimed); each run says how its
   host started (claimed from the pool, claimed warm on the cache, cold on
   the cache, cold). Goal <= 0.5 for "with pool and cache". --pool-size 0
   leaves this part out.

4. Peak RSS (VmHWM) of the workers (main and pool processes) and of this one.

Everything made here (containers, volumes, pushed manifests, the workers,
the database, the data folder, the Redis queue) is removed at the end, on
Ctrl-C / SIGTERM and on errors too (the worker logs are kept after an error).
The set-up, the workers, the by-hand provisioning steps and the clean-up come
from bench/_common.py, which the other bench scripts share.
"""

import argparse
import contextlib
import io
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import TOKEN, say

RUNS = 5
PARALLEL = 4
# Every 50 ms: each poll is two queries of the bench's own, and at 10 ms they
# took about a tenth of a CPU from the worker and the engines beside them
# (2 CPUs), slowing dchweb's side only. The worker's stamps are exact anyway.
POLL_SECONDS = 0.05
PIPELINE_TIMEOUT_SECONDS = 300
GOAL_RATIO = 1.10
# With a warm pool and the owner's build cache (part 3).
GOAL_RATIO_POOL_CACHE = 0.5
POOL_SIZE = 2
PROJECT = "default-project"


def since(stamp, wall):
    return None if stamp is None else stamp.timestamp() - wall


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
        from hosts.lib import registry_check

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


class Direct(_common.Direct):
    """A build host started by hand, one build and push on it, then removed."""

    def pipeline(self, number, context, made):
        """Returns (seconds, {step: seconds})."""
        from hosts.lib import registry_check
        from tests.support.buildhost import mutual_tls_client, stream_errors

        devstack = self.devstack
        repository = new_repository()
        ref = f"{devstack['registry']}/{repository}:{max(number, 1)}"
        made.pushing(repository, str(max(number, 1)))
        step = _common.StepClock()
        container, binds, url, cert_dir = self.start_build_host(number, step)
        build_host = mutual_tls_client(url, cert_dir)
        try:
            self.registry_login(build_host)
            step("verify_registry")
            step.steps["provision (to ready)"] = step.elapsed()

            build_by_hand(build_host, context, ref)
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
        self.remove_volumes(binds)
        step("remove_volumes")
        return step.elapsed(), step.steps


def build_by_hand(build_host, context, ref):
    """client.api.build of the gzipped context archive on the build host,
    tagged `ref`; returns the build's output (its "stream" lines)."""
    from tests.support.buildhost import stream_errors

    image_id, errors, output = "", [], []
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
        errors += stream_errors([chunk])
        output.append(chunk.get("stream", ""))
    if errors or not image_id:
        raise RuntimeError(f"build failed: {errors or 'no image id'}")
    return "".join(output)


# --- dchweb: create_build, the worker does the rest ---------------------------------


class Pipeline:
    """One build through dchweb, watched until the build is final and its
    ephemeral build host removed."""

    def __init__(
        self,
        user,
        endpoint,
        registry,
        number,
        context,
        made,
        *,
        volume_policy="delete",
        push=True,
    ):
        """`push` False: the image is only built, tagged bench-<token>:<n>
        on the build host (and `registry` and `made` are not used)."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from hosts.builds import commands as builds
        from hosts.models import AuditEvent

        self.number = number
        data = {
            "tag": f"bench-{TOKEN}:{max(number, 1)}",
            "endpoint_id": endpoint.pk,
            "push": push,
            "volume_policy": volume_policy,
        }
        if push:
            self.repository = new_repository()
            made.pushing(self.repository, str(max(number, 1)))
            data["tag"] = f"{registry.address}/{self.repository}:{max(number, 1)}"
            data["registry_id"] = registry.pk
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
        from hosts.builds import logs as buildlogs

        with contextlib.suppress(Exception):
            return buildlogs.tail(self.build.pk)[0][-2000:]
        return ""

    def log_text(self):
        """The build's whole log (the bench's builds log a few kB)."""
        from hosts.builds import logs as buildlogs

        return buildlogs.path_of(self.build.pk).read_text(errors="replace")

    def steps(self):
        """Where the time went (s), from the worker's stamps (Build, BuildHost,
        BuildHostStep) and what the bench saw (state changes, 50 ms polls)."""
        from hosts.models import BuildHost

        build = self.build
        host = BuildHost.objects.get(pk=build.build_host_id)
        rows = list(host.steps.order_by("started_at", "id"))
        if host.from_pool:
            # Its provisioning ran ahead, before this build was asked for.
            rows = [row for row in rows if row.started_at.timestamp() >= self.wall]
        provision_rows = [r for r in rows if not r.name.startswith("remove")]
        remove_rows = [r for r in rows if r.name.startswith("remove")]
        wall, seen = self.wall, self.seen
        started = since(build.started_at, wall)
        # A host claimed from the pool was ready before the build was asked for.
        ready = started if host.from_pool else since(host.ready_at, wall)
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
        # The host may go while the push is verified: the later stamp ends it.
        ended = max(removed, finished)
        found["ended → seen"] = self.seconds - ended
        found["to the end (stamp)"] = ended
        return found

    def started_on(self):
        """How its build host started, in words: claimed from the pool, on
        the owner's cache, or cold."""
        from hosts.models import BuildHost

        host = BuildHost.objects.get(pk=self.build.build_host_id)
        if host.from_pool and host.cache_volume:
            return f"claimed warm, on the cache {host.cache_volume}"
        if host.from_pool:
            return "claimed from the pool"
        if host.cache_volume:
            return f"cold, on the cache {host.cache_volume}"
        return "cold"


def run_dchweb(pipelines):
    # Every pipeline is looked at on every round (a list, not all()'s
    # short circuit), so each one's end is seen within a round.
    while not all([pipeline.poll() for pipeline in pipelines]):
        time.sleep(POLL_SECONDS)


# --- With a warm pool and the owner's cache -------------------------------------------


def with_pool(endpoint, volume_policy, dchweb_pipeline, by_hand, runs, owner):
    """Part 3: the endpoint keeps `pool_size` hosts ready; dchweb's pipelines
    ask for `volume_policy` (cache: the owner's build cache). Each dchweb run
    starts with the pool full (refilled untimed after the run before; with
    the cache, the warm host on `owner`'s cache ready too), and says how its
    host started; the direct side is the cold pipeline by hand, as in part
    1. Returns (times, steps, warm-ups)."""
    owner = owner if volume_policy == "cache" else None
    filled = _common.wait_for_full_pool(endpoint, owner=owner)
    say(f"pool of {endpoint.pool_size} full after {filled:.3f} s")

    def dchweb(number):
        pipeline = dchweb_pipeline(200 + number, volume_policy)
        run_dchweb([pipeline])
        steps = pipeline.steps()
        _common.wait_for_full_pool(endpoint, owner=owner)
        refills = ", ".join(
            f"+{since(stamp, pipeline.wall):.2f} s"
            for stamp in refilled_since(endpoint, pipeline.wall)
        )
        say(
            f"  dchweb run {number}: {pipeline.started_on()}; done at "
            f"+{pipeline.seconds:.2f} s; refill hosts ready at {refills or '-'}"
        )
        return pipeline.seconds, steps

    sides = (("direct", by_hand), ("dchweb", dchweb))
    return _common.interleaved_runs(sides, runs)


def refilled_since(endpoint, wall):
    """When the pool hosts made after `wall` (the refills a claim sent) were
    ready: they were being provisioned beside the pipeline."""
    from datetime import UTC, datetime

    from hosts.models import BuildHost

    return BuildHost.objects.filter(
        endpoint=endpoint,
        from_pool=True,
        created_at__gte=datetime.fromtimestamp(wall, UTC),
        ready_at__isnull=False,
    ).values_list("ready_at", flat=True)


# --- Report ---------------------------------------------------------------------


def step_rows():
    return (
        "submit (create_build)",
        "queue (to build start)",
        *_common.provision_steps(),
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
        "ended → seen",
        "to the end (stamp)",
    )


def report_sequential(times, steps, warmups, goal=GOAL_RATIO):
    _common.say_runs(
        times,
        steps,
        warmups,
        goal,
        warmups_are="not in the medians",
        stamp="to the end (stamp)",
        stamp_is="the worker's stamps (the later of removed_at and finished_at)",
    )
    say()
    say("median per step (s); dchweb's from its Build, BuildHost and BuildHostStep")
    say("stamps, and the state changes the bench saw")
    _common.say_step_medians(steps, step_rows(), "  {:<30} {} {}")


# --- Main -------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each")
    parser.add_argument(
        "--parallel", type=int, default=PARALLEL, help="pipelines at once in part 2"
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=POOL_SIZE,
        help="the pool in part 3 (0: no part 3)",
    )
    args = parser.parse_args()
    busybox = _common.busybox_bytes()
    made = Made()

    def delete_pushed(bench, _failed):
        delete_manifests(made, bench.devstack)

    with _common.worker_bench(
        Direct, data_dir=True, also_clean_up=delete_pushed
    ) as bench:
        endpoint, registry, user = bench.endpoint, bench.registry, bench.user
        direct, workers, data_dir = bench.direct, bench.workers, bench.data_dir
        from tests.support.contexts import hello_context

        context = hello_context(busybox)

        def dchweb(number):
            pipeline = Pipeline(user, endpoint, registry, number, context, made)
            run_dchweb([pipeline])
            return pipeline.seconds, pipeline.steps()

        def by_hand(number):
            return direct.pipeline(number, context, made)

        def dchweb_pipeline(number, policy):
            return Pipeline(
                user, endpoint, registry, number, context, made, volume_policy=policy
            )

        bench.start_worker(1)
        say(f"image {bench.devstack['image']}, context {len(context)} bytes (gzip)")

        # 1. One at a time, interleaved.
        sides = (("direct", by_hand), ("dchweb", dchweb))
        times, steps, warmups = _common.interleaved_runs(sides, args.runs)
        report_sequential(times, steps, warmups)

        # 2. Several at once, two workers.
        bench.start_worker(2)
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

        # 3. With a warm pool, then with the pool and the owner's cache.
        if args.pool_size:
            admin = _common.bench_admin()
            endpoint = _common.set_pool(admin, endpoint, args.pool_size)
        modes = (("pool", "delete"), ("pool and cache", "cache"))
        for title, policy in modes if args.pool_size else ():
            say()
            say(f"with {title}: volume_policy {policy}, 2 workers")
            times, steps, warmups = with_pool(
                endpoint, policy, dchweb_pipeline, by_hand, args.runs, user
            )
            # The goal is the pool's and the cache's together; the pool alone
            # has none of its own.
            goal = GOAL_RATIO_POOL_CACHE if policy == "cache" else None
            report_sequential(times, steps, warmups, goal)

        # 4. Memory.
        _common.say_worker_peaks(workers)
        leftovers = [p.name for p in (data_dir / "contexts").glob("*")]
        if leftovers:
            say(f"note: contexts left in the data folder: {leftovers}")
    return 0 if bench.run.ok else 1


def delete_manifests(made, devstack):
    with _common.uninterruptible():
        if made.images:
            deleted, found = made.delete_images(devstack)
            say(f"clean-up: deleted {deleted} of the {found} images pushed")


if __name__ == "__main__":
    sys.exit(main())
