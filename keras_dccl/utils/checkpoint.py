"""A job's resumable state in one `.npz` file, written atomically.

The file holds the named arrays, the JSON state under `__state__`, and a
SHA-256 checksum under `__checksum__` over the state and every array's name,
dtype, shape and bytes, so that a checkpoint edited or damaged by hand is
refused instead of resumed. Arrays are stored without compression, so no
member may declare more bytes than the file holds.
"""

import hashlib
import json
import os

import numpy as np

from keras_dccl.utils.atomic_file import atomic_path
from keras_dccl.utils.npz_file import member_bytes
from keras_dccl.utils.npz_file import member_names
from keras_dccl.utils.npz_file import open_npz
from keras_dccl.utils.npz_file import read_member

_STATE = "__state__"
_CHECKSUM = "__checksum__"


def save_checkpoint(path, state, arrays):
    """Writes `state` (a JSON-serializable dict) and named numpy `arrays`."""
    state_json = json.dumps(state)
    arrays = {name: np.asarray(array) for name, array in arrays.items()}
    checksum = _checksum(state_json, arrays)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            np.savez(
                file,
                **{_STATE: np.array(state_json), _CHECKSUM: np.array(checksum)},
                **arrays,
            )


def load_checkpoint(path):
    """Returns `(state, arrays)` from `save_checkpoint`, or None if absent.

    Raises:
        ValueError: the file exists but is not a complete, unmodified
            checkpoint. The message is one line starting with the path.
    """
    if not os.path.lexists(path):
        return None
    try:
        state, arrays = _read(path)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ValueError(
            f"{path}: not a valid keras-dccl checkpoint ({reason}). "
            "Delete it to start over."
        ) from None
    return state, arrays


def _read(path):
    with open_npz(path) as archive:
        names = member_names(archive)
        for name in (_STATE, _CHECKSUM):
            if name not in names:
                raise ValueError(f"missing {name}")
        declared = sum(member_bytes(archive, name) for name in names)
        size = os.path.getsize(path)
        if declared > size:
            raise ValueError(
                f"its arrays declare {declared:,} bytes, more than the "
                f"{size:,} of the file"
            )
        arrays = {name: read_member(archive, name, size) for name in names}
    state_json = _text(arrays.pop(_STATE), _STATE)
    checksum = _text(arrays.pop(_CHECKSUM), _CHECKSUM)
    if _checksum(state_json, arrays) != checksum:
        raise ValueError("checksum mismatch: the file was changed or damaged")
    state = json.loads(state_json)
    if not isinstance(state, dict):
        raise ValueError("the state is not a JSON object")
    return state, arrays


def _text(array, name):
    if array.dtype.kind != "U" or array.ndim != 0:
        raise ValueError(f"{name} is not a 0-d unicode array")
    return array.item()


def _checksum(state_json, arrays):
    digest = hashlib.sha256(state_json.encode("utf-8"))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        record = json.dumps([name, array.dtype.str, array.shape])
        digest.update(record.encode("utf-8"))
        digest.update(array.tobytes())
    return digest.hexdigest()
