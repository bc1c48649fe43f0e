"""The Keras backend of the tests, and which tests run on every backend.

The tests run on TensorFlow unless `KERAS_BACKEND` names another backend:
`KERAS_BACKEND=jax python -m pytest -m backends` runs the layer, callback
and compression tests (the modules in `BACKEND_MODULES`, marked `backends`)
on jax. On a backend other than TensorFlow, every other test is skipped, as
is any test marked `tensorflow_only` (TensorFlow graphs, `tf.GradientTape`):
export, the converter and the demos need TensorFlow.
"""

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

BACKEND_MODULES = (
    "test_adaptive_codebook_embedding.py",
    "test_codebook_decoder.py",
    "test_code_embedding_contract.py",
    "test_codebook_embedding.py",
    "test_compress.py",
    "test_compress_model.py",
    "test_gumbel_softmax_encoder.py",
    "test_temperature_schedule.py",
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "backends: runs on every Keras backend "
        "(KERAS_BACKEND=jax or torch python -m pytest -m backends)",
    )
    config.addinivalue_line(
        "markers", "tensorflow_only: needs the TensorFlow backend"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    backend = os.environ["KERAS_BACKEND"]
    skip = pytest.mark.skip(
        reason=f"needs the TensorFlow backend; KERAS_BACKEND={backend}"
    )
    for item in items:
        if item.get_closest_marker("tensorflow_only") is None and (
            item.path.name in BACKEND_MODULES
        ):
            item.add_marker(pytest.mark.backends)
        elif backend != "tensorflow":
            item.add_marker(skip)


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory):
    """`(tflite_path, vocabulary_path)` of a small exported sentiment model."""
    from demo_model import train_demo_model

    return train_demo_model(tmp_path_factory.mktemp("demo_model"))
