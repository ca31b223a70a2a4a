"""Time to a ready build host: dchweb against the same steps done by hand.

    cd /work/main && devstack/up && devstack/exec .venv/bin/python bench/provision.py

dchweb: hosts.buildhosts.create_build_host() in this process, a real Celery
worker subprocess on a queue of its own doing the provisioning, on a throwaway
SQLite database (var/bench-<pid>.sqlite3); the clock runs from the call until
the row says "ready" (polled every 50 ms, every 5 ms once the last step runs;
its ready_at stamp is printed too).

Direct: the same work with docker-py on the same engine: pull, two named
volumes, the container with the same options, the six TLS files and the
registry CA copied in before the start, start, /_ping over mutual TLS, and a
registry login from the build host.

Runs are interleaved (direct, dchweb, direct, ...) after one untimed warm-up
of each. Removal is not timed. Everything made here (containers, volumes, the
worker, the database) is removed at the end, on Ctrl-C and on errors too.
The set-up, the worker, the by-hand steps and the clean-up come from
bench/_common.py, which the other bench scripts share.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import TOKEN, say

RUNS = 5
# Every 50 ms: at 10 ms the bench's own queries took CPU from the worker and
# the engine beside them (2 CPUs), dchweb's side only; the stamp is exact.
POLL_SECONDS = 0.05
# Once the last step runs (about 50 ms before ready), every 5 ms: the end is
# seen within 5 ms, not up to 50 ms late, for a few polls' worth of CPU. The
# direct side's clock stops the moment its last call returns.
LAST_STEP_POLL_SECONDS = 0.005
READY_TIMEOUT_SECONDS = _common.READY_TIMEOUT_SECONDS
# The cold paths stay within 1.10 of by hand since the warm pool came (1.15 before).
GOAL_RATIO = 1.10


# --- The direct path: docker-py by hand ------------------------------------------


class Direct(_common.Direct):
    """The build host as an admin would start it with docker-py."""

    def run(self, number):
        """One build host to ready; returns (seconds, {step: seconds})."""
        from tests.support.buildhost import mutual_tls_client

        step = _common.StepClock()
        container, binds, url, cert_dir = self.start_build_host(number, step)
        build_host = mutual_tls_client(url, cert_dir)
        try:
            self.registry_login(build_host)
        finally:
            build_host.close()
        step("verify_registry")
        elapsed = step.elapsed()

        container.remove(force=True, v=True)
        self.remove_volumes(binds)
        return elapsed, step.steps


# --- The dchweb path: web call, Celery worker, provisioning ------------------------


def dchweb_run(user, endpoint, registry, number):
    """One build host to ready through dchweb; returns (seconds, {step: s})."""
    from hosts.buildhosts import commands as buildhosts
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
    # polling granularity (same machine clock, wall time).
    steps["ready_at"] = host.ready_at.timestamp() - wall

    buildhosts.request_removal(
        user, host, volumes="delete", source=AuditEvent.Source.API
    )
    wait_for_state(host, BuildHost.State.REMOVED, time.perf_counter())
    return elapsed, steps


def wait_for_state(host, wanted, started):
    from hosts.models import BuildHost

    rows = BuildHost.objects.filter(pk=host.pk)
    ready = wanted == BuildHost.State.READY
    last_step = _common.provision_steps()[-1] if ready else None
    while True:
        state, step, error = rows.values_list("state", "step", "error").get()
        if state == wanted:
            return
        if state == BuildHost.State.FAILED:
            raise RuntimeError(f"build host failed at {step}: {error}")
        if time.perf_counter() - started > READY_TIMEOUT_SECONDS:
            raise RuntimeError(f"build host still {state} ({step}) after the timeout")
        time.sleep(LAST_STEP_POLL_SECONDS if step == last_step else POLL_SECONDS)


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
    _common.say_runs(
        times,
        steps,
        warmups,
        GOAL_RATIO,
        warmups_are="untimed in the medians",
        stamp="ready_at",
        stamp_is="its ready_at stamp",
    )
    say()
    say("median per step (s); dchweb's from its BuildHostStep rows")
    _common.say_step_medians(
        steps, ("queue", *_common.provision_steps(), "mark_ready"), "{:<16}  {}  {}"
    )
    say()
    for role, pid, kib in peaks:
        say(f"worker peak RSS (VmHWM), {role} process {pid}: {kib / 1024:.1f} MiB")


# --- Main -------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each")
    args = parser.parse_args()

    with _common.worker_bench(Direct) as bench:
        worker = bench.start_worker()
        say(f"image {bench.devstack['image']}")

        def dchweb(number):
            return dchweb_run(bench.user, bench.endpoint, bench.registry, number)

        sides = (("direct", bench.direct.run), ("dchweb", dchweb))
        times, steps, warmups = _common.interleaved_runs(sides, args.runs)
        report(times, steps, worker.peak_rss_kib(), warmups)
    return 0 if bench.run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
