"""Search spaces: the `SearchSpace` interface, the name registry, and NAS-Bench-201."""

from gradnas.spaces.base import Categorical, SearchSpace, get_space, register_space, space_names
from gradnas.spaces.nb201 import OPS as NB201_OPS
from gradnas.spaces.nb201 import NB201Arch, NB201Network, NB201Space

__all__ = [
    "NB201_OPS",
    "NB201Arch",
    "NB201Network",
    "NB201Space",
    "Categorical",
    "SearchSpace",
    "get_space",
    "register_space",
    "space_names",
]
