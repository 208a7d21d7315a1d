"""The `pvsync` command as admins and scripts use it: help, config problems, sync,
status exit codes, the logbook, check, simulate and the console entry points."""

from __future__ import annotations

import json
import os
import sys
import types
from datetime import timedelta

import pytest

from core import cli
from core.config import update_config
from core.engine import Engine, EngineLock, jobs
from core.soap.errors import TransportFailure
from core.store import Store
from core.store.records import to_text, utc_now
from tests.engine.fixtures import start_pvsync, write_raw_value
from tests.engine.stand_in_jobs import StandInJob

COMMANDS = [[], ["demo"], ["daemon"], ["sync"], ["status"], ["log"], ["check"], ["config"], ["config", "check"], ["approve"],
            ["simulate"]]


@pytest.fixture
def env(monkeypatch, config_file, state_dir):
    monkeypatch.setenv("PVSYNC_CONFIG", str(config_file))
    monkeypatch.setenv("PVSYNC_STATE_DIR", str(state_dir))


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pvsync")
def test_every_command_has_help_with_examples(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "example" in out and "--state-dir" in out


# --------------------------------------------------------------------------- config


def test_a_missing_config_says_where_it_looked_and_how_to_make_one(capsys, tmp_path, state_dir):
    code, out, err = run(capsys, "--config", str(tmp_path / "absent.toml"), "--state-dir", str(state_dir), "sync")
    assert code == 1 and out == ""
    assert f"No config file at {tmp_path / 'absent.toml'}" in err
    assert "$PVSYNC_CONFIG" in err and "setup screen" in err and "sample_config.toml" in err
    assert not state_dir.exists()


def test_config_check_lists_every_problem_with_file_line_key_and_fix(capsys, config_file, monkeypatch):
    schedule_line = write_raw_value(config_file, "schedule.invoices", "0")
    secret_line = write_raw_value(config_file, "perfectview.api_key", '""')
    monkeypatch.delenv("PVSYNC_PERFECTVIEW_API_KEY")
    code, out, err = run(capsys, "config", "check", str(config_file))
    assert code == 1 and out == ""
    assert f"{config_file}:{schedule_line} schedule.invoices: must be longer than zero — " \
           "use a duration from 1m to 31d" in err
    assert f"{config_file}:{secret_line} perfectview.api_key: has no value: not in the environment, not in a " \
           "file, not in the config — set the environment variable PVSYNC_PERFECTVIEW_API_KEY, or point " \
           "api_key_file at a file" in err


def test_config_check_ok_summarises_the_schedule(capsys, env, config_file):
    update_config(config_file, {"payments.enabled": False, "schedule.invoices": "15m", "engine.run_deadline": "1h30m",
                                "logbook.retention_days": 90, "logbook.level": "WARNING"})
    code, out, _ = run(capsys, "config", "check")
    assert code == 0
    assert out.splitlines() == [
        f"OK: {config_file}",
        "  e-Boekhouden over the SOAP API at http://127.0.0.1:9/soap.asmx",
        "  relations  on   every 4 h",
        "  invoices   on   every 15 min",
        "  payments   off  every 1 d",
        "  a run stops after 1 h 30 min; the logbook keeps 90 days at WARNING and above",
        "  whether the databases have these names: pvsync check"]


def test_config_check_shows_the_perfectview_field_mapping_and_refuses_a_wrong_shape(capsys, env, config_file):
    from core.config.write import update_config_paths

    update_config_paths(config_file, {("perfectview", "fields", "organisation.debtor_number"):
                                      "Administratie / Debiteurnr."})
    code, out, _ = run(capsys, "config", "check")
    assert code == 0
    assert "  PerfectView fields mapped: organisation.debtor_number = Administratie / Debiteurnr." in out
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace('"organisation.debtor_number"', '"organisation.debtor"'), encoding="utf-8")
    code, _, err = run(capsys, "config", "check")
    assert code == 1 and "perfectview.fields.organisation.debtor: organisation.debtor is not an attribute" in err
    assert "did you mean organisation.debtor_number?" in err


def test_config_check_suggests_naming_the_api_in_a_config_from_before_rest(capsys, env, config_file, monkeypatch):
    monkeypatch.delenv("PVSYNC_EBOEKHOUDEN_API_TOKEN")  # such a setup has only the SOAP credentials
    text = config_file.read_text(encoding="utf-8").replace('api = "soap"\n', "")
    config_file.write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "config", "check")
    assert code == 0
    assert "  e-Boekhouden over the SOAP API at http://127.0.0.1:9/soap.asmx" in out
    assert 'note: eboekhouden.api is not set and the SOAP credentials are given: pvsync uses the SOAP API. ' \
           'Add api = "soap" to [eboekhouden]' in out


def test_global_options_work_before_and_after_the_command(capsys, config_file, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    for argv in (["--state-dir", str(elsewhere), "--config", str(config_file), "sync"],
                 ["sync", "--state-dir", str(elsewhere), "--config", str(config_file)]):
        assert run(capsys, *argv)[0] == 0
    with Store.open(elsewhere) as store:
        assert len(store.runs()) == 2


# --------------------------------------------------------------------------- sync


def test_sync_runs_once_and_prints_a_summary(capsys, env, state_dir):
    code, out, err = run(capsys, "sync", "--only", "invoices,payments", "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Run 1 (cli, dry run): ok in")
    assert lines[1:] == ["  invoices  ok          nothing to do yet: invoices arrives with its own issue",
                         "  payments  ok          nothing to do yet: payments arrives with its own issue"]
    assert "INFO run run 1 started (cli, dry run): invoices, payments" in err.splitlines()
    with Store.open(state_dir) as store:
        assert store.engine_status().state == "stopped"


def test_sync_passes_force_to_the_jobs_and_fails_when_a_job_fails(capsys, env, monkeypatch):
    seen = []

    class Failing(StandInJob):
        def run(self, ctx):
            seen.append(ctx.force)
            raise TransportFailure("e-Boekhouden", "GetRelaties", "no answer in time (ReadTimeout)")

    monkeypatch.setitem(jobs._REGISTRY, "relations", Failing("relations", "relation", lambda c: timedelta(hours=4),
                                                             lambda c: True))
    code, out, err = run(capsys, "sync", "--force")
    assert code == 1 and seen == [True]
    assert "partial" in out.splitlines()[0]
    assert "  relations failed      TransportFailure: e-Boekhouden GetRelaties: no answer in time" in out


def test_sync_says_clearly_when_another_engine_holds_the_folder(capsys, env, state_dir):
    holder = EngineLock(state_dir)
    holder.acquire()
    try:
        code, out, err = run(capsys, "sync")
    finally:
        holder.release()
    assert code == cli.EXIT_BUSY
    assert f"pvsync sync: not run: another pvsync engine (process {os.getpid()}) is running" in err


def test_sync_refuses_an_unknown_job(capsys, env):
    code, _, err = run(capsys, "sync", "--only", "payroll")
    assert code == 1 and "unknown job payroll; choose from relations, invoices, payments" in err


def test_daemon_refuses_to_start_beside_another_engine(capsys, env, state_dir):
    holder = EngineLock(state_dir)
    holder.acquire()
    try:
        code, _, err = run(capsys, "daemon")
    finally:
        holder.release()
    assert code == cli.EXIT_BUSY and "pvsync daemon: not started: another pvsync engine" in err


# --------------------------------------------------------------------------- status


def test_status_without_any_state_is_unknown(capsys, env):
    code, out, _ = run(capsys, "status", "--json")
    assert code == 3
    report = json.loads(out)
    assert report["status"] == "UNKNOWN" and report["problems"][0].startswith("no state database at")
    code, out, _ = run(capsys, "status")
    assert code == 3 and out.startswith("PVSYNC UNKNOWN - no state database at")


def _blocked_invoice(store, number: str, reason: str) -> None:
    from datetime import date

    from core.model import SalesInvoice
    from core.store.invoice_journal import InvoiceJournal
    from core.sync.invoice_states import InvoiceState

    invoice = SalesInvoice(activity_id=f"a-{number}", activity_number="1", invoice_number=number, relation_id="r",
                           invoice_date=date(2026, 11, 2), due_date=None, step="Verstuurd", lines=())
    InvoiceJournal(store).record_plan(invoice, relation_code="D1", relation_name="X", state=InvoiceState.BLOCKED,
                                      reason=reason, block_code="vat_unmapped")


def test_status_follows_the_monitoring_plugin_convention(capsys, env, state_dir, config_file):
    engine = Engine(state_dir, config_file, mode="embedded")
    engine.acquire()
    try:
        engine.run()
        code, out, _ = run(capsys, "status")
        assert code == 0, out
        assert out.startswith("PVSYNC OK - engine up, nothing waits\n")
        assert "Engine:   up (embedded" in out and out.rstrip().endswith("Health:   healthy (OK, exit 0)")
        assert "  invoices   last ok" in out

        report = json.loads(run(capsys, "status", "--json")[1])
        assert report["healthy"] and report["engine"]["up"] and report["last_run"]["outcome"] == "ok"
        assert report["status"] == "OK" and set(report["jobs"]) == {"relations", "invoices", "payments"}

        # Something waits for a person: WARNING, and the first line names it.
        _blocked_invoice(engine.store, "F2026-0042", "PerfectView VAT code 'BTW 6%' is not mapped for NL")
        code, out, _ = run(capsys, "status")
        assert code == 1, out
        assert out.splitlines()[0] == ("PVSYNC WARNING - 1 invoice blocked: F2026-0042 (PerfectView VAT code "
                                       "'BTW 6%' is not mapped for NL)")
        assert json.loads(run(capsys, "status", "--json")[1])["waiting"][0]["subjects"] == ["F2026-0042"]

        engine.store.update_engine(next_due={"payments": utc_now() - timedelta(hours=2)})
        code, out, _ = run(capsys, "status")
        assert code == 2 and "payments is overdue" in out and "OVERDUE" in out
        assert out.startswith("PVSYNC CRITICAL - payments is overdue") and "1 invoice blocked" in out.splitlines()[0]

        run_id = engine.store.start_run("cli", ["invoices"], "h")
        engine.store.finish_run(run_id, "failed", {}, "invoices: boom", job_outcomes={"invoices": "failed"})
        assert run(capsys, "status")[0] == 2
    finally:
        engine.close()
    code, out, _ = run(capsys, "status")
    assert code == 2 and "Engine:   DOWN" in out and "the engine is stopped" in out.splitlines()[0]


def test_config_check_warns_of_a_hand_written_vat_ledger_outside_the_revenue_range(capsys, env, config_file):
    from core.config import set_vat_rule

    set_vat_rule(config_file, "NL", "Vrijgesteld", "GEEN", "4500")  # GEEN is accepted for exempt sales
    code, out, _ = run(capsys, "config", "check")
    assert code == 0, out
    assert ('  Warning: vat.NL."Vrijgesteld".ledger = "4500": grootboekrekening 4500 is outside the revenue '
            "range 8000-8999") in out
    assert "pvsync check compares it" in out


# --------------------------------------------------------------------------- log


def test_log_prints_the_latest_entries_oldest_first_with_filters(capsys, env, state_dir):
    with Store.open(state_dir) as store:
        store.log("INFO", "engine", "long ago")
        store.conn.execute("UPDATE logbook SET at = ?", (to_text(utc_now() - timedelta(hours=5)),))
        store.log("INFO", "invoice", "booked", subject="F-7", run_id=3)
        store.log("WARNING", "relation", "blocked")
    code, out, _ = run(capsys, "log")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].endswith("INFO    engine long ago")
    assert lines[1].endswith("INFO    invoice[F-7] booked (run 3)")
    assert run(capsys, "log", "--since", "2h")[1].count("\n") == 2
    assert run(capsys, "log", "--level", "warning")[1].splitlines()[0].endswith("WARNING relation blocked")
    assert run(capsys, "log", "--kind", "invoice", "-n", "1")[1].count("\n") == 1


def test_log_follow_prints_new_entries_as_they_come(pvsync_env, state_dir):
    with Store.open(state_dir) as store:
        store.log("INFO", "engine", "before")
        follower = start_pvsync(["log", "--follow"], pvsync_env)
        try:
            assert follower.stdout.readline().rstrip().endswith("engine before")
            store.log("ERROR", "invoice", "could not book", subject="F-9")
            assert follower.stdout.readline().rstrip().endswith("ERROR   invoice[F-9] could not book")
        finally:
            follower.terminate()
            follower.wait(timeout=10)


# --------------------------------------------------------------------------- check, simulate, console


def test_check_reports_each_service_and_fails_when_one_fails(capsys, env, monkeypatch, state_dir):
    from core.engine import services

    seen = []

    def check_services(config, meter=None):
        seen.append(meter)
        return [services.ServiceCheck("e-Boekhouden", True, True, "reachable, credentials accepted"),
                services.ServiceCheck("PerfectView", False, False, "not reachable: could not connect")]

    monkeypatch.setattr(services, "check_services", check_services)
    monkeypatch.setattr(services, "check_vat_ledgers",  # e-Boekhouden answered: its chart is checked too
                        lambda config, meter=None, eboekhouden=None:
                        services.ServiceCheck("VAT mapping", True, True, "4 rule(s) checked"))
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert out.splitlines() == ["e-Boekhouden  OK      reachable, credentials accepted",
                                "PerfectView   FAILED  not reachable: could not connect",
                                "The assumptions about the databases are checked once both connections work."]
    assert isinstance(seen[0], Store)  # the calls count against the budgets kept in the state


def test_simulate_hands_its_options_to_the_adapter(capsys, monkeypatch, tmp_path):
    calls = []
    module = types.ModuleType("core.eboekhouden.simulated_service")
    module.serve = lambda **kw: calls.append(kw)
    monkeypatch.setitem(sys.modules, "core.eboekhouden.simulated_service", module)
    code = cli.main(["simulate", "eboekhouden", "--port", "8081", "--seed", "empty", "--latency-ms", "20",
                     "--faults", "lost=0.1", "--state", str(tmp_path / "eb.json")])
    assert code == 0
    assert calls == [{"port": 8081, "seed": "empty", "latency_ms": 20.0, "faults": "lost=0.1",
                      "state": str(tmp_path / "eb.json"), "api": "soap"}]
    assert cli.main(["simulate", "eboekhouden", "--port", "8081", "--api", "rest", "--faults", "throttle=0.1"]) == 0
    assert calls[-1]["api"] == "rest" and calls[-1]["faults"] == "throttle=0.1"
    code, _, err = run(capsys, "simulate", "eboekhouden", "--port", "8081", "--faults", "meteor=1")
    assert code == 1 and "unknown fault 'meteor'" in err and len(calls) == 2
    code, _, err = run(capsys, "simulate", "perfectview", "--port", "8082", "--faults", "throttle=0.1")
    assert code == 1 and "unknown fault 'throttle'" in err  # PerfectView is SOAP only
    code, _, err = run(capsys, "simulate", "perfectview", "--port", "8082", "--api", "rest")
    assert code == 1 and "--api is for eboekhouden only" in err and len(calls) == 2


def test_pvsync_alone_opens_the_console_and_demo_the_demo(monkeypatch, env, config_file, state_dir):
    calls = []
    module = types.ModuleType("tui.app")
    module.run_console = lambda **kw: calls.append(("console", kw))
    module.run_demo = lambda **kw: calls.append(("demo", kw))
    monkeypatch.setitem(sys.modules, "tui.app", module)
    assert cli.main([]) == 0
    assert cli.main(["demo"]) == 0
    assert cli.main(["demo", "--api", "soap"]) == 0
    assert calls == [("console", {"config_path": config_file, "state_dir": state_dir}), ("demo", {"api": "rest"}),
                     ("demo", {"api": "soap"})]


def test_parse_when_accepts_spans_and_iso_times():
    now = utc_now()
    assert cli.parse_when("2h", now) == now - timedelta(hours=2)
    assert cli.parse_when("30m", now) == now - timedelta(minutes=30)
    assert cli.parse_when("2026-05-09T08:00+02:00").isoformat() == "2026-05-09T08:00:00+02:00"
    assert cli.parse_when("2026-05-09").tzinfo is not None
    with pytest.raises(Exception, match="not a time"):
        cli.parse_when("yesterday-ish")
