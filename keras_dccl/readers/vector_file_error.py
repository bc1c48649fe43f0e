import os


class VectorFileError(ValueError):
    """Raised when a file of word vectors (or its vocabulary) is malformed.

    The message is one line, `PATH:LINE: message`, or `PATH: message` when no
    line applies (a `.npy` array, an entry of a binary word2vec file, a
    missing file), so that editors and terminals can jump to the fault.

    Args:
        path: String or path-like. The file at fault.
        message: String. What is wrong, as a sentence.
        line: Integer or `None`. The 1-based line at fault, if any.

    Example:

    >>> error = VectorFileError("vectors.txt", "Duplicate word 'the'.", line=7)
    >>> str(error)
    "vectors.txt:7: Duplicate word 'the'."
    """

    def __init__(self, path, message, line=None):
        self.path = os.fspath(path)
        self.message = message
        self.line = line
        location = self.path if line is None else f"{self.path}:{line}"
        super().__init__(" ".join(f"{location}: {message}".splitlines()))

    def __reduce__(self):
        return type(self), (self.path, self.message, self.line)
