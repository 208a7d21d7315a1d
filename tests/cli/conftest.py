from tests.engine.fixtures import config_file, config_module, pvsync_env, state_dir  # noqa: F401
