"""Two minutes of bench/soak.py's own soak: ephemeral pipelines back to back
on two workers, page and API clients, a worker killed with SIGKILL (and
started again) and the registry stopped for 30 s. What must hold whatever the
timing: no pipeline hangs, a pipeline fails only in a fault's window and says
why, nothing is left on the engine and no row is stuck in a non-final state
once the periodic passes have run."""

import uuid

import pytest

from bench import soak
from tests.conftest import subprocess_database_env
from tests.support.contexts import hello_context

# Once per CI run: on PostgreSQL, test_worker_killed.py and
# test_parts_failing.py break the same parts in shorter runs.
pytestmark = [
    pytest.mark.faults,
    pytest.mark.once,
    pytest.mark.django_db(transaction=True),
]

PLAN = soak.Plan(
    minutes=2,
    clients=4,
    faults=("worker_killed", "registry_stopped"),
    fault_every=40,
    hung_after=90,
    settle=30,
)


def test_a_two_minute_soak_with_a_worker_killed_and_the_registry_stopped(
    devstack,
    endpoint,
    registry,
    developer,
    admin,
    busybox,
    data_dir,
    settings,
    leftovers,
    tmp_path,
):
    # Whatever a fault leaves is the reconciler's at once, not after the
    # grace a production engine's young objects get.
    settings.DCHWEB_RECONCILE_GRACE_SECONDS = 0
    env = {
        **subprocess_database_env(),
        "DCHWEB_DATA_DIR": str(data_dir),
        "DCHWEB_RECONCILE_GRACE": "0",
    }
    world = soak.World(
        devstack, endpoint, registry, developer, admin, hello_context(busybox)
    )

    report = soak.run(
        PLAN,
        world,
        queue=f"dchweb-soak-{uuid.uuid4().hex[:8]}",
        env=env,
        log_dir=tmp_path,
    )
    report.say()

    assert report.chaos_error is None
    assert [w.name for w in report.windows] == list(PLAN.faults)
    assert report.succeeded(), "no pipeline went through at all"
    assert report.hung() == []
    assert report.unexplained() == []
    assert report.left == {"containers": [], "volumes": []}
    assert report.stuck == {}
