import os

import pytest
from hypothesis import Phase, settings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

# Hypothesis: derandomized and without a shrink phase in CI (the same examples every run,
# and a failure reports at once); locally it explores new examples and shrinks them.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
