import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it onto `path` on success.

    Whatever stood at `path` before stays untouched until the new content is
    complete: a crash or an exception leaves either the old file or the new
    one, never a half-written file. The temporary file is removed on failure.
    The temporary name keeps the suffix of `path`, so that writers that add
    an extension (such as `numpy.savez`) find it already there.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(
        prefix=".tmp-" + os.path.basename(path) + "-",
        suffix=suffix,
        dir=directory,
    )
    os.close(handle)
    try:
        yield temporary
        # mkstemp makes the file private (0600); give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def write_text_atomic(path, text):
    """Writes `text` to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
