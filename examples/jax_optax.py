"""A JAX/optax training loop whose hyperparameter schedules come from a config.

    python examples/jax_optax.py                           # examples/configs/jax.yaml
    python examples/jax_optax.py --config my.yaml --quick

Each schedule string becomes an optax schedule (`step -> jnp scalar`, jit-safe);
`optax.inject_hyperparams` feeds them to the optimizer by name, so any numeric
hyperparameter (`learning_rate`, `momentum`, `b1`, `weight_decay`, ...) can follow a
schedule. Needs `clrdsl[jax]` and PyYAML.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
import yaml

import clrdsl

HERE = Path(__file__).resolve().parent


def make_data(samples: int, features: int = 16, seed: int = 0):
    """A noisy linear regression problem (no download needed)."""
    kx, kw, kn = jax.random.split(jax.random.PRNGKey(seed), 3)
    x = jax.random.normal(kx, (samples, features))
    w = jax.random.normal(kw, (features, 1))
    return x, x @ w + 0.1 * jax.random.normal(kn, (samples, 1))


def init_params(features: int, hidden: int = 64, seed: int = 1):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return {"w1": jax.random.normal(k1, (features, hidden)) / jnp.sqrt(features), "b1": jnp.zeros(hidden),
            "w2": jax.random.normal(k2, (hidden, 1)) / jnp.sqrt(hidden), "b2": jnp.zeros(1)}


def loss_fn(params, x, y):
    h = jax.nn.relu(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] + params["b2"] - y) ** 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "jax.yaml")
    parser.add_argument("--quick", action="store_true", help="a few steps (for CI)")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"--config {args.config}: no such file (the default is {parser.get_default('config')})")

    cfg = yaml.safe_load(args.config.read_text())
    steps = 40 if args.quick else cfg["train"]["steps"]
    bs = cfg["train"]["batch_size"]
    x, y = make_data(bs * 16)

    # {"learning_rate": JaxSchedule, "momentum": JaxSchedule}
    schedules = clrdsl.compile(cfg["schedule"], backend="jax", total_steps=steps)
    opt = optax.inject_hyperparams(optax.sgd)(**schedules)
    params = init_params(x.shape[1])
    state = opt.init(params)

    @jax.jit
    def train_step(params, state, step):
        i = (step % 16) * bs
        xb, yb = jax.lax.dynamic_slice_in_dim(x, i, bs), jax.lax.dynamic_slice_in_dim(y, i, bs)
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    for step in range(steps):
        params, state, loss = train_step(params, state, step)
        if (step + 1) % max(steps // 6, 1) == 0:
            hp = state.hyperparams  # the values used by the update just made
            print(f"step {step + 1}/{steps}  loss {float(loss):.4f}  "
                  f"lr {float(hp['learning_rate']):.5f}  momentum {float(hp['momentum']):.3f}")
    last = state.hyperparams
    # the values the last update used: the schedules at step steps - 1
    print(f"done: updates={steps} at_step={steps - 1} lr={float(last['learning_rate'])!r} "
          f"momentum={float(last['momentum'])!r} total_steps={steps}")


if __name__ == "__main__":
    main()
