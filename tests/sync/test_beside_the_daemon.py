"""Read-only commands run while a daemon holds the engine lock (a real flock): `sync --dry-run`,
`check` and `report open-items` answer, change nothing on either service and leave the
daemon's own status alone; a real `sync` is still refused."""

from __future__ import annotations

import re

import pytest

from core import cli
from core.demo.world import SimulatedWorld
from core.sync.invoices import InvoicesJob
from core.sync.relations import RelationsJob

pytestmark = pytest.mark.loopback


def test_read_only_commands_answer_while_the_daemon_holds_the_lock(tmp_path, capsys):
    with SimulatedWorld(tmp_path, loopback=True) as world:
        daemon = world.engine(mode="daemon", jobs=[RelationsJob(), InvoicesJob()])
        try:
            daemon.run(trigger="schedule", only=["relations"])
            capsys.readouterr()
            held = daemon.store.engine_status()
            services_before = (len(world.eboekhouden.relations), len(world.eboekhouden.mutations),
                               len(world.perfectview.db["relations"]))
            where = ["--config", str(world.config_path), "--state-dir", str(world.state_dir)]

            assert cli.main(["sync", *where]) == cli.EXIT_BUSY
            assert "another pvsync engine" in capsys.readouterr().err

            code = cli.main(["sync", "--dry-run", "--only", "invoices", *where])
            out, err = capsys.readouterr()
            assert code == 0, err
            planned = re.search(r"dry run: (\d+) would be booked", out)
            assert planned and int(planned.group(1)) > 0, out  # the demo's data is drawn at random

            code = cli.main(["check", *where])
            out, err = capsys.readouterr()
            assert code == 0, err
            assert "e-Boekhouden  OK" in out and "PerfectView   OK" in out

            code = cli.main(["report", "open-items", *where])
            out, err = capsys.readouterr()
            assert code in (0, 1) and "Open items: PerfectView against e-Boekhouden" in out, err

            after = daemon.store.engine_status()
            assert (after.pid, after.mode, after.state, after.current_run_id) == \
                   (held.pid, held.mode, held.state, held.current_run_id), "the daemon's status is its own"
            assert (len(world.eboekhouden.relations), len(world.eboekhouden.mutations),
                    len(world.perfectview.db["relations"])) == services_before, "nothing changed on a service"
            newest = daemon.store.runs(limit=1)[0]
            assert newest.dry_run and newest.finished_at is not None
            # The daemon's next real run still books what the dry run only planned.
            report = daemon.run(trigger="schedule", only=["invoices"])
            assert report.outcome in ("ok", "partial")
            assert len(world.eboekhouden.mutations) == services_before[1] + int(planned.group(1)), \
                "the run booked what the dry run beside it planned"
        finally:
            daemon.close()
