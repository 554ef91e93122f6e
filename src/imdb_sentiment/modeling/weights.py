"""A Keras model's weights as one digest, read from its .keras file without loading Keras.

The same weights give the same digest whenever they were saved; the file's own md5 does not,
since a .keras file is a zip whose entries carry the time they were written. The archive is
read directly, so the process that compares models never imports Keras or its backend
(importing TensorFlow alone writes to stderr).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import h5py
import numpy as np

from imdb_sentiment.errors import PipelineError, first_line

WEIGHTS_MEMBER = "model.weights.h5"  # in a .keras archive, beside config.json and metadata.json
_LAYERS = "layers"  # the model's variables; "optimizer" beside it holds the optimizer's state


class WeightsUnreadableError(PipelineError):
    """The file is not a .keras archive with weights in it."""


def weights_md5(model_path: Path) -> str:
    """md5 over the weight arrays of the model saved at `model_path`, in a fixed order.

    The order is the archive's: each layer variable's path (`layers/<layer>/.../vars/<i>`),
    sorted with numbers compared as numbers. The optimizer's state is left out.
    """
    try:
        with zipfile.ZipFile(model_path) as archive:
            content = archive.read(WEIGHTS_MEMBER)
        with h5py.File(io.BytesIO(content), "r") as weights:
            layers = weights[_LAYERS]
            names: list[str] = []
            layers.visititems(lambda name, node: _collect(names, name, node))
            arrays = [np.asarray(layers[name]) for name in sorted(names, key=_natural_key)]
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise WeightsUnreadableError(
            f"{model_path}: not a .keras archive with weights ({first_line(exc)})"
        ) from exc
    return arrays_md5(arrays)


def arrays_md5(arrays: list[np.ndarray]) -> str:
    """md5 over `arrays` in order: each one's dtype, shape and C-order bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _collect(names: list[str], name: str, node: object) -> None:
    if isinstance(node, h5py.Dataset):
        names.append(name)


def _natural_key(name: str) -> list[int | str]:
    """`vars/10` after `vars/9`: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
