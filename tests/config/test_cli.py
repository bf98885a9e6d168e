from __future__ import annotations

from pathlib import Path

import pytest

from agentickit.cli import main
from agentickit.config import load_config, load_runnable
from agentickit.workflows import WorkflowResult


def test_init_writes_a_starter_that_checks_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["config", "init"]) == 0
    text = (tmp_path / "agent.toml").read_text()
    assert text.startswith("# agentickit agent configuration.") and "# preset = " in text
    assert main(["config", "check", "agent.toml"]) == 0
    assert (
        "agent.toml: OK: agent 'assistant' (simulated:simulated), memory (history_limit=10)" in capsys.readouterr().out
    )
    cfg = load_config(tmp_path / "agent.toml")
    assert cfg.streaming is not None and cfg.streaming.flush_interval == pytest.approx(0.1)


async def test_the_starter_files_run(tmp_path: Path) -> None:
    assert main(["config", "init", str(tmp_path / "a.toml")]) == 0
    assert main(["config", "init", "--workflow", str(tmp_path / "w.toml")]) == 0
    agent = load_runnable(tmp_path / "a.toml")
    async with agent:
        assert "hello" in (await agent.run("hello")).content
    wf = load_runnable(tmp_path / "w.toml")
    result = await wf.run("topic")
    assert isinstance(result, WorkflowResult)
    assert list(result.steps) == ["facts", "context", "summary"] and result.ok


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("name = 'mine'\n")
    assert main(["config", "init", str(path)]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert path.read_text() == "name = 'mine'\n"
    assert main(["config", "init", "--force", str(path)]) == 0
    assert path.read_text().startswith("# agentickit agent configuration.")


def test_check_prints_the_config_with_print(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.toml"
    path.write_text("name = 'x'\n[llm]\nmax_tokens = '${MT:-7}'\n")
    assert main(["config", "check", "--print", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'name = "x"' in out and "max_tokens = 7" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "a"\n[llm\n', ":2:5: not valid TOML"),
        ("[llm]\nmodle = 'x'\n", "llm.modle: unknown key; did you mean 'model'?"),
        ("handler = 'ak_no_such_module:h'\n", "handler = 'ak_no_such_module:h' cannot be imported"),
    ],
)
def test_check_reports_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: ConfigFileError: {path}") and message in err


def test_check_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "none.toml")]) == 1
    assert "config file not found" in capsys.readouterr().err


def test_config_without_an_action_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 2
    assert "check" in capsys.readouterr().out
