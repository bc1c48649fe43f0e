import contextlib
import os


@contextlib.contextmanager
def lock_file(path):
    """Holds the lock file `path` while the block runs, or refuses.

    The lock is a file created with `O_EXCL` that holds the owner's process
    id. A lock whose process no longer runs (a killed job) is taken over; a
    live one raises. The file is removed when the block ends.

    Raises:
        ValueError: another running process holds the lock. The message is
            one line starting with `path`.
    """
    path = os.fspath(path)
    for attempt in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            owner = _owner(path)
            if owner is None or attempt:
                raise ValueError(
                    f"{path}: another process holds this lock; delete the "
                    "file if no keras-dccl job is running."
                ) from None
            if _is_running(owner):
                raise ValueError(
                    f"{path}: process {owner} is writing the same output; "
                    "wait for it to finish or stop it."
                ) from None
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)  # Left by a job that was killed.
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{os.getpid()}\n")
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _owner(path):
    """The process id written in the lock file, or None if unreadable."""
    try:
        with open(path) as file:
            pid = int(file.read(32).strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def _is_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Another user's process.
        return True
    return True
