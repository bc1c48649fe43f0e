"""Reads the members of an untrusted `.npz` file without trusting its sizes.

`numpy.load` inflates any member asked for and allocates whatever shape a
member's header declares. These helpers read only named members, refuse a
member whose declared size is over a limit before inflating it, and check
that the `.npy` header agrees with the member's size before allocating.
"""

import math
import os
import zipfile

import numpy as np

ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def file_kind(path):
    """Returns "npz", "npy", "empty" or "other" from the file's first bytes."""
    with open(path, "rb") as file:
        start = file.read(len(NPY_MAGIC))
    if not start:
        return "empty"
    if start.startswith(ZIP_MAGIC):
        return "npz"
    if start == NPY_MAGIC:
        return "npy"
    return "other"


def open_npz(path):
    """Opens `path` as a zip archive of `.npy` members.

    Raises:
        ValueError: `path` is a directory, missing, or not an `.npz` file;
            the message says what it is instead.
    """
    if os.path.isdir(path):
        raise ValueError("is a directory, not an .npz file")
    if not os.path.exists(path):
        raise ValueError("no such file")
    kind = file_kind(path)
    if kind == "npy":
        raise ValueError("a single .npy array, not an .npz archive")
    if kind == "empty":
        raise ValueError("the file is empty, not an .npz archive")
    if kind != "npz":
        raise ValueError(
            "not an .npz archive (it does not start with the zip signature; "
            "is it a text file?)"
        )
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"not a readable .npz archive ({error})") from None


def member_names(archive):
    """Names of the archive's `.npy` members, without the suffix."""
    return {
        name.removesuffix(".npy")
        for name in archive.namelist()
        if name.endswith(".npy")
    }


def member_bytes(archive, name):
    """The declared (inflated) size of member `name`, in bytes."""
    return archive.getinfo(name + ".npy").file_size


def read_member(archive, name, max_bytes):
    """Reads member `name` as a writable array of at most `max_bytes` bytes.

    The limit covers the member's declared inflated size, checked before
    anything is inflated. Object arrays (pickles) are refused.

    Raises:
        ValueError: the member is missing, too large, inconsistent with its
            header, truncated or corrupted.
    """
    try:
        info = archive.getinfo(name + ".npy")
    except KeyError:
        raise ValueError(f"missing array {name!r}") from None
    if info.file_size > max_bytes:
        raise ValueError(
            f"array {name!r} declares {info.file_size:,} bytes, more than "
            f"the {max_bytes:,} its shape allows"
        )
    try:
        with archive.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version not in _HEADER_READERS:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran_order, dtype = _HEADER_READERS[version](stream)
            if dtype.hasobject:
                raise ValueError("holds Python objects, which are not read")
            size = math.prod(shape) * dtype.itemsize
            if size != info.file_size - stream.tell():
                raise ValueError(
                    f"its header declares {size:,} bytes of data, but the "
                    f"member holds {info.file_size - stream.tell():,}"
                )
            data = stream.read(size)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        reason = (str(error).splitlines() or [""])[0]
        raise ValueError(f"array {name!r} is unreadable: {reason}") from None
    order = "F" if fortran_order else "C"
    return np.frombuffer(bytearray(data), dtype=dtype).reshape(
        shape, order=order
    )
