"""The tools built on the core: the command line and what it serves.

``cli`` (the ``clrdsl`` command), ``explain`` (explanations and lints), ``plot`` and
``display`` (figures, terminal plots, notebooks), ``range_test`` and ``suggest`` (the LR
range test), ``config`` (schedules in config files), ``precommit`` (the pre-commit hook)
and ``progress``.
"""
