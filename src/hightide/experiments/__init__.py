"""Experiments on the model: ensembles on Dask, scenario comparison, branching, calibration,
sensitivity analysis and the decomposition of the collapse by mechanism. Each builds on ordinary
runs (:func:`hightide.api.run`)."""

from hightide.experiments.ensembles import Ensemble, ensemble
from hightide.experiments.seeds import member_seed

__all__ = ["Ensemble", "ensemble", "member_seed"]
