"""pvsync's configuration: one TOML file, checked whole before anything starts.

    load_config(path, env=...)      -> Config, or ConfigError listing every problem
    config_hash(config)             -> fingerprint of the non-secret settings (runs table)
    update_config(path, changes)    -> change dotted keys, comments and order kept, atomic
    set_vat_rule(path, ...)         -> the console's VAT mapping editor
    write_new_config(path, values)  -> a new 0600 config from the sample (setup screen)
    sample_config_text()            -> the shipped sample, every option documented

Reading uses tomllib, writing tomlkit (only when something is written). Secrets come
from the environment, from `<key>_file` files or from the file itself (see
`secret_sources`), and are held as `core.secrets.Secret`.
"""

from core.config.fingerprint import config_hash
from core.config.load import load_config
from core.config.problems import ConfigError, ConfigProblem
from core.config.settings import (Config, DocumentSettings, EboekhoudenSettings, EngineSettings, InvoiceSettings,
                                  LogbookSettings, PaymentSettings, PerfectViewSettings, RelationSettings,
                                  ScheduleSettings, VatSettings)
from core.config.write import sample_config_text, set_vat_rule, update_config, write_new_config

__all__ = [
    "Config", "ConfigError", "ConfigProblem", "DocumentSettings", "EboekhoudenSettings", "EngineSettings",
    "InvoiceSettings", "LogbookSettings", "PaymentSettings", "PerfectViewSettings", "RelationSettings",
    "ScheduleSettings", "VatSettings", "config_hash", "load_config", "sample_config_text", "set_vat_rule",
    "update_config", "write_new_config",
]
