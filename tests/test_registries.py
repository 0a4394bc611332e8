"""Every table of names a user chooses from is one Registry: the same one-line error for an unknown
name (listing the valid ones), and no name registered twice."""

import pytest

from gradnas.darts.architect import RULES
from gradnas.darts.data import SOURCES
from gradnas.data.sources import DATASETS
from gradnas.errors import GradnasError
from gradnas.evaluate.ensemble import NAMED
from gradnas.evaluate.ensemble import RULES as LOG_RANK_RULES
from gradnas.proxies import PROXIES, proxy
from gradnas.registry import Registry
from gradnas.search.runs import ALGORITHMS
from gradnas.spaces import register_space
from gradnas.spaces.base import _FACTORIES

REGISTRIES = {
    "proxy": PROXIES,
    "search space": _FACTORIES,
    "dataset": DATASETS,
    "search algorithm": ALGORITHMS,
    "architecture gradient rule": RULES,
    "differentiable search dataset": SOURCES,
    "named ensemble": NAMED,
    "log-rank rule": LOG_RANK_RULES,
}


@pytest.mark.parametrize("kind", REGISTRIES)
def test_an_unknown_name_is_one_line_listing_the_choices(kind):
    registry = REGISTRIES[kind]
    assert isinstance(registry, Registry) and registry.kind == kind
    with pytest.raises(GradnasError) as caught:
        registry.lookup("nope")
    assert str(caught.value) == f"unknown {kind} 'nope'; valid choices: {', '.join(sorted(registry))}"
    first = next(iter(registry))
    assert registry.lookup(first) is registry[first]


@pytest.mark.parametrize("kind", REGISTRIES)
def test_a_name_is_never_registered_twice(kind):
    registry = REGISTRIES[kind]
    first = next(iter(registry))
    before = registry[first]
    with pytest.raises(GradnasError, match=f"^{kind} '{first}' is already registered$"):
        registry.add(first, object())
    assert registry[first] is before


def test_the_public_ways_to_register_refuse_duplicates_too():
    with pytest.raises(GradnasError, match="^proxy 'gradsign' is already registered$"):

        @proxy("gradsign", ingredients=["sign_sum"])
        def again(probe):
            return 0.0

    with pytest.raises(GradnasError, match="^search space 'nb201' is already registered$"):
        register_space("nb201", lambda: None)
    with pytest.raises(GradnasError, match="^a search space name must be a non-empty string, got ''$"):
        register_space("", lambda: None)


def test_register_decorates():
    registry = Registry("thing")

    @registry.register("double")
    def double(x):
        return 2 * x

    assert registry.lookup("double")(3) == 6 and list(registry) == ["double"]
