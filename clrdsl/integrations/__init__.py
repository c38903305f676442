"""Glue between clrdsl and configuration systems.

- :mod:`clrdsl.integrations.omegaconf` — a ``${clrdsl:...}`` resolver that checks a
  schedule string when the config is resolved.
- :mod:`clrdsl.integrations.hydra` — ``_target_`` factories that turn a schedule string
  in a config into a scheduler (``hydra.utils.instantiate``).

Nothing here is imported by ``import clrdsl``; each module imports its framework only
when used.
"""
