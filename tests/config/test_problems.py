"""Whole-file rules: unknown keys, TLS switches, syntax, rules across keys, the VAT mapping, all at once."""

from __future__ import annotations

import pytest

from core.config import ConfigError, load_config
from core.config.lines import key_lines
from core.model import VatRule
from tests.config.conftest import SAMPLE, sample_with, write


def _problems(tmp_path, text, env, name="config.toml"):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / name, text), env=env)
    return caught.value.problems


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), start=1) if fragment in line)


UNKNOWN = [
    ("[eboekhouden]", "usrname = \"x\"", "eboekhouden.usrname", "did you mean username"),
    ("[relations]", "import_relation = \"Klant\"", "relations.import_relation", "did you mean import_relation_type"),
    ("[schedule]", "invoice = \"4h\"", "schedule.invoice", "did you mean invoices"),
    ("[invoices.document]", "smtp_pasword_file = \"/x\"", "invoices.document.smtp_pasword_file",
     "did you mean smtp_password_file"),
    ("[engine]", "threads = 4", "engine.threads", "known here: run_deadline, concurrency"),
]


@pytest.mark.parametrize(("header", "line", "key", "words"), UNKNOWN, ids=[k for _, _, k, _ in UNKNOWN])
def test_an_unknown_key_is_refused_with_the_closest_known_one(tmp_path, env, header, line, key, words):
    text = SAMPLE.replace(header + "\n", f"{header}\n{line}\n", 1)
    [problem] = _problems(tmp_path, text, env)
    assert (problem.key, problem.line) == (key, _line_of(text, line))
    assert "not a setting pvsync knows" in problem.message and words in problem.fix


def test_an_unknown_section_is_refused_with_the_closest_known_one(tmp_path, env):
    text = SAMPLE + "\n[relatons]\nimport_from_eboekhouden = true\n"
    [problem] = _problems(tmp_path, text, env)
    assert problem.key == "relatons" and problem.line == _line_of(text, "[relatons]")
    assert "did you mean relations" in problem.fix


@pytest.mark.parametrize("switch", ["verify = false", "verify_ssl = false", "insecure = true", "tls_verify = false",
                                    "check_certificate = false"])
def test_there_is_no_way_to_switch_tls_verification_off(tmp_path, env, switch):
    text = SAMPLE.replace("[perfectview]\n", f"[perfectview]\n{switch}\n", 1)
    [problem] = _problems(tmp_path, text, env)
    assert problem.key == "perfectview." + switch.split(" ")[0]
    assert "no option to switch TLS certificate verification off" in problem.message
    assert "perfectview.ca_file" in problem.fix


def test_a_near_miss_of_the_mail_encryption_switch_is_not_taken_for_a_tls_switch(tmp_path, env):
    text = SAMPLE.replace("[invoices.document]\n", "[invoices.document]\nsmtp_startls = false\n", 1)
    [problem] = _problems(tmp_path, text, env)
    assert "did you mean smtp_starttls" in problem.fix


def test_a_tls_switch_elsewhere_says_certificates_are_always_verified(tmp_path, env):
    text = SAMPLE.replace("[invoices.document]\n", "[invoices.document]\nsmtp_verify = false\n", 1)
    [problem] = _problems(tmp_path, text, env)
    assert "always verifies" in problem.fix


@pytest.mark.parametrize(("broken", "line"), [
    ('[engine]\nconcurrency = 4\nrun_deadline = "30m\n', 3),
    ("[engine]\nconcurrency = 4\nconcurrency = 5\n", 3),
    ("[engine]\nconcurrency = 4\n[engine]\n", 3),
    ("[engine\n", 1),
])
def test_a_syntax_error_is_one_problem_at_its_line(tmp_path, env, broken, line):
    [problem] = _problems(tmp_path, broken, env)
    assert problem.line == line and problem.key == ""
    assert "not valid TOML" in problem.message and "(at line" not in problem.message


def test_a_missing_file_is_one_problem(tmp_path, env):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml", env=env)
    [problem] = caught.value.problems
    assert "does not exist" in problem.message and "PVSYNC_CONFIG" in problem.fix


def test_a_file_that_is_not_utf8_is_one_problem_at_its_line(tmp_path, env):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[relations]\naccount_manager = "J\xe9r\xf4me"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env)
    [problem] = caught.value.problems
    assert problem.line == 2 and "UTF-8" in problem.message


def test_payments_without_invoice_booking_is_refused(tmp_path, env):
    text = SAMPLE.replace("[payments]\n# ", "[payments]\n#", 1)
    text, line = sample_with("payments.enabled", "true", text)
    load_config(write(tmp_path / "config.toml", text), env=env)  # with invoices on: fine
    text, _ = sample_with("invoices.enabled", "false", text)
    [problem] = _problems(tmp_path, text, env)
    assert (problem.key, problem.line) == ("payments.enabled", line)
    assert "invoices.enabled" in problem.fix


def test_sending_documents_needs_the_addresses_and_a_server(tmp_path, env):
    text, _ = sample_with("invoices.document.send", "true")
    problems = _problems(tmp_path, text, env)
    assert [p.key for p in problems] == ["invoices.document.archive_address", "invoices.document.smtp_host",
                                         "invoices.document.from_address"]
    assert all("send = false" in p.fix for p in problems)


def test_alerts_need_somewhere_to_go_and_a_mail_server_here_or_in_the_documents_section(tmp_path, env):
    text, _ = sample_with("alerts.enabled", "true")
    [problem] = _problems(tmp_path, text, env)
    assert problem.key == "alerts.webhook_url" and "alerts.email_to" in problem.message
    text, _ = sample_with("alerts.email_to", '"beheer@example.nl"', text)
    assert [p.key for p in _problems(tmp_path, text, env)] == ["alerts.smtp_host", "alerts.from_address"]
    text, _ = sample_with("invoices.document.smtp_host", '"smtp.example.nl"', text)
    text, _ = sample_with("invoices.document.from_address", '"pvsync@example.nl"', text)
    load_config(write(tmp_path / "config.toml", text), env=env)  # the documents' mail server is used


def test_several_problems_are_reported_together_in_file_order(tmp_path, env):
    text, _ = sample_with("eboekhouden.read_timeout", '"sixty"')
    text, _ = sample_with("relations.customers", '"everybody"', text)
    text, _ = sample_with("logbook.level", "3", text)
    text = text.replace("[engine]\n", "[engine]\nverify = false\n")
    del env["PVSYNC_PERFECTVIEW_USER_ID"]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "config.toml", text), env=env)
    keys = [p.key for p in caught.value.problems]
    assert keys == ["eboekhouden.read_timeout", "perfectview.user_id", "relations.customers", "logbook.level",
                    "engine.verify"]
    lines = str(caught.value).split("\n")
    assert len(lines) == 5 and all("Fix: " in line for line in lines)


# ------------------------------------------------------------------ VAT mapping

VAT_CASES = [
    ('"BTW hoog 21%" = { btw_code = "HOOG_VERK21", ledger = "8000" }', "btw_code", 'did you mean "HOOG_VERK_21"'),
    ('"BTW hoog 21%" = { btw_code = "HOOG_INK_21", ledger = "8000" }', "btw_code", "not for sales invoices"),
    ('"BTW hoog 21%" = { btw_code = "AFW", ledger = "8000" }', "btw_code", "not for sales invoices"),
    ('"BTW hoog 21%" = { btw_code = "HOOG_VERK_21", ledger = 8000 }', "ledger", 'put it in quotes: "8000"'),
    ('"BTW hoog 21%" = { btw_code = "HOOG_VERK_21", ledger = "80001234567" }', "ledger", "at most 10"),
    ('"BTW hoog 21%" = { btw_code = "HOOG_VERK_21", ledger = "" }', "ledger", "is empty"),
    ('"BTW hoog 21%" = { btw_code = "HOOG_VERK_21" }', "ledger", "is missing"),
    ('"BTW hoog 21%" = { btwcode = "HOOG_VERK_21", ledger = "8000" }', "btwcode", "did you mean btw_code"),
    ('"BTW hoog 21%" = "HOOG_VERK_21"', "", "expected a BTW-code and a grootboekrekening"),
]


@pytest.mark.parametrize(("rule", "part", "words"), VAT_CASES, ids=[w for _, _, w in VAT_CASES])
def test_a_wrong_vat_rule_is_refused_at_its_line(tmp_path, env, rule, part, words):
    text = SAMPLE.replace('"BTW hoog 21%" = { btw_code = "HOOG_VERK_21", ledger = "8000" }', rule)
    problems = _problems(tmp_path, text, env)
    # A misspelt part is also a missing one; nothing outside this rule is blamed.
    assert all(p.key.startswith("vat.NL.BTW hoog 21%") for p in problems)
    [problem] = [p for p in problems if p.key == "vat.NL.BTW hoog 21%" + (f".{part}" if part else "")]
    assert problem.line == _line_of(text, '"BTW hoog 21%"')
    assert words in f"{problem.message} {problem.fix}"


def test_a_vat_section_must_be_named_by_a_country_code(tmp_path, env):
    text = SAMPLE + '\n[vat.nederland]\n"BTW hoog 21%" = { btw_code = "HOOG_VERK_21", ledger = "8000" }\n'
    [problem] = _problems(tmp_path, text, env)
    assert problem.key == "vat.nederland" and problem.line == _line_of(text, "[vat.nederland]")
    assert "[vat.NE]" in problem.fix


def test_the_vat_mapping_loads_per_country(tmp_path, env):
    text = SAMPLE.replace('own_country = "NL"', 'own_country = "BE"') + (
        '\n[vat.BE]\n"TVA 21%" = { btw_code = "hoog_verk_21", ledger = "8001" }\n'
        '"BTW 0.0% export" = { btw_code = "BU_EU_VERK", ledger = "8100" }\n')
    config = load_config(write(tmp_path / "config.toml", text), env=env)
    assert config.vat.own_country == "BE"
    assert dict(config.vat.own_rules()) == {
        "TVA 21%": VatRule("TVA 21%", "HOOG_VERK_21", "8001"),
        "BTW 0.0% export": VatRule("BTW 0.0% export", "BU_EU_VERK", "8100")}
    assert config.vat.mappings["NL"]["BTW laag 9%"] == VatRule("BTW laag 9%", "LAAG_VERK_9", "8000")


# ------------------------------------------------------------------ line numbers

def test_key_lines_are_found_past_strings_arrays_and_comments_that_look_like_keys():
    text = (
        '# [fake] = 1\n'                                      # 1
        'title = """\n'                                       # 2
        '[not_a_table]\n'                                     # 3
        'fake = "x" # \\""" still inside\n'                   # 4
        '"""\n'                                               # 5
        "path = 'C:\\dir\\#not-a-comment'\n"                  # 6
        'list = [\n'                                          # 7
        '  "a", # comment ] with bracket\n'                   # 8
        '  { inner = 1 },\n'                                  # 9
        ']\n'                                                 # 10
        '\n'                                                  # 11
        '[ server . "a.b" ]\n'                                # 12
        'host.name = "x" # = not = a key\n'                   # 13
        'limits = { max = 2, nested = { deep = "}" } }\n'     # 14
        '[[items]]\n'                                         # 15
        'id = 1\n'                                            # 16
        "literal = '''\n"                                     # 17
        "bare = 2\n"                                          # 18
        "'''\n"                                               # 19
        'after = true\n'                                      # 20
    )
    lines = key_lines(text)
    assert lines == {
        ("title",): 2, ("path",): 6, ("list",): 7,
        ("server",): 12, ("server", "a.b"): 12, ("server", "a.b", "host"): 13, ("server", "a.b", "host", "name"): 13,
        ("server", "a.b", "limits"): 14, ("server", "a.b", "limits", "max"): 14,
        ("server", "a.b", "limits", "nested"): 14, ("server", "a.b", "limits", "nested", "deep"): 14,
        ("items",): 15, ("items", "id"): 16, ("items", "literal"): 17, ("items", "after"): 20,
    }


def test_a_problem_inside_a_section_after_a_multiline_string_has_the_right_line(tmp_path, env):
    text = SAMPLE.replace('account_manager = ""', 'account_manager = """Jan\n[de]\nVries"""') \
                 .replace('customers = "with_sales"', 'customers = "everyone"')
    [problem] = _problems(tmp_path, text, env)
    assert problem.key == "relations.customers" and problem.line == _line_of(text, 'customers = "everyone"')
