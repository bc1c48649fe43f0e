import os

# The layers are backend-agnostic; the tests run them on TensorFlow.
os.environ["KERAS_BACKEND"] = "tensorflow"
