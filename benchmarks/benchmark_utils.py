"""What every benchmark records: the machine, the time, the results files."""

import datetime
import importlib.metadata
import json
import os
import platform


def machine_info():
    """CPU, core count, load average and package versions of this run."""
    cpu_model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for package in ("numpy", "keras", "tensorflow", "ai-edge-litert"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    from keras_dccl import __version__

    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "keras_dccl": __version__,
        **versions,
    }


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"
    )


def write_results(path, results, render_markdown):
    """Writes `path` (JSON) and the `.md` beside it, each atomically."""
    from keras_dccl.utils.atomic_file import write_text_atomic

    write_text_atomic(path, json.dumps(results, indent=2) + "\n")
    write_text_atomic(
        os.path.splitext(path)[0] + ".md", render_markdown(results)
    )
