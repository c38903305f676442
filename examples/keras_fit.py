"""A Keras `model.fit` whose learning-rate schedule comes from a TOML config.

    python examples/keras_fit.py                           # examples/configs/keras.toml
    python examples/keras_fit.py --config my.toml --quick

The schedule string becomes a `keras.optimizers.schedules.LearningRateSchedule`; the
optimizer evaluates it at its own `iterations` counter on every batch, under any Keras
backend (set KERAS_BACKEND to tensorflow, jax or torch). Needs `clrdsl[keras]` and a
Keras backend.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import clrdsl  # noqa: E402

HERE = Path(__file__).resolve().parent


def make_data(samples: int, features: int = 16, seed: int = 0):
    """A noisy linear regression problem (no download needed)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, features)).astype("float32")
    w = rng.standard_normal((features, 1)).astype("float32")
    return x, x @ w + 0.1 * rng.standard_normal((samples, 1)).astype("float32")


class ShowRate(keras.callbacks.Callback):
    """Print the rate the optimizer will use next, after each epoch."""

    def on_epoch_end(self, epoch, logs=None):
        opt = self.model.optimizer
        print(f"epoch {epoch + 1}  loss {logs['loss']:.4f}  lr {float(opt.learning_rate):.5f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "keras.toml")
    parser.add_argument("--quick", action="store_true", help="one short epoch (for CI)")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file (the default is {parser.get_default('config')})")

    cfg = tomllib.loads(args.config.read_text())
    train = cfg["train"]
    epochs = 1 if args.quick else train["epochs"]
    spe = 8 if args.quick else train["steps_per_epoch"]
    bs = train["batch_size"]
    x, y = make_data(bs * spe)

    lr = clrdsl.compile(cfg["schedule"]["lr"], backend="keras", steps_per_epoch=spe,
                        total_steps=epochs * spe)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.9), loss="mse")
    model.fit(x, y, batch_size=bs, epochs=epochs, shuffle=True, verbose=0, callbacks=[ShowRate()])
    steps = int(model.optimizer.iterations)
    # what the next update would use: the schedule at the optimizer's step
    print(f"done: updates={steps} at_step={steps} lr={float(lr(steps))!r} steps_per_epoch={spe} "
          f"total_steps={epochs * spe}")


if __name__ == "__main__":
    main()
