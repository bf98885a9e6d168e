"""Per-key rate limits, CORS, run-record retention and the playground switch, over real HTTP."""

from __future__ import annotations

import aiohttp
import pytest

import agentickit as ak
from tests.serve.conftest import Watchdog, serving

KEY, OTHER = "key-one", "key-two"


async def test_rate_limits_per_key_and_per_client_with_retry_after(loop_watchdog: Watchdog) -> None:
    keys = (
        ak.serve.APIKey(name="tight", sha256=ak.serve.hash_key(KEY), rate_limit="2/h"),
        ak.serve.APIKey(name="loose", sha256=ak.serve.hash_key(OTHER)),
    )
    app = ak.serve.app(agents=[ak.Agent("echo", llm="simulated:echo")], api_keys=keys, rate_limit="3/h")
    run = {"input": "hi"}
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:

        async def status(key: str, path: str = "/v1/agents/echo/runs") -> aiohttp.ClientResponse:
            headers = {"authorization": f"Bearer {key}"}
            async with http.post(url + path, json=run, headers=headers) as r:
                await r.read()
                return r

        tight = [await status(KEY) for _ in range(3)]
        assert [r.status for r in tight] == [200, 200, 429]  # the key's own limit
        body_429 = tight[-1]
        assert int(body_429.headers["retry-after"]) > 0
        loose = [await status(OTHER) for _ in range(4)]
        assert [r.status for r in loose] == [200, 200, 200, 429]  # the server's limit, counted per key
        # probes are not counted
        for _ in range(5):
            async with http.get(f"{url}/healthz") as r:
                assert r.status == 200
        async with http.post(f"{url}/v1/agents/echo/runs", json=run, headers={"authorization": f"Bearer {KEY}"}) as r:
            err = await r.json()
        assert err["error"]["type"] == "rate_limit_exceeded" and "'tight'" in err["error"]["message"]
    loop_watchdog.check()


async def test_without_keys_the_limit_is_per_client_address() -> None:
    app = ak.serve.app(agents=[ak.Agent("echo", llm="simulated:echo")], rate_limit="1/h")
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        got: list[int] = []
        for _ in range(2):
            async with http.get(f"{url}/v1/models") as r:
                got.append(r.status)
    assert got == [200, 429]


def test_bad_rate_limits_are_rejected_naming_the_setting() -> None:
    with pytest.raises(ak.errors.UserError, match="rate_limit: invalid rate_limit 'often'"):
        ak.serve.ServeSettings(rate_limit="often")
    with pytest.raises(ak.errors.UserError, match="API key 'ci': invalid rate_limit"):
        ak.serve.APIKey(name="ci", sha256=ak.serve.hash_key("k"), rate_limit="10 per s")
    assert "rate_limit='5/s'" in repr(ak.serve.APIKey(name="ci", sha256=ak.serve.hash_key("k"), rate_limit="5/s"))


async def test_cors_origins_playground_and_max_runs() -> None:
    agent = ak.Agent("echo", llm="simulated:echo")
    app = ak.serve.app(agents=[agent], cors_origins=["https://app.example"], playground=False, max_runs=2)
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.get(f"{url}/v1/models", headers={"origin": "https://app.example"}) as r:
            assert r.headers["access-control-allow-origin"] == "https://app.example"
        async with http.get(f"{url}/v1/models", headers={"origin": "https://evil.example"}) as r:
            assert "access-control-allow-origin" not in r.headers
        async with http.get(f"{url}/") as r:
            assert r.status == 404
        ids: list[str] = []
        for _ in range(3):
            async with http.post(f"{url}/v1/agents/echo/runs", json={"input": "x"}) as r:
                ids.append((await r.json())["id"])
        async with http.get(f"{url}/v1/runs/{ids[0]}") as r:
            assert r.status == 404  # only the last max_runs records are kept
        async with http.get(f"{url}/v1/runs/{ids[-1]}") as r:
            assert r.status == 200
    default = ak.serve.app(agents=[agent])
    async with serving(default) as (url, _), aiohttp.ClientSession() as http:
        async with http.get(f"{url}/v1/models", headers={"origin": "https://app.example"}) as r:
            assert "access-control-allow-origin" not in r.headers
        async with http.get(f"{url}/") as r:
            assert r.status == 200


def test_the_limiter_forgets_clients_whose_budget_is_whole_again() -> None:
    from agentickit.serve._settings import RateLimiter

    limiter = RateLimiter(ak.serve.ServeSettings(rate_limit="1/h"))
    assert limiter.check("ip:busy", None) == 0.0
    limiter._tat.update(dict.fromkeys((f"ip:{i}" for i in range(10_000)), 0.0))  # clients seen long ago
    assert limiter.check("ip:new", None) == 0.0
    assert sorted(limiter._tat) == ["ip:busy", "ip:new"]  # the long-past ones are forgotten, the busy kept
    assert limiter.check("ip:busy", None) > 0
