"""The NB201 supernet: parameter split, equivalence to the benchmark network at one-hot α,
genotype derivation, and a few search steps with every rule."""

import math
import re

import pytest
import torch

from gradnas.darts import RULES, NB201Supernet, step
from gradnas.errors import GradnasError
from gradnas.spaces import NB201Arch, NB201Space, get_space
from gradnas.spaces.nb201 import OPS


def test_alpha_is_one_shared_parameter_apart_from_the_weights():
    model = NB201Supernet(C=2, N=2, num_classes=5, in_channels=1)
    (alpha,) = model.arch_parameters()
    assert alpha.shape == (6, 5)
    weights = model.weights()
    assert all(p is not alpha for p in weights)
    assert {id(p) for p in weights} | {id(alpha)} == {id(p) for p in model.parameters()}
    assert len(weights) + 1 == len(list(model.parameters()))
    # no running statistics anywhere: a forward pass changes no state
    assert list(model.buffers()) == []
    cell_bns = [
        m for name, m in model.named_modules() if ".ops." in name and isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert len(cell_bns) == 3 * 2 * 6 * 2 and all(not bn.affine for bn in cell_bns)


def test_one_hot_alpha_computes_the_benchmark_network():
    """With α one-hot (softmax of ±1000 is exactly 0/1 in float64) the supernet is the NB201
    network of that arch sharing its weights (that network's BN scale/shift are 1/0 at init)."""
    arch = NB201Arch((1, 3, 0, 2, 4, 3))
    torch.manual_seed(0)
    supernet = NB201Supernet(C=2, N=2, num_classes=4, in_channels=3).double()
    network = NB201Space().build(arch, num_classes=4, input_shape=(3, 8, 8), C=2, N=2).double()
    with torch.no_grad():
        supernet.alpha.fill_(-1000.0)
        supernet.alpha[range(6), list(arch.ops)] = 1000.0
        shared = dict(supernet.named_parameters())
        copied = 0
        for name, p in network.named_parameters():
            edge = re.fullmatch(r"cells\.(\d+)\.edges\.(\d+)\.(.+)", name)
            if edge:
                cell, e, rest = edge.groups()
                name = f"cells.{cell}.edges.{e}.ops.{arch.ops[int(e)]}.{rest}"
                if name not in shared:  # the benchmark op's affine BN: identity at init
                    continue
            p.copy_(shared[name])
            copied += 1
    unchosen = [
        name
        for name in shared
        if (m := re.search(r"edges\.(\d+)\.ops\.(\d+)\.", name))
        and int(m.group(2)) != arch.ops[int(m.group(1))]
    ]
    # per cell: a conv weight in each of 2 conv ops on 6 edges, less the 3 edges whose chosen op is a conv
    assert len(unchosen) == 3 * 2 * (12 - 3)
    assert copied + len(unchosen) == len(supernet.weights())
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(supernet(x), network(x), rtol=0, atol=1e-10)


def test_genotype_takes_the_argmax_per_edge_optionally_without_none():
    model = NB201Supernet(C=2, N=1)
    with torch.no_grad():
        model.alpha.copy_(
            torch.tensor(
                [
                    [0.9, 0.1, 0.2, 0.3, 0.4],  # none, then avg_pool_3x3
                    [0.0, 0.5, 0.1, 0.2, 0.3],  # skip_connect
                    [0.1, 0.2, 0.3, 0.8, 0.4],  # nor_conv_3x3
                    [2.0, 0.3, 1.0, 0.2, 0.1],  # none, then nor_conv_1x1
                    [0.0, 0.0, 0.0, 0.0, 0.1],  # avg_pool_3x3
                    [0.0, 0.0, 0.7, 0.0, 0.0],  # nor_conv_1x1
                ]
            )
        )
    assert model.genotype() == NB201Arch((0, 1, 3, 0, 4, 2))
    assert model.genotype(exclude_none=True) == NB201Arch((4, 1, 3, 2, 4, 2))
    assert NB201Space().format(model.genotype()) == (
        "|none~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    )


@pytest.mark.parametrize("rule", sorted(RULES))
def test_search_steps_move_alpha_and_derive_a_valid_arch(rule):
    torch.manual_seed(0)
    model = NB201Supernet(C=2, N=1, num_classes=10, in_channels=3)
    w_opt = torch.optim.SGD(model.weights(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    a_opt = torch.optim.Adam(model.arch_parameters(), lr=3e-3, betas=(0.5, 0.999), weight_decay=1e-3)
    alpha0 = model.alpha.detach().clone()
    for _ in range(2):
        train = (torch.randn(4, 3, 8, 8), torch.randint(10, (4,)))
        val = (torch.randn(4, 3, 8, 8), torch.randint(10, (4,)))
        loss = step(model, rule, train, val, w_opt, a_opt, grad_clip=5.0)
        assert math.isfinite(loss)
    assert torch.isfinite(model.alpha).all()
    # Adam's first steps move every entry by about its learning rate
    assert (model.alpha.detach() - alpha0).abs().min() > 1e-4
    space = get_space("nb201")
    for arch in (model.genotype(), model.genotype(exclude_none=True)):
        assert space.parse(space.format(arch)) == arch
    assert OPS[0] not in model.genotype(exclude_none=True).op_names


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"C": 0}, "C must be an int >= 1"), ({"num_classes": 1}, "num_classes")]
)
def test_bad_sizes_raise_gradnas_error(kwargs, message):
    with pytest.raises(GradnasError, match=message):
        NB201Supernet(**kwargs)
