"""hightide: an agent-based simulator of China's agricultural collectivisation, 1952-1966."""

__version__ = "0.1.0"

from hightide.api import Results, run  # noqa: E402
from hightide.experiments import ensemble  # noqa: E402

__all__ = ["Results", "run", "ensemble", "__version__"]
