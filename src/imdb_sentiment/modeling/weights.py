"""A Keras model's weights as one digest: the same weights give the same digest, file or not."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def weights_md5(model_path: Path) -> str:
    """md5 over the weight arrays of the model saved at `model_path`, in the model's order.

    Not the md5 of the .keras file: that is a zip whose entries carry the time they were
    written, so two saves of the very same weights differ. Each array contributes its dtype,
    shape and bytes; the optimizer's state is not part of it.
    """
    import keras

    model = keras.saving.load_model(model_path, compile=False)
    return arrays_md5(model.get_weights())


def arrays_md5(arrays: list[np.ndarray]) -> str:
    """md5 over `arrays` in order: each one's dtype, shape and C-order bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
