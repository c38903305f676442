"""Evaluation and code generation: the one definition of a schedule's value.

``emit`` writes the model as Python source for a backend's ``ops`` (executed in-process
by ``load``, written out by ``emit_module``); ``plateau`` is the report rule of plateau
clocks and their state; ``scalar`` the Python-float target; ``numerics`` the numeric
contract between backends; ``steps`` the steps a backend can count.
"""
