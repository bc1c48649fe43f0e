"""`ProgressBar`: a one-line text progress bar that needs no Keras."""

import sys
import time


class ProgressBar:
    """Prints `step/target` and the latest values of named metrics.

    On a terminal the line is redrawn in place; elsewhere (logs, pipes) a
    plain line is printed for the first step, every tenth of the target and
    the last step, so that a long run leaves a short log.

    Args:
        target: Integer, the number of steps at most.
        unit_name: String, what a step is called ("epoch", "iteration").
        stream: File to write to (default: standard output).
    """

    def __init__(self, target, unit_name="step", stream=None):
        self.target = target
        self.unit_name = unit_name
        self.stream = stream or sys.stdout
        self.start = time.monotonic()
        self._every = max(1, target // 10)

    def update(self, current, values=()):
        seconds = time.monotonic() - self.start
        width = len(str(self.target))
        parts = [f"{self.unit_name} {current:>{width}}/{self.target}"]
        parts += [f"{name}: {value:.4f}" for name, value in values]
        parts.append(f"{seconds:.0f}s")
        line = " - ".join(parts)
        if self.stream.isatty():
            end = "\n" if current >= self.target else ""
            self.stream.write("\r" + line + end)
        elif current in (1, self.target) or not current % self._every:
            self.stream.write(line + "\n")
        self.stream.flush()
