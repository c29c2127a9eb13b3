"""The reference profile: fitted once on training data, compared with each window, saved beside the model.

>>> from driftloop.profile import ReferenceProfile
>>> ReferenceProfile(n_bins=20)
ReferenceProfile(n_bins=20)
"""

from driftloop.profile.columns import CategoricalColumn, NumericColumn
from driftloop.profile.reference import RESULT_COLUMNS, ReferenceProfile
from driftloop.profile.statistics import CATEGORICAL_STATISTICS, NUMERIC_STATISTICS
from driftloop.profile.storage import FORMAT_VERSION

__all__ = [
    "CATEGORICAL_STATISTICS",
    "FORMAT_VERSION",
    "NUMERIC_STATISTICS",
    "RESULT_COLUMNS",
    "CategoricalColumn",
    "NumericColumn",
    "ReferenceProfile",
]
