"""Train a compressed model to reproduce the outputs of the original."""

import hashlib
import json
import os
import sys
import time

import keras
import numpy as np

from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.atomic_file import atomic_path
from keras_dccl.utils.atomic_file import write_text_atomic
from keras_dccl.utils.model_layers import model_layers

STATE_FILE = "distill_state.json"
VARIABLES_FILE = "distill_variables.npz"


def distill(
    student,
    teacher,
    inputs,
    output=None,
    sample_weight=None,
    loss="mean_squared_error",
    optimizer=None,
    epochs=10,
    batch_size=32,
    validation_split=0.1,
    patience=2,
    checkpoint_dir=None,
    seed=0,
    verbose="auto",
    callbacks=None,
    dropout=False,
):
    """Trains `student` to reproduce the outputs of `teacher` on `inputs`.

    Knowledge distillation on unlabelled inputs: the teacher's outputs are
    computed once (or given), then the student is fit to them with an
    ordinary `keras.Model.fit`, one epoch at a time. What trains is what is
    trainable in the student: for a model from `compress_model`, the
    codebooks of each `CodebookEmbedding` and every other layer; set
    `layer.trainable = False` on the layers to keep (for example every
    layer but the embedding, to learn the codebooks alone).

    The last `validation_split` of the inputs is held out. The student's
    validation loss is measured before training and after each epoch; it
    decides early stopping (`patience` epochs without improvement), and the
    student ends with the weights of its best epoch, or those it started
    with if no epoch did better (so that distillation never returns a
    student worse on the validation slice than the one it was given).

    With `checkpoint_dir`, the job saves after every epoch all its state
    (every variable of the student and its optimizer, seed generators
    included, the best weights and the history); called again with the
    same arguments, it resumes where it stopped and ends with exactly the
    weights of an uninterrupted run. Each epoch's order of the
    training inputs is a permutation drawn from `seed` and the epoch.

    Args:
        student: A built `keras.Model`, e.g. from `compress_model`.
        teacher: The original `keras.Model`, or its outputs on `inputs`
            computed beforehand (an array, or a dict of arrays for a model
            with named outputs).
        inputs: The unlabelled inputs: an array, or a dict of arrays by
            input name (e.g. `token_ids`, `padding_mask`, `segment_ids`).
        output: For models with a dict of outputs, the name of the one to
            reproduce (e.g. `"sequence_output"`). Defaults to all outputs.
        sample_weight: Optional weights of the loss: an array, or the name
            of one of `inputs` (e.g. `"padding_mask"`, so that only the
            real tokens of a sequence output count).
        loss: A Keras loss. Defaults to `"mean_squared_error"`.
        optimizer: A Keras optimizer. Defaults to `Adam(1e-4)`.
        epochs: Integer. Most passes over the training inputs.
            Defaults to `10`.
        batch_size: Integer. Defaults to `32`.
        validation_split: Float in (0, 0.5]. Share of the inputs, taken at
            the end, held out for early stopping. Defaults to `0.1`.
        patience: Integer. Epochs without a better validation loss before
            stopping. Defaults to `2`.
        checkpoint_dir: Optional folder for the resumable state. It is kept
            after the job, so that a finished job called again returns
            at once.
        seed: Integer seed of the shuffling. Defaults to `0`.
        verbose: `"auto"` (a progress bar on a terminal, one line per epoch
            otherwise), 0, 1 or 2, as in `keras.Model.fit`.
        callbacks: Optional list of Keras callbacks for each epoch's `fit`.
        dropout: Boolean. Whether the student's `Dropout` layers drop in
            training. Defaults to `False`: the teacher's outputs are
            deterministic, and dropout noise only hides them from the
            student. Their rates are restored when `distill` returns.

    Returns:
        A dict: `"loss"` and `"val_loss"` per epoch, `"start_val_loss"`
        (before training), `"best_epoch"` (from 0; -1 when no epoch beat
        the start, whose weights are kept), `"best_val_loss"`,
        `"stopped_early"` and `"seconds"` (the wall time of the epochs,
        those of interrupted runs included).
    """
    epochs = check_integer("epochs", epochs)
    batch_size = check_integer("batch_size", batch_size)
    patience = check_integer("patience", patience)
    if not 0.0 < validation_split <= 0.5:
        raise ValueError(
            "`validation_split` must be in (0, 0.5]. "
            f"Received: validation_split={validation_split}"
        )
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    size = _num_rows(inputs)
    if isinstance(sample_weight, str):
        if not isinstance(inputs, dict) or sample_weight not in inputs:
            raise ValueError(
                "`sample_weight` names no input. Received: "
                f"sample_weight={sample_weight!r}"
            )
        sample_weight = np.asarray(inputs[sample_weight], dtype="float32")
    targets = teacher
    if isinstance(teacher, keras.Model):
        targets = teacher.predict(inputs, batch_size=batch_size, verbose=0)
    model = student
    if output is not None:
        targets = _select(targets, output, "teacher")
        model = keras.Model(student.input, _select(student.output, output))
    if _num_rows(targets) != size:
        raise ValueError(
            f"The teacher's outputs have {_num_rows(targets)} rows for "
            f"{size} inputs."
        )
    validation_size = max(1, int(round(size * validation_split)))
    if validation_size >= size:
        raise ValueError(
            f"{size} inputs leave nothing to train on after "
            f"validation_split={validation_split}."
        )
    train_size = size - validation_size

    def rows(values, index):
        if values is None:
            return None
        return keras.tree.map_structure(lambda array: array[index], values)

    validation = slice(train_size, size)
    validation_data = (
        rows(inputs, validation),
        rows(targets, validation),
        rows(sample_weight, validation),
    )
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-4), loss=loss)
    model.optimizer.build(model.trainable_variables)
    job = _Checkpoint(
        checkpoint_dir,
        model,
        _fingerprint(size, output, loss, epochs, batch_size, seed, model),
        verbose,
    )
    state = job.restore()
    if state is None:
        # The start is the first candidate: an epoch must beat it.
        start_val_loss = _evaluate(model, validation_data, batch_size)
        if verbose:
            print(f"Before distillation: val_loss {start_val_loss:.4g}")
        state = {
            "epoch": 0,
            "loss": [],
            "val_loss": [],
            "start_val_loss": start_val_loss,
            "best_epoch": -1,
            "best_val_loss": start_val_loss,
            "best_weights": model.get_weights(),
            "stopped_early": False,
            "seconds": 0.0,
        }
        job.save(state)
    rates = {} if dropout else _switch_off_dropout(model)
    try:
        while state["epoch"] < epochs and not state["stopped_early"]:
            epoch = state["epoch"]
            order = np.random.default_rng([seed, epoch]).permutation(train_size)
            start = time.time()
            history = model.fit(
                rows(inputs, order),
                rows(targets, order),
                sample_weight=rows(sample_weight, order),
                batch_size=batch_size,
                epochs=epochs,
                initial_epoch=epoch,
                shuffle=False,
                validation_data=validation_data,
                callbacks=[*(callbacks or []), _StopAfterEpoch()],
                verbose=verbose,
            ).history
            state["loss"].append(float(history["loss"][-1]))
            val_loss = float(history["val_loss"][-1])
            state["val_loss"].append(val_loss)
            if val_loss < state["best_val_loss"]:
                state.update(best_epoch=epoch, best_val_loss=val_loss)
                state["best_weights"] = model.get_weights()
            elif epoch - state["best_epoch"] >= patience:
                state["stopped_early"] = True
            state["epoch"] = epoch + 1
            state["seconds"] += time.time() - start
            job.save(state)
    finally:
        for layer, rate in rates.items():
            layer.rate = rate
    model.set_weights(state["best_weights"])
    return {
        key: state.get(key)
        for key in (
            "loss",
            "val_loss",
            "start_val_loss",
            "best_epoch",
            "best_val_loss",
            "stopped_early",
            "seconds",
        )
    }


def _evaluate(model, validation_data, batch_size):
    inputs, targets, weights = validation_data
    return float(
        model.evaluate(
            inputs,
            targets,
            sample_weight=weights,
            batch_size=batch_size,
            verbose=0,
        )
    )


def _switch_off_dropout(model):
    """Sets every Dropout rate in `model` to 0; returns the old rates."""
    rates = {
        layer: layer.rate
        for layer in model_layers(model)
        if isinstance(layer, keras.layers.Dropout)
    }
    for layer in rates:
        layer.rate = 0.0
    return rates


class _StopAfterEpoch(keras.callbacks.Callback):
    """Ends `fit` after one epoch, so that the job saves between epochs."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


class _Checkpoint:
    """All of a distillation's state in two files, written atomically."""

    def __init__(self, folder, model, fingerprint, verbose=1):
        self.folder = folder
        self.model = model
        self.fingerprint = fingerprint
        self.verbose = verbose

    def _variables(self):
        return [*self.model.variables, *self.model.optimizer.variables]

    def restore(self):
        if self.folder is None:
            return None
        state_path = os.path.join(self.folder, STATE_FILE)
        if not os.path.exists(state_path):
            return None
        with open(state_path) as file:
            state = json.load(file)
        if state.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"The checkpoint in {self.folder} is of another "
                "distillation (other inputs, output, loss, epochs, batch "
                "size, seed or model): remove it or pass another "
                "`checkpoint_dir`."
            )
        with np.load(os.path.join(self.folder, VARIABLES_FILE)) as arrays:
            values = [arrays[f"variable_{i}"] for i in range(state["count"])]
            best = [
                arrays[f"best_{i}"] for i in range(state["best_count"])
            ] or None
        variables = self._variables()
        if len(values) != len(variables) or any(
            value.shape != tuple(variable.shape)
            for value, variable in zip(values, variables)
        ):
            raise ValueError(
                f"The checkpoint in {self.folder} does not fit this student "
                "model's variables."
            )
        for variable, value in zip(variables, values):
            variable.assign(value)
        if self.verbose:
            print(f"Resuming the distillation after epoch {state['epoch']}.")
        state["best_weights"] = best
        return state

    def save(self, state):
        if self.folder is None:
            return
        os.makedirs(self.folder, exist_ok=True)
        values = [keras.ops.convert_to_numpy(v) for v in self._variables()]
        best = state["best_weights"] or []
        arrays = {f"variable_{i}": value for i, value in enumerate(values)}
        arrays.update({f"best_{i}": value for i, value in enumerate(best)})
        with atomic_path(os.path.join(self.folder, VARIABLES_FILE)) as path:
            with open(path, "wb") as file:
                np.savez(file, **arrays)
        saved = {key: value for key, value in state.items()}
        saved.update(
            best_weights=None,
            count=len(values),
            best_count=len(best),
            fingerprint=self.fingerprint,
        )
        # The state file is written last: it names a complete variables file.
        write_text_atomic(
            os.path.join(self.folder, STATE_FILE), json.dumps(saved)
        )


def _select(outputs, name, what="student"):
    if not isinstance(outputs, dict) or name not in outputs:
        names = list(outputs) if isinstance(outputs, dict) else None
        raise ValueError(
            f"`output` must name one of the {what}'s outputs {names}. "
            f"Received: output={name!r}"
        )
    return outputs[name]


def _num_rows(values):
    sizes = {len(array) for array in keras.tree.flatten(values)}
    if len(sizes) != 1:
        raise ValueError(
            "`inputs` must be arrays with the same number of rows. "
            f"Received: row counts {sorted(sizes)}"
        )
    return sizes.pop()


def _fingerprint(size, output, loss, epochs, batch_size, seed, model):
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    text = json.dumps(
        [size, output, str(loss), epochs, batch_size, seed, str(shapes)]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
