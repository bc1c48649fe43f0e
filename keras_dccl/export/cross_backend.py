"""Export from any Keras backend: the conversion runs on TensorFlow.

TFLite conversion traces TensorFlow graphs: Keras's LiteRT export refuses
the jax backend and, on torch, needs the separate litert-torch package. A
`.keras` file loads on every backend, so an exporter decorated with
`runs_on_tensorflow` saves a model of another backend to a temporary `.keras`
file and calls itself, with the same arguments, in a new Python process whose
backend is TensorFlow. The file it writes is the one that the TensorFlow
backend writes for the same model.

The process runs `python -m keras_dccl.export.cross_backend MODULE FUNCTION
DIRECTORY`, where `DIRECTORY` holds `model.keras` and the other arguments,
pickled (`arguments.pkl`); a failure leaves `error.json` there.
"""

import functools
import importlib
import inspect
import json
import os
import pickle
import subprocess
import sys
import tempfile

import keras

MODEL_FILE = "model.keras"
ARGUMENTS_FILE = "arguments.pkl"
ERROR_FILE = "error.json"


def runs_on_tensorflow(exporter):
    """Makes `exporter(model, ...)` work from any Keras backend.

    On the TensorFlow backend the decorated function is `exporter` itself.
    On another backend, `model` is saved to a temporary `.keras` file (its
    optimizer left out) and `exporter` runs on it, with the other arguments,
    in a TensorFlow-backend subprocess; its return value comes back. A
    `ValueError` raised there is raised again here, with its message; any
    other failure becomes a `RuntimeError`.
    """
    signature = inspect.signature(exporter)
    model_argument = next(iter(signature.parameters))

    @functools.wraps(exporter)
    def wrapper(*args, **kwargs):
        if keras.backend.backend() == "tensorflow":
            return exporter(*args, **kwargs)
        arguments = signature.bind(*args, **kwargs).arguments
        model = arguments.pop(model_argument)
        return _run_in_tensorflow(exporter, model, arguments)

    return wrapper


def _run_in_tensorflow(exporter, model, arguments):
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`model` must be a Keras model. "
            f"Received: model={type(model).__name__}"
        )
    with tempfile.TemporaryDirectory(prefix="keras_dccl_export_") as folder:
        try:
            model.save(
                os.path.join(folder, MODEL_FILE), include_optimizer=False
            )
        except Exception as error:
            raise ValueError(
                f"Exporting from the {keras.backend.backend()} backend saves "
                "the model to a .keras file for TensorFlow, but model "
                f"'{model.name}' cannot be saved: {error}"
            ) from None
        with open(os.path.join(folder, ARGUMENTS_FILE), "wb") as file:
            pickle.dump(arguments, file)
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                __name__,
                exporter.__module__,
                exporter.__name__,
                folder,
            ],
            env=_tensorflow_environment(),
            capture_output=True,
            text=True,
        )
        error_path = os.path.join(folder, ERROR_FILE)
        if os.path.exists(error_path):
            with open(error_path) as file:
                error = json.load(file)
            if error["type"] == "ValueError":
                raise ValueError(error["message"])
            raise RuntimeError(
                f"`{exporter.__name__}` failed in its TensorFlow process: "
                f"{error['type']}: {error['message']}"
            )
        if completed.returncode != 0:
            lines = completed.stderr.strip().splitlines() or ["no output"]
            raise RuntimeError(
                f"`{exporter.__name__}` failed in its TensorFlow process "
                f"(exit status {completed.returncode}): {lines[-1]}"
            )
        with open(os.path.join(folder, ARGUMENTS_FILE), "rb") as file:
            return pickle.load(file)


def _tensorflow_environment():
    """This environment, on TensorFlow, importing this copy of keras_dccl."""
    import keras_dccl

    package_parent = os.path.dirname(
        os.path.dirname(os.path.abspath(keras_dccl.__file__))
    )
    paths = [package_parent, os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "PYTHONPATH": os.pathsep.join(path for path in paths if path),
    }


def main(module, function, folder):
    """The subprocess: runs `module.function` on the saved model.

    The return value replaces the arguments in `arguments.pkl`; an error is
    written to `error.json`.
    """
    try:
        import keras_dccl.layers  # noqa: F401 (registers them for loading)

        exporter = getattr(importlib.import_module(module), function)
        with open(os.path.join(folder, ARGUMENTS_FILE), "rb") as file:
            arguments = pickle.load(file)
        model = keras.saving.load_model(
            os.path.join(folder, MODEL_FILE), compile=False
        )
        result = exporter(model, **arguments)
    except Exception as error:
        with open(os.path.join(folder, ERROR_FILE), "w") as file:
            json.dump(
                {"type": type(error).__name__, "message": str(error)}, file
            )
        return 1
    with open(os.path.join(folder, ARGUMENTS_FILE), "wb") as file:
        pickle.dump(result, file)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
