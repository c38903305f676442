"""The Hugging Face ``Trainer`` with its schedule written as a clrdsl string.

Change one line — the Trainer class — and give the schedule in ``TrainingArguments``::

    from clrdsl.integrations.hf import ClrdslTrainer as Trainer

    args = TrainingArguments(..., lr_scheduler_kwargs={"clrdsl": "onecycle(3e-4, total=100%)"})

or on the command line of a script that parses its arguments with ``HfArgumentParser``::

    python train.py --lr_scheduler_kwargs '{"clrdsl": "linear(0, 3e-4, over=5%) >> cosine(3e-4, 0, over=95%)"}'

``%`` is bound to the Trainer's own ``num_training_steps`` (``max_steps``, or epochs ×
updates per epoch) and ``ep`` to its optimizer updates per epoch, so a string written
in those units follows the run's length. The value may be a mapping of hyperparameters
(``{"lr": ..., "momentum": ..., "weight_decay": ...}``) as ``clrdsl.compile`` takes it.
Another key, ``"relative": true``, makes the expressions factors of the optimizer's
initial values (``learning_rate``) instead of the values themselves.

The scheduler is the torch backend's ``ClrdslScheduler``: the Trainer steps it once per
optimizer update (so gradient accumulation counts updates), saves it in every
checkpoint, and ``resume_from_checkpoint`` continues at the saved update exactly.
Without a ``"clrdsl"`` key the Trainer builds its usual scheduler.

A Trainer subclass of your own (``SFTTrainer``, ...) takes the mixin instead::

    class MyTrainer(ClrdslTrainerMixin, SFTTrainer): ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clrdsl.api import compile as _compile
from clrdsl.diagnostics.errors import ClrdslTypeError, ClrdslValueError, suggestion_hint

KEY = "clrdsl"
_OPTIONS = (KEY, "relative")

__all__ = ["ClrdslTrainer", "ClrdslTrainerMixin", "KEY", "schedule_from_args"]


def schedule_from_args(lr_scheduler_kwargs: Any) -> tuple[Any, dict[str, Any]] | None:
    """The clrdsl specification in ``TrainingArguments.lr_scheduler_kwargs`` and the
    backend options beside it, or ``None`` when there is no ``"clrdsl"`` key."""
    kw = lr_scheduler_kwargs
    if not isinstance(kw, Mapping) or KEY not in kw:
        return None
    unknown = [k for k in kw if k not in _OPTIONS]
    if unknown:
        raise ClrdslTypeError(
            f"lr_scheduler_kwargs has `{unknown[0]}` beside `{KEY}`", code="E801",
            expected="the keys " + ", ".join(f"`{k}`" for k in _OPTIONS),
            found=", ".join(f"`{k}`" for k in unknown), hint=suggestion_hint(str(unknown[0]), _OPTIONS),
        )
    spec = kw[KEY]
    if not isinstance(spec, (str, Mapping)):
        raise ClrdslTypeError(
            f"lr_scheduler_kwargs[{KEY!r}] is a {type(spec).__name__}", code="E801",
            expected="a schedule string, or a mapping {hyperparameter: schedule string}",
            found=repr(spec)[:80],
        )
    return spec, {"relative": kw["relative"]} if "relative" in kw else {}


class ClrdslTrainerMixin:
    """Builds the Trainer's scheduler from ``lr_scheduler_kwargs["clrdsl"]``."""

    _clrdsl_steps_per_epoch: int | None = None

    def set_initial_training_values(self, args: Any, dataloader: Any, *rest: Any, **kw: Any):
        # The Trainer computes its updates per epoch here, just before it builds the
        # scheduler; keep the number for the `ep` unit.
        values = super().set_initial_training_values(args, dataloader, *rest, **kw)
        try:
            self._clrdsl_steps_per_epoch = int(values[1])
        except (TypeError, ValueError, IndexError):  # pragma: no cover - another transformers layout
            self._clrdsl_steps_per_epoch = None
        return values

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None):
        found = schedule_from_args(self.args.lr_scheduler_kwargs)
        if found is None or self.lr_scheduler is not None:
            return super().create_scheduler(num_training_steps, optimizer)
        spec, options = found
        warm = self.args.get_warmup_steps(num_training_steps)
        if warm:
            raise ClrdslValueError(
                "the schedule comes from lr_scheduler_kwargs['clrdsl'], but warmup is set too",
                code="E802", expected="warmup_steps=0 and warmup_ratio=0",
                found=f"{warm} warmup steps",
                hint="write the warmup in the schedule: `linear(0, 3e-4, over=5%) >> cosine(3e-4, 0, over=95%)`",
            )
        opt = optimizer if optimizer is not None else self.optimizer
        self.lr_scheduler = _compile(spec, backend="torch", optimizer=opt, total_steps=int(num_training_steps),
                                     steps_per_epoch=self._steps_per_epoch(), **options)
        self._created_lr_scheduler = True
        if self.lr_scheduler.plateau_counts:
            self._report_evaluations()
        return self.lr_scheduler

    def _report_evaluations(self) -> None:
        """A schedule with plateau clocks hears each evaluation's metric, the one HF's own
        ``reduce_lr_on_plateau`` steps with (``metric_for_best_model``, default the loss)."""
        from transformers import TrainerCallback

        if str(getattr(self.args.eval_strategy, "value", self.args.eval_strategy)) == "no":
            raise ClrdslValueError(
                "the schedule has a plateau clock, but the Trainer never evaluates: nothing would report to it",
                code="E803", expected="eval_strategy='epoch' (or 'steps') and an eval_dataset",
                found="eval_strategy='no'",
                hint="reduce-on-plateau follows a validation metric; or drop `on=plateau(...)`",
            )
        key = self.args.metric_for_best_model or "loss"
        key = key if key.startswith("eval_") else f"eval_{key}"
        trainer = self

        class _Report(TrainerCallback):
            def on_evaluate(self, args, state, control, metrics=None, **kw):
                if metrics is None or key not in metrics:
                    raise ClrdslValueError(
                        f"the plateau clock follows `{key}`, which this evaluation did not report",
                        code="E803", expected=f"`{key}` among the evaluation metrics",
                        found=", ".join(sorted(metrics or ())) or "no metrics",
                        hint="set metric_for_best_model to one of them",
                    )
                trainer.lr_scheduler.report(metrics[key])

        if not any(type(cb).__name__ == "_Report" for cb in self.callback_handler.callbacks):
            self.add_callback(_Report())

    def _steps_per_epoch(self) -> int | None:
        if self._clrdsl_steps_per_epoch:
            return self._clrdsl_steps_per_epoch
        try:  # create_scheduler called outside train(): ask the Trainer as train() would
            return int(self.set_initial_training_values(self.args, self.get_train_dataloader())[1])
        except Exception:  # no sized training data: `ep` then names its missing binding
            return None


def _trainer_class():
    from transformers import Trainer

    class ClrdslTrainer(ClrdslTrainerMixin, Trainer):
        """``transformers.Trainer`` whose scheduler may be a clrdsl string
        (``lr_scheduler_kwargs={"clrdsl": ...}``)."""

    ClrdslTrainer.__module__ = __name__
    return ClrdslTrainer


def __getattr__(name: str) -> Any:
    # transformers is imported on first use of the Trainer class, not with this module
    if name == "ClrdslTrainer":
        cls = _trainer_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
