"""Reading the config file: every problem at once, each with its key, line and fix.

The file is parsed with tomllib (strict TOML 1.0) and walked against the settings
dataclasses. Nothing stops at the first mistake: a wrong type, an unknown key, a
missing secret and a permission problem are all reported together, so that one edit
session fixes them all and nothing starts half-configured.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from core.config import console_keys
from core.config import values as v
from core.config.lines import KeyPath, key_lines, line_of
from core.config.problems import ConfigError, ConfigProblem, Invalid
from core.config.secret_sources import (ENVIRONMENT, SecretProblem, env_name, file_key, find_secret,
                                        group_or_others_can_read, how_to_give)
from core.config.settings import (EBOEKHOUDEN_APIS, EBOEKHOUDEN_URLS, Config, ConsoleSettings, DocumentSettings,
                                  EboekhoudenSettings, FieldNameSettings, SecretOption, Table, VatSettings)
from core.model import VatRule
from core.secrets import Secret, scrub

# Unknown keys that look like an attempt to switch certificate checks off.
_TLS_SWITCH = re.compile(r"verif|insecure|ssl|check_?cert", re.IGNORECASE)
_SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_VAT_RULE_KEYS = ("btw_code", "ledger")
_SOAP_CREDENTIALS = ("username", "security_code_1", "security_code_2")


def load_config(path: Path, *, env: Mapping[str, str] = os.environ) -> Config:
    """The settings in `path` with their secrets resolved; raises ConfigError listing every problem."""
    path = Path(path)
    config, problems = check_text(read_config_text(path), path, env=env, with_secrets=True)
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def read_config_text(path: Path) -> str:
    def refuse(message: str, fix: str) -> ConfigError:
        return ConfigError([ConfigProblem(str(path), "", None, message, fix)])

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise refuse("the config file does not exist",
                     "create it from sample_config.toml, or point PVSYNC_CONFIG at your config file") from None
    except OSError as error:
        raise refuse(f"the config file cannot be read ({error.strerror})",
                     "make it readable by the user pvsync runs as") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem(str(path), "", line, "the file is not UTF-8 text",
                                         "save it as UTF-8 (any editor can)")]) from None


def check_text(text: str, path: Path, *, env: Mapping[str, str], with_secrets: bool
               ) -> tuple[Config | None, list[ConfigProblem]]:
    """Parse and validate config text. Without `with_secrets`, secrets are neither read nor required
    (for checking an edit before it is written, where the daemon's environment is not at hand)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _SYNTAX_POSITION.search(message)
        line = int(position.group(1)) if position else None
        message = _SYNTAX_POSITION.sub("", message) if position else message
        return None, [ConfigProblem(str(path), "", line, f"the file is not valid TOML: {message}",
                                    "correct the syntax on that line: text needs quotes, each key and each "
                                    "[section] may appear only once")]
    reader = _Reader(path, key_lines(text), env, with_secrets)
    config = reader.read(raw)
    return config, reader.sorted_problems()


# Keys a config written by an earlier pvsync may hold that now mean nothing: the file still
# loads, and `pvsync config check` says where the setting went.
RETIRED: dict[KeyPath, str] = {
    ("invoices", "booked_marker_field"): (
        "the PerfectView field pvsync writes a booking into, and names in its messages, is "
        '[perfectview.fields] "invoice.booked_marker" (default "Boekhouding / Geboekt in e-Boekhouden"). '
        "Remove the line; if your field is another, set that key to its \"Category / Label\" "
        "(`pvsync check` names the nearest fields your database has)"),
}


class _Reader:
    def __init__(self, path: Path, lines: dict[KeyPath, int], env: Mapping[str, str], with_secrets: bool):
        self.path = path
        self.lines = lines
        self.env = env
        self.with_secrets = with_secrets
        self.ctx = v.ParseContext(config_dir=path.parent)
        self.problems: list[ConfigProblem] = []
        self.inline_secrets: list[str] = []
        self.secret_sources: dict[str, str] = {}
        self.secret_envs: set[str] = set()
        self.secret_env_prefixes: set[str] = set()  # PVSYNC_EBOEKHOUDEN_ and the like
        self.notices: list[str] = []
        self.eboekhouden_api = "rest"  # which e-Boekhouden credentials are required (eboekhouden.api)

    def problem(self, key: KeyPath, message: str, fix: str, *, file: str | None = None,
                line: int | None = None) -> None:
        """A problem in the config file (its line found from the key), or in another `file` (no line)."""
        if file is None and line is None:
            line = line_of(self.lines, key)
        # Messages are built never to hold a secret; scrubbing is the second lock on the door.
        self.problems.append(ConfigProblem(file or str(self.path), ".".join(key), line, scrub(message), scrub(fix)))

    def sorted_problems(self) -> list[ConfigProblem]:
        """In the order a person reads the file; problems elsewhere (environment, secret files) after."""
        here = str(self.path)
        return sorted(self.problems, key=lambda p: (p.file != here, p.line is None, p.line or 0))

    # ------------------------------------------------------------------ walk

    def read(self, raw: dict[str, Any]) -> Config:
        config = self.section(Config, raw, ())
        self.cross_checks(config)
        if self.with_secrets:
            self.check_file_privacy()
            self.check_environment()
        return replace(config, secret_sources=MappingProxyType(dict(self.secret_sources)),
                       notices=tuple(self.notices))

    def section(self, settings: type, raw: dict[str, Any], path: KeyPath) -> Any:
        options = [f for f in fields(settings) if "parse" in f.metadata]
        known = [f.name for f in options]
        known += [file_key(f.name) for f in options if isinstance(f.metadata["parse"], SecretOption)]
        for key in raw:
            if path + (key,) in RETIRED:
                self.notices.append(f"{'.'.join(path + (key,))} (line {line_of(self.lines, path + (key,))}) "
                                    f"is no longer read: {RETIRED[path + (key,)]}")
            elif key not in known:
                self.unknown_key(path, key, known)
        values: dict[str, Any] = {}
        if settings is EboekhoudenSettings:
            self.eboekhouden_api = self.chosen_api(raw, path)
            if "api" not in raw:
                values["api"] = self.eboekhouden_api
        for f in options:
            parse = f.metadata["parse"]
            key = path + (f.name,)
            if isinstance(parse, SecretOption):
                values[f.name] = self.secret(key, raw, parse)
            elif isinstance(parse, Table):
                sub = raw.get(f.name, {})
                if not isinstance(sub, dict):
                    self.problem(key, f"is {v.kind_of(sub)}, expected a section",
                                 f"write it as a section header [{'.'.join(key)}] with its keys on the lines below")
                    continue
                if parse.settings is VatSettings:
                    values[f.name] = self.vat(sub, key)
                elif parse.settings is ConsoleSettings:
                    values[f.name] = self.console(sub, key)
                elif parse.settings is FieldNameSettings:
                    values[f.name] = self.field_names(sub, key)
                else:
                    values[f.name] = self.section(parse.settings, sub, key)
            elif f.name in raw:
                try:
                    values[f.name] = parse(raw[f.name], self.ctx)
                except Invalid as problem:
                    self.problem(key, problem.message, problem.fix)
        return settings(**values)

    def chosen_api(self, raw: dict[str, Any], path: KeyPath) -> str:
        """`eboekhouden.api`; a file without it that holds SOAP credentials (written before REST) is SOAP."""
        given = raw.get("api")
        if given is not None:
            return given if given in EBOEKHOUDEN_APIS else "rest"  # a wrong value is reported by the walk

        def given_somewhere(name: str) -> bool:
            inline = raw.get(name)
            return (isinstance(inline, str) and bool(inline.strip())) or file_key(name) in raw or \
                (self.with_secrets and bool(self.env.get(env_name(path + (name,)), "").strip()))

        if any(given_somewhere(name) for name in _SOAP_CREDENTIALS) and not given_somewhere("api_token"):
            self.notices.append(f"{'.'.join(path + ('api',))} is not set and the SOAP credentials are given: "
                                'pvsync uses the SOAP API. Add api = "soap" to [eboekhouden] to say so (or '
                                'api = "rest" with an api_token to use the REST API)')
            return "soap"
        return "rest"

    def unknown_key(self, path: KeyPath, key: str, known: list[str]) -> None:
        where = f"in [{'.'.join(path)}]" if path else "at the top of the file"
        if _TLS_SWITCH.search(key):
            fix = (f"remove it; to trust a private certificate authority set {'.'.join(path + ('ca_file',))} "
                   "to its PEM file" if "ca_file" in known else "remove it; pvsync always verifies certificates")
            self.problem(path + (key,), "there is no option to switch TLS certificate verification off", fix)
            return
        near = v.closest(key, known)
        fix = f"did you mean {near}? Correct the name" if near else f"remove it; known here: {', '.join(known)}"
        self.problem(path + (key,), f"{key} is not a setting pvsync knows {where}", fix)

    # ------------------------------------------------------------------ secrets

    def secret(self, key: KeyPath, raw: dict[str, Any], option: SecretOption) -> Secret:
        self.secret_envs.add(env_name(key))
        self.secret_env_prefixes.add(env_name(key[:-1]) + "_")
        if not self.with_secrets:
            return Secret("")
        inline = raw.get(key[-1])
        if isinstance(inline, str) and inline.strip():
            # The file holds a secret, whether or not the environment overrides it or it is malformed.
            self.inline_secrets.append(".".join(key))
        try:
            found = find_secret(key, raw, self.env, self.path, option.format)
        except SecretProblem as problem:
            # Blame the `<key>_file` line when the pointer is what is wrong.
            pointer_line = None if problem.file else self.lines.get(key[:-1] + (file_key(key[-1]),))
            self.problem(key, problem.message, problem.fix, file=problem.file, line=pointer_line)
            return Secret("")
        if found is None:
            # The other e-Boekhouden API's credential is not needed (but checked when given).
            if option.required and option.api in (None, self.eboekhouden_api):
                self.problem(key, "has no value: not in the environment, not in a file, not in the config",
                             how_to_give(key))
            return Secret("")
        self.secret_sources[".".join(key)] = found.source
        return found.secret

    def check_file_privacy(self) -> None:
        if not self.inline_secrets:
            return
        mode = group_or_others_can_read(self.path)
        if mode is not None:
            first = tuple(self.inline_secrets[0].split("."))
            self.problem(first, f"the config file holds secrets ({', '.join(self.inline_secrets)}) but its "
                         f"permissions {mode:04o} let other users read it",
                         f"chmod 600 {self.path}, or move the secrets to environment variables or *_file keys")

    def check_environment(self) -> None:
        """A misspelt PVSYNC_ variable would otherwise be ignored and its secret reported missing."""
        for name in sorted(self.env):
            if name not in self.secret_envs and name.startswith(tuple(self.secret_env_prefixes)):
                near = v.closest(name, sorted(self.secret_envs))
                fix = f"did you mean {near}? Rename it" if near else "remove it"
                self.problem((name,), f"the environment variable {name} is not one pvsync reads", fix,
                             file=ENVIRONMENT)

    # ------------------------------------------------------------------ rules across keys

    def cross_checks(self, config: Config) -> None:
        self.eboekhouden_address_check(config.eboekhouden)
        if config.payments.enabled and not config.invoices.enabled:
            self.problem(("payments", "enabled"), "payments are switched on but invoice booking is off; "
                         "only invoices pvsync booked can be marked Betaald",
                         "switch invoices.enabled on, or payments.enabled off")
        document = config.invoices.document
        if config.invoices.enabled and document.send:
            self.document_checks(document, ("invoices", "document"))
        if config.alerts.enabled:
            self.alert_checks(config)

    def eboekhouden_address_check(self, eb: EboekhoudenSettings) -> None:
        """An address of the other API (a config switched to REST that kept the SOAP url) fails every call."""
        if not eb.url:
            return
        parts = urlsplit(eb.url)
        soap_like = parts.path.lower().endswith(".asmx") or (parts.hostname or "").startswith("soap.")
        if (eb.api == "rest") == soap_like:
            self.problem(("eboekhouden", "url"), f'is an address of the {"SOAP" if soap_like else "REST"} API while '
                         f'eboekhouden.api is "{eb.api}"',
                         f'set url = "" (the {eb.api.upper()} API\'s own address, {EBOEKHOUDEN_URLS[eb.api]}), '
                         "or choose the api that goes with this address")

    def alert_checks(self, config: Config) -> None:
        alerts, document = config.alerts, config.invoices.document
        # Without secrets the webhook address is not read: only the e-mail side can be judged.
        if not alerts.email_to and self.with_secrets and not alerts.webhook_url:
            self.problem(("alerts", "webhook_url"), "is not given and alerts.email_to is empty, while alerts are on",
                         "give a webhook_url (" + how_to_give(("alerts", "webhook_url")) + ") or the address "
                         "alerts go to (alerts.email_to), or set alerts.enabled = false")
        if self.with_secrets and alerts.email_to and alerts.smtp_username and not alerts.smtp_password:
            self.problem(("alerts", "smtp_password"), "is not given while alerts.smtp_username is set",
                         how_to_give(("alerts", "smtp_password")))
        if alerts.email_to:
            for name, what in (("smtp_host", "the mail server to send through"),
                               ("from_address", "the address the mail is sent from")):
                if not (getattr(alerts, name) or getattr(document, name)):
                    self.problem(("alerts", name), "is empty here and in [invoices.document] while alerts go "
                                                   "by e-mail", f"fill in {what} in either section")

    def document_checks(self, document: DocumentSettings, path: KeyPath) -> None:
        for name, what in (("archive_address", "e-Boekhouden's archive e-mail address"),
                           ("smtp_host", "the mail server to send through"),
                           ("from_address", "the address the mail is sent from")):
            if not getattr(document, name):
                self.problem(path + (name,), "is empty while sending invoice documents is switched on",
                             f"fill in {what}, or set {'.'.join(path)}.send = false")
        if self.with_secrets and document.smtp_username and not document.smtp_password:
            self.problem(path + ("smtp_password",), "is not given while smtp_username is set",
                         how_to_give(path + ("smtp_password",)))

    # ------------------------------------------------------------------ VAT

    def vat(self, raw: dict[str, Any], path: KeyPath) -> VatSettings:
        own_country = VatSettings.own_country
        mappings: dict[str, Mapping[str, VatRule]] = {}
        for key, value in raw.items():
            if key == "own_country":
                try:
                    own_country = v.country_code(value, self.ctx)
                except Invalid as problem:
                    self.problem(path + (key,), problem.message, problem.fix)
            elif not isinstance(value, dict):
                self.unknown_key(path, key, ["own_country"])
            elif not re.fullmatch(r"[A-Z]{2}", key):
                self.problem(path + (key,), "is not a two-letter country code",
                             f'name the section by the ISO code in capitals, for example [vat.{key.upper()[:2]}]')
            else:
                mappings[key] = MappingProxyType(self.vat_rules(value, path + (key,)))
        return VatSettings(own_country=own_country, mappings=MappingProxyType(mappings))

    def vat_rules(self, raw: dict[str, Any], path: KeyPath) -> dict[str, VatRule]:
        rules: dict[str, VatRule] = {}
        for name, entry in raw.items():
            key = path + (name,)
            if not name.strip():
                self.problem(key, "has an empty PerfectView VAT code name",
                             "use the VAT code's description as PerfectView shows it")
                continue
            if not isinstance(entry, dict):
                self.problem(key, f"is {v.kind_of(entry)}, expected a BTW-code and a grootboekrekening",
                             f'write it like "{name}" = {{ btw_code = "HOOG_VERK_21", ledger = "8000" }}')
                continue
            for extra in entry.keys() - set(_VAT_RULE_KEYS):
                self.unknown_key(key, extra, list(_VAT_RULE_KEYS))
            parsed: dict[str, str] = {}
            for part, parse in (("btw_code", v.btw_code), ("ledger", v.ledger_code())):
                if part not in entry:
                    self.problem(key + (part,), "is missing", f"add {part} to this VAT rule")
                    continue
                try:
                    parsed[part] = parse(entry[part], self.ctx)
                except Invalid as problem:
                    self.problem(key + (part,), problem.message, problem.fix)
            if len(parsed) == len(_VAT_RULE_KEYS):
                rules[name] = VatRule(perfectview_vat=name, **parsed)
        return rules

    # ------------------------------------------------------------------ PerfectView field names

    def field_names(self, raw: dict[str, Any], path: KeyPath) -> FieldNameSettings:
        """The shape only: a known attribute, and a value that names a field. Whether the
        database has that field is for `pvsync check`."""
        from core.perfectview.fields import field_reference, known_attributes

        names: dict[str, str] = {}
        known = known_attributes()
        for attribute, value in raw.items():
            key = path + (attribute,)
            if attribute not in known:
                near = v.closest(attribute, known)
                self.problem(key, f"{attribute} is not an attribute pvsync reads from PerfectView",
                             f"did you mean {near}?" if near else f"known: {', '.join(known)}")
                continue
            try:
                names[attribute] = str(field_reference(value))
            except ValueError:
                self.problem(key, f"is {v.kind_of(value)}, expected a field",
                             f'write it like "{attribute}" = "Administratie / Debiteurnummer" (category / label) '
                             f'or "{attribute}" = "ORG_debtornumber" (the field\'s Name)')
        return FieldNameSettings(names=MappingProxyType(names))

    # ------------------------------------------------------------------ console keys

    def console(self, raw: dict[str, Any], path: KeyPath) -> ConsoleSettings:
        for key in raw.keys() - {"keys"}:
            self.unknown_key(path, key, ["keys"])
        table = raw.get("keys", {})
        if not isinstance(table, dict):
            self.problem(path + ("keys",), f"is {v.kind_of(table)}, expected a section",
                         'write it as [console.keys] with lines like "sync-now" = "f9" below it')
            table = {}
        keymap: dict[str, tuple[str, ...]] = {}
        for binding_id, value in table.items():
            key = path + ("keys", binding_id)
            if binding_id not in console_keys.BINDINGS:
                self.problem(key, f"{binding_id} is not a key binding of the console",
                             console_keys.unknown_id_fix(binding_id))
                continue
            try:
                keymap[binding_id] = console_keys.parse_keys(value)
            except Invalid as problem:
                self.problem(key, problem.message, problem.fix)
        for binding_id, shared, other in console_keys.clashes(keymap):
            where = console_keys.where_both_work(binding_id, other)
            self.problem(path + ("keys", binding_id), f"{shared} is also the key of {other} "
                         f"({console_keys.BINDINGS[other].does}) {where}",
                         f"choose another key, or give {other} another key as well")
        return ConsoleSettings(keys=MappingProxyType(keymap))
