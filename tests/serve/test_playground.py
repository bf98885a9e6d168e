"""The playground at `/` in a real headless Chromium (Debian `chromium` + `chromium-driver`, via selenium).

The server runs in a thread of this process (its own loop); the browser talks to it over real HTTP.
A chat with a tool-calling agent shows live deltas, the tool call, usage and TTFT; a DAG workflow
draws one Gantt bar per step, and the two parallel branches overlap in time. A screenshot of each
goes to the test output directory (`AGENTICKIT_TEST_OUTPUT`, default `test-output/`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agentickit as ak
from tests.conftest import REQUIRE_SERVICES, free_port
from tests.serve.conftest import make_agent, make_workflow

pytestmark = pytest.mark.browser

OUTPUT = Path(os.environ.get("AGENTICKIT_TEST_OUTPUT", "test-output"))


def _driver_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        message = "headless Chromium is not installed (apt-get install -y chromium chromium-driver, see .ci/browser.sh)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)  # the require_service guard: CI (AGENTICKIT_REQUIRE_SERVICES=1) failed above instead
    return browser, driver


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The server in a thread with its own event loop (selenium's calls block this one)."""
    agent = make_agent(tokens_per_s=400)
    app = ak.serve.app(agents=[agent], workflows=[make_workflow()])
    port = free_port()
    server = ak.serve.Server(app, host="127.0.0.1", port=port)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _driver_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, condition: str, timeout: float = 20.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: d.execute_script(condition))


def _send(driver: Any, target: str, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    runs = int(driver.execute_script("return Number(document.body.dataset.runs || 0)"))
    Select(driver.find_element(By.ID, "target")).select_by_value(target)
    box = driver.find_element(By.ID, "input")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()
    _wait(driver, f"return Number(document.body.dataset.runs || 0) > {runs}")


def test_chat_with_an_agent_shows_deltas_tool_calls_usage_and_ttft(base_url: str, browser: Any) -> None:
    browser.get(base_url + "/")
    _wait(browser, "return document.body.dataset.ready === '1'")
    # Watch the answer grow: the page must show text before the run has finished (live deltas).
    browser.execute_script(
        "window.__seen = []; new MutationObserver(() => {"
        " const all = document.querySelectorAll('[data-role=answer]'); const a = all[all.length - 1];"
        " if (a) window.__seen.push([a.textContent.length, document.getElementById('runstatus').textContent]);"
        "}).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});"
    )
    _send(browser, "assistant", "What is the weather in Paris?")
    answers = browser.execute_script(
        "return [...document.querySelectorAll('[data-role=answer]')].map(e => e.textContent)"
    )
    assert answers and "sunny in Paris" in answers[-1], answers
    tools = browser.execute_script(
        "return [...document.querySelectorAll('[data-role=tool-call]')].map(e => e.textContent)"
    )
    assert any("weather" in t and "Paris" in t for t in tools), tools
    partial = browser.execute_script("return window.__seen.filter(s => s[1] === 'running' && s[0] > 0).length")
    assert partial >= 2, "the answer did not grow while the run was running (no live deltas)"
    ttft = browser.find_element("id", "ttft").text
    assert ttft.endswith(" ms") and float(ttft.split()[0]) > 0, ttft
    usage = browser.find_element("id", "usage").text
    inp, out = (int(x) for x in usage.split(" / "))
    assert inp > 0 and out > 0, usage
    assert browser.find_element("id", "runstatus").text == "completed"
    assert browser.find_element("id", "tools").text == "1"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "playground-chat.png"))


def test_a_workflow_draws_a_gantt_bar_per_step_with_parallel_branches_overlapping(base_url: str, browser: Any) -> None:
    browser.get(base_url + "/")
    _wait(browser, "return document.body.dataset.ready === '1'")
    _send(browser, "pipeline", "Write about otters")
    bars: list[dict[str, Any]] = browser.execute_script(
        "return [...document.querySelectorAll('#rows .row')].map(r => {"
        " const b = r.querySelector('.bar').getBoundingClientRect();"
        " return {step: r.dataset.step, status: r.dataset.status, left: b.left, right: b.right}; })"
    )
    by_step = {b["step"]: b for b in bars}
    assert set(by_step) == {"left", "right", "write"}, bars
    assert all(b["status"] == "ok" for b in bars), bars
    left, right, write = by_step["left"], by_step["right"], by_step["write"]
    # The parallel branches overlap on the timeline; the writer starts after both have ended.
    assert left["left"] < right["right"] and right["left"] < left["right"], bars
    assert write["left"] >= max(left["right"], right["right"]) - 2, bars
    assert browser.find_element("id", "runstatus").text == "completed"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "playground-workflow.png"))
