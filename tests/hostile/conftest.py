"""Hostile input: property-based tests (hypothesis) and API fuzzing (schemathesis).

The "ci" profile is loaded for every test here: derandomized, so a run on CI generates
the same examples as the run on a developer's machine, and without an example database,
so nothing is written beside the work tree. `HYPOTHESIS_PROFILE=explore` generates fresh
random examples instead (locally, to look for new failures).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("explore", parent=settings.get_profile("ci"), derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
