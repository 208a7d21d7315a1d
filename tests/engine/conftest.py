from tests.engine.fixtures import (config_file, config_text, pvsync_env, secrets_in_environment,  # noqa: F401
                                   state_dir, sync_job_stand_ins)
