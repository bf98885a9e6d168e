"""Hostile config files (issue 11, items 14-16 and 21): loops, deep nesting, floods, sys.path, imports, secrets."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from agentickit.agent import Agent
from agentickit.cli import main
from agentickit.config import load_config, load_runnable, loads_config
from agentickit.errors import ConfigError


def _workflow_file(path: Path, ref: str) -> None:
    path.write_text(f'[workflow]\nmode = "sequential"\n\n[[workflow.steps]]\nname = "s"\nagent = "{ref}"\n')


@pytest.mark.parametrize("pair", [False, True], ids=["self", "a-b-a"])
def test_config_files_that_reference_each_other_are_a_config_error_naming_the_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pair: bool
) -> None:
    a = tmp_path / "a.toml"
    if pair:
        _workflow_file(a, "b.toml")
        _workflow_file(tmp_path / "b.toml", "a.toml")
        chain = "a.toml -> b.toml -> a.toml"
    else:
        _workflow_file(a, "a.toml")
        chain = "a.toml -> a.toml"
    with pytest.raises(ConfigError, match="reference each other in a loop") as info:
        load_runnable(a)
    assert chain in str(info.value)
    assert main(["config", "check", str(a)]) != 0
    err = capsys.readouterr().err
    assert chain in err and "Traceback" not in err and "RecursionError" not in err


def test_toml_nested_20000_deep_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "x = " + "[" * 20_000 + "]" * 20_000
    with pytest.raises(ConfigError, match="nested too deeply"):
        loads_config(text)
    path = tmp_path / "deep.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) != 0
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err


def test_200000_unknown_keys_give_a_short_error_that_counts_the_rest() -> None:
    text = "\n".join(f"unknown_{i} = 1" for i in range(200_000))
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        loads_config(text)
    took = time.perf_counter() - t0
    message = str(info.value)
    assert message.count("\n") <= 25, message.count("\n")
    assert "200,000 problems" in message and "and 199,980 more" in message
    assert took < 30


def test_loading_a_config_leaves_sys_path_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "mytools_h11.py").write_text("def shout(text: str) -> str:\n    return text.upper()\n")
    path = tmp_path / "agent.toml"
    path.write_text('[tools]\nfunctions = ["mytools_h11:shout"]\n')
    before = list(sys.path)
    try:
        agent = load_runnable(path)
        assert isinstance(agent, Agent) and len(agent.tools) == 1
        assert sys.path == before
        assert str(tmp_path) not in sys.path
    finally:
        sys.modules.pop("mytools_h11", None)


def test_config_check_does_not_run_the_modules_it_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "sideeffect_h11.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n\nasync def handler(query, caps):\n    return query\n\n"
        "def helper(x: int) -> int:\n    return x\n"
    )
    path = tmp_path / "agent.toml"
    path.write_text('handler = "sideeffect_h11:handler"\n[tools]\nfunctions = ["sideeffect_h11:helper"]\n')
    try:
        assert main(["config", "check", str(path)]) == 0
        assert "OK" in capsys.readouterr().out
        assert not marker.exists()
        assert "sideeffect_h11" not in sys.modules
        # A name the module does not define is found out without running it.
        path.write_text('handler = "sideeffect_h11:nope"\n')
        assert main(["config", "check", str(path)]) != 0
        assert "defines no top-level 'nope'" in capsys.readouterr().err
        assert not marker.exists()
        # --import goes further and runs it.
        path.write_text('handler = "sideeffect_h11:handler"\n')
        assert main(["config", "check", "--import", str(path)]) == 0
        assert marker.exists()
    finally:
        sys.modules.pop("sideeffect_h11", None)


def test_config_errors_never_quote_a_value_from_the_environment() -> None:
    secret = "sk-live-THIS-IS-SECRET-123"
    with pytest.raises(ConfigError) as info:
        loads_config('[llm]\nmax_tokens = "${TOKENS}"\n', env={"TOKENS": secret})
    assert secret not in str(info.value) and "environment variable" in str(info.value)
    with pytest.raises(ConfigError) as info:
        loads_config("", env={"AGENTICKIT_LLM_MAX_RETRIES": secret})
    assert secret not in str(info.value)
    # Values typed into the file itself are still shown, to help fix them.
    with pytest.raises(ConfigError, match="'lots'"):
        loads_config('[llm]\nmax_tokens = "lots"\n', env={})


def test_a_loaded_config_still_works(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('name = "x"\n')
    assert load_config(path).name == "x"
