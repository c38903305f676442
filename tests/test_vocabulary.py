"""One vocabulary of hyperparameter names: every backend takes the common names
(lr, learning_rate, momentum, beta1/b1/beta_1, beta2/b2/beta_2, weight_decay) and
writes them where its framework keeps them."""

from __future__ import annotations

import pytest

import clrdsl
from clrdsl.vocabulary import ALIASES, FRAMEWORKS, native

LR, MOM, WD = "cosine(0.1, 0.001, over=10)", "linear(0.95, 0.85, over=10)", "constant(0.01)"


def test_the_table_covers_every_alias_for_every_framework():
    for alias in ALIASES:
        for fw in FRAMEWORKS:
            assert isinstance(native(alias, fw), str)
    assert native("eps", "torch") == "eps"  # other names pass through


@pytest.mark.parametrize("names", [
    ("lr", "momentum", "weight_decay"),
    ("learning_rate", "b1", "weight_decay"),
    ("learning_rate", "beta_1", "weight_decay"),
    ("lr", "beta1", "weight_decay"),
])
def test_torch_takes_every_spelling(names):
    torch = pytest.importorskip("torch")
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1.0, weight_decay=0.0)
    sched = clrdsl.compile(dict(zip(names, (LR, MOM, WD))), backend="torch", optimizer=opt)
    for t in (0, 3, 10):
        sched.set_step(t)
        g = opt.param_groups[0]
        assert (g["lr"], g["betas"][0], g["weight_decay"]) == (clrdsl.compile(LR)(t), clrdsl.compile(MOM)(t),
                                                               clrdsl.compile(WD)(t))


def test_two_names_for_one_hyperparameter_is_an_error():
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=1.0)
    with pytest.raises(clrdsl.ClrdslError) as e:
        clrdsl.compile({"lr": LR, "learning_rate": LR}, backend="torch", optimizer=opt)
    assert e.value.code == "E632" and "`lr` and `learning_rate`" in e.value.message


def test_torch_relative_takes_the_common_names_too():
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.5, momentum=0.9)
    sched = clrdsl.compile({"learning_rate": "constant(0.5)", "momentum": "constant(0.9)"}, backend="torch",
                           optimizer=opt, relative=["learning_rate"])
    assert sched.get_last_lr() == [0.25] and opt.param_groups[0]["momentum"] == 0.9


def test_optax_gets_its_own_names():
    pytest.importorskip("clrdsl_jax")
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    d = clrdsl.compile({"lr": LR, "beta1": MOM, "weight_decay": WD}, backend="jax")
    assert set(d) == {"learning_rate", "b1", "weight_decay"}
    tx = optax.inject_hyperparams(optax.adamw)(**d)  # the real optax takes them as they are
    params = {"w": jnp.zeros(2)}
    state = tx.init(params)
    for _ in range(2):  # the hyperparameters of the second update: step 1
        _, state = tx.update({"w": jnp.ones(2)}, state, params)
    hp = state.hyperparams
    assert float(hp["learning_rate"]) == pytest.approx(clrdsl.compile(LR)(1), rel=1e-6)
    assert float(hp["b1"]) == pytest.approx(clrdsl.compile(MOM)(1), rel=1e-6)


def test_keras_keeps_the_keys_as_written():
    keras = pytest.importorskip("keras")
    d = clrdsl.compile({"learning_rate": LR, "lr": LR}, backend="keras")
    assert set(d) == {"learning_rate", "lr"}
    opt = keras.optimizers.SGD(learning_rate=d["learning_rate"])  # the real Keras optimizer
    assert float(opt.learning_rate) == pytest.approx(clrdsl.compile(LR)(0), rel=1e-6)
