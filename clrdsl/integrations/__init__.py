"""Glue between clrdsl and the places where training is configured.

- :mod:`clrdsl.integrations.omegaconf` — a ``${clrdsl:...}`` resolver that checks a
  schedule string when the config is resolved (bindings from the config itself).
- :mod:`clrdsl.integrations.hydra` — ``_target_`` factories that turn a schedule string
  in a config into a scheduler (``hydra.utils.instantiate``).
- :mod:`clrdsl.integrations.hf` — ``ClrdslTrainer`` / ``ClrdslTrainerMixin``: the HF
  Trainer's schedule as a string in ``TrainingArguments.lr_scheduler_kwargs``.
- :mod:`clrdsl.integrations.lightning` — ``LightningScheduler``, for LightningCLI's
  ``lr_scheduler`` ``class_path``: steps per optimizer update, binds ``%``/``ep`` from
  the Trainer.
- :mod:`clrdsl.integrations.timm` — ``TimmScheduler``: timm's scheduler protocol,
  with ``lr_scale``.

Nothing here is imported by ``import clrdsl``. Each module imports its framework only
when used, except :mod:`~clrdsl.integrations.lightning`, whose class is a torch
``LRScheduler`` and so imports torch (Lightning has loaded it anyway).
"""
