"""Every space as categorical decisions (REINFORCE's policy, BOHB's model): encode and decode are
inverse, choices stay in range, and choices that spell no valid NB101 cell decode to None."""

from dataclasses import replace

import numpy as np
import pytest

from gradnas.errors import GradnasError
from gradnas.spaces import Categorical, get_space
from gradnas.spaces.base import space_names
from gradnas.spaces.nds import NDSSpace


@pytest.mark.parametrize("name", space_names())
def test_decode_inverts_encode_on_samples_and_mutants(name):
    space = get_space(name)
    assert isinstance(space, Categorical)
    rng = np.random.default_rng(5)
    archs = space.sample_many(min(30, space.size or 30), rng)
    archs += [space.mutate(a, rng) for a in archs]
    for arch in archs:
        choices = space.encode(arch)
        assert len(choices) == len(space.decisions)
        assert all(0 <= c < k for c, k in zip(choices, space.decisions))
        assert space.decode(choices) == arch


def test_nb101_choices_by_hand():
    space = get_space("nb101")
    assert space.decisions == (2,) * 21 + (3,) * 5
    pairs = [(i, j) for i in range(7) for j in range(i + 1, 7)]
    bits = [int(p in {(0, 1), (1, 6), (0, 6)}) for p in pairs]
    arch = space.decode([*bits, 1, 2, 2, 0, 0])  # vertices 2..5 have no edges: pruned
    assert space.format(arch) == "ops=conv1x1;edges=0-1,0-2,1-2"
    assert space.encode(arch) == (*bits, 1, 0, 0, 0, 0)
    assert space.decode([0] * 21 + [0] * 5) is None  # no input-to-output path
    assert space.decode([1] * 21 + [0] * 5) is None  # 21 edges, at most 9


def test_nds_choices_by_hand():
    space = get_space("nds_enas")  # 5 ops, 5 nodes, outputs the loose ends
    choices = [0, 0, 1, 1, 0, 2, 0, 0, 3, 3, 4, 1, 0, 4, 2, 0, 1, 5, 1, 0] * 2 + [2, 0]
    arch = space.decode(choices)
    assert str(arch).startswith(
        "normal=skip_connect~0+sep_conv_3x3~1,skip_connect~0+skip_connect~2,max_pool_3x3~1+avg_pool_3x3~3,"
        "sep_conv_5x5~0+skip_connect~4,sep_conv_3x3~0+sep_conv_3x3~5;normal_concat=6;"
    )
    assert (arch.width, arch.depth) == (32, 4)
    assert space.decode(space.encode(arch)) == arch


def test_nds_refuses_to_encode_what_its_family_never_draws():
    wide = get_space("nds_darts").sample(np.random.default_rng(0))
    narrow = NDSSpace("darts", widths=(16,), depths=(4,))
    expected = r"nds_darts draws ops .* widths \[16\] and depths \[4\]; it cannot encode"
    with pytest.raises(GradnasError, match=expected):
        narrow.encode(replace(wide, width=32, depth=4))
    with pytest.raises(GradnasError, match="cannot encode"):
        get_space("nds_darts").encode(replace(wide, normal=(("none", 0),) + wide.normal[1:]))
