"""A job's resumable state in one `.npz` file, written atomically."""

import json
import os

import numpy as np

from keras_dccl.utils.atomic_file import atomic_path


def save_checkpoint(path, state, arrays):
    """Writes `state` (a JSON-serializable dict) and named numpy `arrays`."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            np.savez(file, __state__=np.array(json.dumps(state)), **arrays)


def load_checkpoint(path):
    """Returns `(state, arrays)` from `save_checkpoint`, or None if absent.

    Raises:
        ValueError: the file exists but is not a readable checkpoint.
    """
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        state = json.loads(str(arrays.pop("__state__")))
    except Exception as error:
        raise ValueError(
            f"{path}: not a readable keras-dccl checkpoint ({error}). "
            "Delete it to start over."
        ) from None
    return state, arrays
