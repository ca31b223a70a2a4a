"""A rebuild after a one-line change: on the owner's cache against a fresh engine.

dchweb builds with the owner's build cache on a new ephemeral build host; by
hand, the same build runs on a fresh Docker-in-Docker engine.

    cd /work/main && devstack/up && flock -x /tmp/dchweb-bench.lock \
        devstack/exec .venv/bin/python bench/cache.py [--runs 5] [--sleep 2] \
        [--pool-size 1]

The context: a Dockerfile FROM scratch with busybox copied in, three slow RUN
steps (each sleeps --sleep seconds and writes a file) and then a COPY of a
source file, app.txt; each run changes one line of app.txt (its version), so
the slow steps stay as they were and only the COPY is new.

dchweb: hosts.builds.create_build() in this process with endpoint_id (an
ephemeral build host) and volume_policy "cache", the image built but not
pushed; a real Celery worker subprocess on a queue of its own builds on a
host on the owner's newest cache and removes the host (its data volume kept
as the cache again), on a throwaway SQLite database
(var/bench-<pid>.sqlite3) and data folder. The clock runs from the call until
the build is final and its host "removed" (polled every 10 ms), as in
bench/pipeline.py. With --pool-size N (1; an admin's PATCH of the endpoint),
the endpoint keeps a warm pool, and so a warm host on the owner's cache made
after each removal: the next rebuild claims it, ready, on the cache; the
bench waits for it between runs, untimed. --pool-size 0: every dchweb host
is provisioned on the cache when the rebuild is asked for.

Direct: as a person without a cache does it, with docker-py on the same
engine: a new Docker-in-Docker container on new volumes (the seven steps of
bench/provision.py's direct side but the registry login: nothing is pushed),
client.api.build of the same archive, then the container and its volumes
removed.

One untimed warm-up of each (dchweb's fills the cache), then 5 runs
interleaved; medians and the ratio dchweb/direct (goal <= 0.20); how each
dchweb host started, and how many steps each build took from the cache
("Using cache" in its log); peak RSS (VmHWM) of the worker and of this
process. Everything made here is removed at the end, on Ctrl-C / SIGTERM and
on errors too.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common, pipeline
from bench._common import TOKEN, say

RUNS = 5
SLEEP_SECONDS = 2
GOAL_RATIO = 0.20
USING_CACHE = "Using cache"


def context(busybox, sleep, version):
    """The build context, gzipped: the slow steps first, the source file last."""
    from tests.support.contexts import archive

    slow = "".join(
        'RUN ["/bin/busybox", "sh", "-c", '
        f'"/bin/busybox sleep {sleep} && /bin/busybox echo {letter} > /{letter}"]\n'
        for letter in "abc"
    )
    dockerfile = (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        f"{slow}"
        "COPY app.txt /app/app.txt\n"
        'CMD ["/bin/busybox", "cat", "/app/app.txt"]\n'
    ).encode()
    source = f"name = bench\nversion = {version}\nowner = nobody\n".encode()
    files = {"Dockerfile": dockerfile, "busybox": busybox, "app.txt": source}
    return archive(files, gzipped=True)


# --- Direct: a fresh Docker-in-Docker engine by hand ------------------------------


class Direct(_common.Direct):
    def rebuild(self, number, archive):
        """A new engine, the build, the engine removed; returns (seconds,
        {step: seconds}) with the steps' "Using cache" count."""
        from tests.support.buildhost import mutual_tls_client

        step = _common.StepClock()
        container, binds, url, cert_dir = self.start_build_host(number, step)
        step.steps["provision (to ready)"] = step.elapsed()
        build_host = mutual_tls_client(url, cert_dir)
        try:
            output = pipeline.build_by_hand(
                build_host, archive, f"bench-{TOKEN}:{max(number, 1)}"
            )
        finally:
            build_host.close()
        step("build")
        container.remove(force=True, v=True)
        step("remove_container")
        self.remove_volumes(binds)
        step("remove_volumes")
        elapsed = step.elapsed()
        step.steps["cached steps"] = output.count(USING_CACHE)
        return elapsed, step.steps


# --- dchweb: an ephemeral host on the owner's cache --------------------------------


class Rebuilds:
    def __init__(self, user, endpoint):
        self.user = user
        self.endpoint = endpoint
        self.started_on = []

    def run(self, number, archive):
        one = pipeline.Pipeline(
            self.user,
            self.endpoint,
            None,
            number,
            archive,
            None,
            volume_policy="cache",
            push=False,
        )
        pipeline.run_dchweb([one])
        steps = one.steps()
        log = one.log_text()
        steps["cached steps"] = log.count(USING_CACHE)
        self.started_on.append(one.started_on())
        say(f"  dchweb run {number}: {self.started_on[-1]}")
        return one.seconds, steps


# --- Report ---------------------------------------------------------------------


def report(times, steps, warmups):
    _common.say_runs(
        times,
        steps,
        warmups,
        GOAL_RATIO,
        warmups_are="not in the medians; dchweb's filled the cache",
        stamp="to the end (stamp)",
        stamp_is="the worker's stamps (the later of removed_at and finished_at)",
    )
    say()
    say("median per step (s); dchweb's from its Build, BuildHost and BuildHostStep")
    say("stamps, and the state changes the bench saw")
    _common.say_step_medians(steps, pipeline.step_rows(), "  {:<30} {} {}")
    say()
    for side in ("direct", "dchweb"):
        cached = [run["cached steps"] for run in steps[side]]
        say(f"{side}: steps taken from the cache, run by run: {cached}")
    say(
        f"median of the direct builds alone: "
        f"{statistics.median(run['build'] for run in steps['direct']):.3f} s"
    )


# --- Main -------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each")
    parser.add_argument(
        "--sleep",
        type=int,
        default=SLEEP_SECONDS,
        help="seconds each of the three slow steps takes",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=1,
        help="the endpoint's warm pool (0: none, so no warm host on the cache)",
    )
    args = parser.parse_args()
    busybox = _common.busybox_bytes()

    with _common.worker_bench(Direct, data_dir=True) as bench:
        bench.start_worker()
        say(f"image {bench.devstack['image']}")
        say(f"three slow steps of {args.sleep} s each, then COPY app.txt")

        endpoint, user = bench.endpoint, bench.user
        if args.pool_size:
            admin = _common.bench_admin()
            endpoint = _common.set_pool(admin, endpoint, args.pool_size)
            filled = _common.wait_for_full_pool(endpoint)
            say(f"warm pool of {args.pool_size} ready after {filled:.3f} s")
        rebuilds = Rebuilds(user, endpoint)

        def dchweb(number):
            timed = rebuilds.run(number, context(busybox, args.sleep, number))
            if args.pool_size:
                # Untimed: the warm host on the cache, made after the removal.
                _common.wait_for_full_pool(endpoint, owner=user)
            return timed

        def by_hand(number):
            return bench.direct.rebuild(number, context(busybox, args.sleep, number))

        sides = (("direct", by_hand), ("dchweb", dchweb))
        times, steps, warmups = _common.interleaved_runs(sides, args.runs)
        report(times, steps, warmups)
        _common.say_worker_peaks(bench.workers)
    return 0 if bench.run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
