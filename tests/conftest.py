import os

import pytest

# The layers are backend-agnostic; the tests run them on TensorFlow.
os.environ["KERAS_BACKEND"] = "tensorflow"


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory):
    """`(tflite_path, vocabulary_path)` of a small exported sentiment model."""
    from demo_model import train_demo_model

    return train_demo_model(tmp_path_factory.mktemp("demo_model"))
