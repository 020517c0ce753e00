"""Where CLI commands look for the running local stack: the variables, then its tokens file, then the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.config import DEFAULT_AWS_PORT, DEFAULT_DEMO_USERS, DEFAULT_PORT, DEMO_USERS_ENV, ConfigError, LocalConfig
from local.tokens_file import write_tokens_file


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.env"
    write_tokens_file(path, {"FIRSTMILE_PORT": "18080", "FIRSTMILE_AWS_PORT": "18081", "FIRSTMILE_USER_TOKEN": "t"})
    return path


def test_commands_take_the_ports_the_running_stack_recorded(recorded: Path) -> None:
    # Given a tokens file written by a stack on other ports, and no variables
    # When a command reads its configuration
    config = LocalConfig.for_commands({}, tokens_path=recorded)

    # Then it talks to that stack and says where the ports came from
    assert (config.api_url, config.aws_endpoint) == ("http://127.0.0.1:18080", "http://127.0.0.1:18081")
    assert str(recorded) in config.origin


def test_a_variable_wins_over_the_tokens_file(recorded: Path) -> None:
    # Given the emulator's port set in the shell
    # When a command reads its configuration
    config = LocalConfig.for_commands({"FIRSTMILE_AWS_PORT": "9999"}, tokens_path=recorded)

    # Then the variable wins for that port, and the file still gives the other
    assert (config.port, config.aws_port) == (18080, 9999)
    assert config.origin.startswith("FIRSTMILE_AWS_PORT and ")


def test_without_a_file_or_variables_the_defaults_apply(tmp_path: Path) -> None:
    # Given no tokens file
    # When a command reads its configuration
    config = LocalConfig.for_commands({}, tokens_path=tmp_path / "missing.env")

    # Then the documented defaults apply
    assert (config.port, config.aws_port, config.origin) == (DEFAULT_PORT, DEFAULT_AWS_PORT, "the defaults")


def test_a_bad_port_in_the_file_is_named(tmp_path: Path) -> None:
    # Given a tokens file with a port that is not one
    path = tmp_path / "tokens.env"
    write_tokens_file(path, {"FIRSTMILE_PORT": "eighty"})

    # When a command reads its configuration
    # Then it refuses, naming the variable
    with pytest.raises(ConfigError, match="FIRSTMILE_PORT"):
        LocalConfig.for_commands({}, tokens_path=path)


@pytest.mark.parametrize(("value", "users"), [(None, DEFAULT_DEMO_USERS), ("0", 0), ("1200", 1200), (" 40 ", 40)])
def test_firstmile_dev_walks_the_demo_users_the_variable_asks_for(value: str | None, users: int) -> None:
    environ = {} if value is None else {DEMO_USERS_ENV: value}
    assert LocalConfig.from_env(environ).demo_users == users
    # A stack built in code (a test, a benchmark) walks none unless told to
    assert LocalConfig().demo_users == 0


@pytest.mark.parametrize("value", ["-1", "many", "5001"])
def test_a_demo_user_count_that_does_not_fit_is_named(value: str) -> None:
    with pytest.raises(ConfigError, match=DEMO_USERS_ENV):
        LocalConfig.from_env({DEMO_USERS_ENV: value})
