"""The conv-LSTM's forward pass in numpy, read from its `.keras` file: no Keras backend needed.

`imdb-sentiment predict` scores a few reviews per process, and importing TensorFlow to do so
costs more than everything else the command does. This runs, for inference only, the layers
of `build_model`'s single-path models (Embedding or BigramEmbedding, Dropout and
SpatialDropout1D as the identity, Conv1D, MaxPooling1D, LSTM or a Bidirectional LSTM,
GlobalMaxPooling1D, Dense) in
float64 from the saved float32 weights, so it agrees with Keras' float32 forward pass to
rounding. Any other layer, a branched graph (pooling `mean_max`), an option or a dtype
policy (mixed precision) raises `UnsupportedModelError`: the caller then uses Keras.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from imdb_sentiment.errors import PipelineError
from imdb_sentiment.modeling.pair_hash import pair_buckets

Step = Callable[[np.ndarray], np.ndarray]
_WEIGHTS_FILE = "model.weights.h5"  # Keras 3's layout of a .keras zip
_CONFIG_FILE = "config.json"
_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),  # no overflow for large |x|
    "tanh": np.tanh,
}


class UnsupportedModelError(PipelineError):
    """The Keras file holds something this forward pass does not implement."""


@dataclass(frozen=True)
class NumpyModel:
    """A chain of layers, token ids (batch, maxlen) in, positive-class probability out."""

    steps: tuple[Step, ...]

    def predict(self, ids: np.ndarray, batch_size: int = 250) -> np.ndarray:
        """(batch,) float64 probabilities; batches bound memory, not the answer."""
        parts = []
        for start in range(0, len(ids), batch_size):
            x: np.ndarray = np.asarray(ids[start : start + batch_size])
            for step in self.steps:
                x = step(x)
            parts.append(x.reshape(len(x)))
        return np.concatenate(parts) if parts else np.zeros(0)


def load_numpy_model(keras_file: Path) -> NumpyModel:
    """The forward pass of the model saved at `keras_file` (`model.save(...)`, Keras 3)."""
    try:
        with zipfile.ZipFile(keras_file) as archive:
            config = json.loads(archive.read(_CONFIG_FILE))
            weights = io.BytesIO(archive.read(_WEIGHTS_FILE))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise UnsupportedModelError(f"{keras_file}: not a Keras 3 model file ({exc})") from exc
    with h5py.File(weights, "r") as store:
        return NumpyModel(tuple(_build_steps(config, store)))


def _build_steps(config: Mapping[str, Any], store: h5py.File) -> list[Step]:
    if config.get("class_name") not in ("Functional", "Model", "Sequential"):
        raise UnsupportedModelError(f"model class {config.get('class_name')!r}")
    steps: list[Step] = []
    used: dict[str, int] = {}
    previous: str | None = None
    for layer in config["config"]["layers"]:
        kind, options = layer["class_name"], layer["config"]
        _check_chain(layer, previous)
        previous = layer.get("name", options.get("name"))
        group = store.get(f"layers/{_saved_name(kind, used)}")
        if kind == "InputLayer":
            continue
        _check_float32(kind, options)
        builder = _BUILDERS.get(kind)
        if builder is None:
            raise UnsupportedModelError(f"layer {kind}")
        steps.append(builder(options, group))
    return steps


def _saved_name(kind: str, used: dict[str, int]) -> str:
    """The name Keras' saver gives a layer's weights: its class in snake case, made unique."""
    name = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", kind)).lower()
    count = used.get(name, 0)
    used[name] = count + 1
    return name if count == 0 else f"{name}_{count}"


def _check_chain(layer: Mapping[str, Any], previous: str | None) -> None:
    """Each layer must take exactly the previous layer's output (no branches, no masks)."""
    nodes = layer.get("inbound_nodes", [])
    if previous is None:
        return
    sources = [a["config"]["keras_history"][0] for n in nodes for a in n.get("args", [])]
    if sources != [previous] or any(n.get("kwargs", {}).get("mask") for n in nodes):
        raise UnsupportedModelError(f"layer {layer['class_name']} is not fed by {previous} alone")


def _check_float32(kind: str, options: Mapping[str, Any]) -> None:
    dtype = options.get("dtype")
    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    if name not in (None, "float32"):
        raise UnsupportedModelError(f"layer {kind} computes in {name}")


def _require(kind: str, options: Mapping[str, Any], **expected: Any) -> None:
    for key, value in expected.items():
        if options.get(key, value) != value:
            raise UnsupportedModelError(f"layer {kind} with {key}={options.get(key)!r}")


def _activation(kind: str, name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name not in _ACTIVATIONS:
        raise UnsupportedModelError(f"layer {kind} with activation {name!r}")
    return _ACTIVATIONS[name]


def _variables(group: h5py.Group | None) -> list[np.ndarray]:
    """A layer's saved variables in creation order (vars/0, vars/1, ...), as float64."""
    if group is None or "vars" not in group:
        return []
    stored = group["vars"]
    return [np.asarray(stored[str(i)], dtype=np.float64) for i in range(len(stored))]


def _embedding(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    _require("Embedding", options, mask_zero=False, quantization_config=None)
    (table,) = _variables(group)
    return lambda ids: table[ids]  # (batch, maxlen, embedding_dim)


def _bigram_embedding(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    """modeling/bigram_embedding.py: word vectors plus hashed (previous word, word) vectors."""
    words, pairs = _variables(group)
    vocab, buckets = options["input_dim"], options["buckets"]

    def embed(ids: np.ndarray) -> np.ndarray:
        ids = ids.astype(np.int64)
        return words[ids] + pairs[pair_buckets(ids, vocab, buckets, np)]

    return embed


def _dropout(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    return lambda x: x  # inference


def _conv1d(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    _require("Conv1D", options, strides=[1], dilation_rate=[1], groups=1, padding="valid")
    _require("Conv1D", options, data_format="channels_last")
    kernel, *bias = _variables(group)  # kernel: (kernel_size, in, filters)
    act = _activation("Conv1D", options["activation"])

    def conv(x: np.ndarray) -> np.ndarray:
        steps = x.shape[1] - len(kernel) + 1
        out = sum(x[:, k : k + steps] @ kernel[k] for k in range(len(kernel)))
        return act(out + bias[0] if bias else out)  # (batch, steps, filters)

    return conv


def _max_pooling1d(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    _require("MaxPooling1D", options, padding="valid", data_format="channels_last")
    (size,), (stride,) = options["pool_size"], options["strides"] or options["pool_size"]

    def pool(x: np.ndarray) -> np.ndarray:
        count = (x.shape[1] - size) // stride + 1
        windows = [x[:, i * stride : i * stride + size].max(axis=1) for i in range(count)]
        return np.stack(windows, axis=1)

    return pool


def _global_max_pooling1d(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    _require("GlobalMaxPooling1D", options, keepdims=False, data_format="channels_last")
    return lambda x: x.max(axis=1)


def _dense(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    _require("Dense", options, quantization_config=None)
    kernel, *bias = _variables(group)
    act = _activation("Dense", options["activation"])
    return lambda x: act(x @ kernel + bias[0] if bias else x @ kernel)


def _lstm(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    """Keras' LSTM: gates i, f, c, o in that order along the kernels' last axis."""
    _require("LSTM", options, return_state=False, stateful=False, activation="tanh")
    _require("LSTM", options, recurrent_activation="sigmoid")
    kernel, recurrent, *bias = _variables(group["cell"] if group is not None else None)
    backwards, every_step = options["go_backwards"], options["return_sequences"]
    sigmoid = _ACTIVATIONS["sigmoid"]

    def lstm(x: np.ndarray) -> np.ndarray:
        inputs = x @ kernel + (bias[0] if bias else 0.0)  # (batch, steps, 4 * units)
        h = c = np.zeros((len(x), recurrent.shape[0]))
        outputs = []
        for t in range(x.shape[1])[::-1] if backwards else range(x.shape[1]):
            i, f, g, o = np.split(inputs[:, t] + h @ recurrent, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            outputs.append(h)
        return np.stack(outputs, axis=1) if every_step else h

    return lstm


def _bidirectional(options: Mapping[str, Any], group: h5py.Group | None) -> Step:
    _require("Bidirectional", options, merge_mode="concat")
    halves = []
    for part in ("layer", "backward_layer"):
        inner = options[part]
        if inner["class_name"] != "LSTM":
            raise UnsupportedModelError(f"Bidirectional {inner['class_name']}")
        saved = "forward_layer" if part == "layer" else part
        halves.append(_lstm(inner["config"], group[saved] if group is not None else None))
    forward, backward = halves
    every_step = options["layer"]["config"]["return_sequences"]

    def both(x: np.ndarray) -> np.ndarray:
        back = backward(x)  # with go_backwards, its sequence runs from the last step
        return np.concatenate([forward(x), back[:, ::-1] if every_step else back], axis=-1)

    return both


_BUILDERS: dict[str, Callable[[Mapping[str, Any], Any], Step]] = {
    "Embedding": _embedding,
    "BigramEmbedding": _bigram_embedding,  # train.model.bigram_buckets > 0
    "Dropout": _dropout,
    "SpatialDropout1D": _dropout,  # train.model.spatial_dropout: also the identity at inference
    "Conv1D": _conv1d,
    "MaxPooling1D": _max_pooling1d,
    "GlobalMaxPooling1D": _global_max_pooling1d,
    "LSTM": _lstm,
    "Bidirectional": _bidirectional,
    "Dense": _dense,
}
