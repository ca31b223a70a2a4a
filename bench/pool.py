"""A build host from the warm pool: dchweb against a cold one done by hand.

    cd /work/main && devstack/up && flock -x /tmp/dchweb-bench.lock \
        devstack/exec .venv/bin/python bench/pool.py [--runs 20] [--pool-size 3]

The devstack endpoint gets a pool (an admin sets its pool_size and cap as
`PATCH /api/v1/endpoints/{id}` does: hosts.endpoints.patch_endpoint); a real
Celery worker
subprocess on a queue of its own provisions the pool hosts, on a throwaway
SQLite database (var/bench-<pid>.sqlite3). The bench waits until the pool is
full before it starts.

1. dchweb: hosts.buildhosts.create_build_host() as a developer in this
   process; the clock runs from the call until the row says "ready" (polled
   every 10 ms). Then, untimed: the host removed, and the pool full again.

   Direct: the same seven steps by hand with docker-py on the same engine,
   cold (bench/provision.py's direct side): pull, two named volumes, the
   container, the TLS files and the registry CA, start, /_ping over mutual
   TLS, a registry login from the build host.

   One untimed warm-up of each, then 20 runs interleaved; medians and the
   ratio dchweb/direct (goal <= 0.10).

2. 10 requests at once (10 developers, threads in this process, a second
   worker joins the queue) against the full pool: how many were claimed from
   it, each one's time to ready, and the time until all are ready.

3. Peak RSS (VmHWM) of the workers (main and pool processes) and of this one.

Everything made here (containers, volumes, the workers, the database, the
Redis queue) is removed at the end, on Ctrl-C / SIGTERM and on errors too.
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common, provision
from bench._common import TOKEN, say

RUNS = 20
POOL_SIZE = 3
BURST = 10
POLL_SECONDS = 0.01
READY_TIMEOUT_SECONDS = _common.READY_TIMEOUT_SECONDS
GOAL_RATIO = 0.10


def request_data(endpoint, registry, name):
    return {
        "endpoint_id": endpoint.pk,
        "registry_ids": [registry.pk],
        "name": name,
        "volume_policy": "delete",
    }


# --- 1. One request at a time ------------------------------------------------------


class Claims:
    """Requests to a ready host through dchweb, one at a time, each from the
    full pool; counts how many were served from it."""

    def __init__(self, user, endpoint, registry):
        self.user = user
        self.endpoint = endpoint
        self.registry = registry
        self.from_pool = 0
        self.cold = 0
        self.refills = []

    def run(self, number):
        """One request to ready; returns (seconds, {stamp: seconds})."""
        from hosts.buildhosts import commands as buildhosts
        from hosts.models import AuditEvent, BuildHost

        data = request_data(self.endpoint, self.registry, f"bench-{TOKEN}-{number}")
        wall = time.time()
        started = time.perf_counter()
        host, _ = buildhosts.create_build_host(
            self.user, data, source=AuditEvent.Source.API
        )
        provision.wait_for_state(host, BuildHost.State.READY, started)
        elapsed = time.perf_counter() - started
        host.refresh_from_db()
        if host.from_pool:
            self.from_pool += 1
        else:
            self.cold += 1
            say(f"  run {number}: not from the pool ({host.placement or 'no reason'})")
        # The worker's or the claim's own stamp: free of the polling delay.
        stamp = host.claimed_at if host.from_pool else host.ready_at
        steps = {"stamp": stamp.timestamp() - wall}

        # Untimed: the host goes, and the pool is full again before the next.
        buildhosts.request_removal(
            self.user, host, volumes="delete", source=AuditEvent.Source.API
        )
        provision.wait_for_state(host, BuildHost.State.REMOVED, time.perf_counter())
        self.refills.append(_common.wait_for_full_pool(self.endpoint))
        return elapsed, steps


# --- 2. Requests at once --------------------------------------------------------------


def burst(developers, endpoint, registry):
    """len(developers) requests at once, one a developer, each in a thread
    of its own (a barrier lets them go together); returns what each request
    gave: [(host, started, call seconds)]."""
    from django.db import connections

    from hosts.buildhosts import commands as buildhosts
    from hosts.models import AuditEvent

    barrier = threading.Barrier(len(developers))
    answers = [None] * len(developers)

    def request(index, developer):
        try:
            data = request_data(endpoint, registry, f"bench-{TOKEN}-burst-{index}")
            barrier.wait()
            started = time.perf_counter()
            host, _ = buildhosts.create_build_host(
                developer, data, source=AuditEvent.Source.API
            )
            answers[index] = (host, started, time.perf_counter() - started)
        except Exception as error:  # reported below, with the others
            answers[index] = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=request, args=(index, developer))
        for index, developer in enumerate(developers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [answer for answer in answers if isinstance(answer, Exception)]
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed: {errors}")
    return answers


def wait_all_ready(answers, started):
    """Poll every host not ready when its request returned until it is;
    returns {host id: seconds from `started` to ready}: the request's return
    for a host it gave ready (a claim), else the poll that saw it ready."""
    from hosts.models import BuildHost

    ready = {
        host.pk: start + call - started
        for host, start, call in answers
        if host.state == BuildHost.State.READY
    }
    waiting = {host.pk for host, _, _ in answers} - set(ready)
    while waiting:
        rows = BuildHost.objects.filter(pk__in=waiting).values_list(
            "pk", "state", "error"
        )
        now = time.perf_counter() - started
        for pk, state, error in rows:
            if state == BuildHost.State.READY:
                ready[pk] = now
                waiting.discard(pk)
            elif state == BuildHost.State.FAILED:
                raise RuntimeError(f"build host {pk} failed: {error}")
        if now > READY_TIMEOUT_SECONDS:
            raise RuntimeError(f"{len(waiting)} build hosts not ready after {now} s")
        time.sleep(POLL_SECONDS)
    return ready


def remove_all(hosts, owners):
    """Untimed: every host removed, and waited for."""
    from hosts.buildhosts import commands as buildhosts
    from hosts.models import AuditEvent, BuildHost

    for host, owner in zip(hosts, owners, strict=True):
        buildhosts.request_removal(
            owner, host, volumes="delete", source=AuditEvent.Source.API
        )
    for host in hosts:
        provision.wait_for_state(host, BuildHost.State.REMOVED, time.perf_counter())


def run_burst(developers, endpoint, registry):
    _common.wait_for_full_pool(endpoint)
    size = endpoint.pool_size
    say()
    say(f"{len(developers)} requests at once against a full pool of {size}, 2 workers")
    answers = burst(developers, endpoint, registry)
    started = min(start for _, start, _ in answers)
    hosts = [host for host, _, _ in answers]
    ready = wait_all_ready(answers, started)
    distinct = len({host.pk for host in hosts})
    claimed = sum(host.from_pool for host in hosts)
    for index, (host, start, call) in enumerate(answers):
        where = "from the pool" if host.from_pool else "cold"
        say(
            f"  request {index}: {where}, call {call:.3f} s, ready "
            f"{ready[host.pk] - (start - started):.3f} s after it was sent"
        )
    say(
        f"claimed from the pool: {claimed} of {len(hosts)} (pool of {size}); "
        f"{distinct} distinct hosts"
    )
    from_pool = [ready[h.pk] for h in hosts if h.from_pool]
    if from_pool:
        say(f"all claimed ones ready after {max(from_pool):.3f} s")
    say(f"all {len(hosts)} ready {max(ready.values()):.3f} s after the first was sent")
    if distinct != len(hosts):
        raise RuntimeError("one build host was given to two requests")
    remove_all(hosts, developers)


# --- Report ---------------------------------------------------------------------


def report(times, steps, warmups, claims):
    _common.say_runs(
        times,
        steps,
        warmups,
        GOAL_RATIO,
        warmups_are="untimed in the medians",
        stamp="stamp",
        stamp_is="its claimed_at stamp",
    )
    total = claims.from_pool + claims.cold
    say(f"from the pool: {claims.from_pool} of {total} requests (warm-up included)")
    say(
        f"refill after each claim (untimed, host removed → pool full): median "
        f"{statistics.median(claims.refills):.3f} s"
    )


# --- Main -------------------------------------------------------------------------


def developers(count):
    from django.contrib.auth import get_user_model

    from tests.support import world

    return [
        world.developer(get_user_model(), username=f"bench-{index}")
        for index in range(1, count + 1)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each")
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE)
    parser.add_argument(
        "--burst", type=int, default=BURST, help="requests at once in part 2"
    )
    args = parser.parse_args()

    with _common.worker_bench(provision.Direct) as bench:
        bench.start_worker(1)
        say(f"image {bench.devstack['image']}; pool of {args.pool_size}")

        # A cap with room for the burst, the pool and its refill.
        endpoint, registry = bench.endpoint, bench.registry
        cap = max(endpoint.max_build_hosts, args.burst + 2 * args.pool_size)
        endpoint = _common.set_pool(
            _common.bench_admin(), endpoint, args.pool_size, cap
        )
        filled = _common.wait_for_full_pool(endpoint)
        say(f"pool full after {filled:.3f} s")

        # 1. One at a time, interleaved with a cold host by hand.
        claims = Claims(bench.user, endpoint, registry)
        sides = (("direct", bench.direct.run), ("dchweb", claims.run))
        times, steps, warmups = _common.interleaved_runs(sides, args.runs)
        report(times, steps, warmups, claims)

        # 2. Requests at once.
        bench.start_worker(2)
        run_burst(developers(args.burst), endpoint, registry)

        # 3. Memory.
        _common.say_worker_peaks(bench.workers)
    return 0 if bench.run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
