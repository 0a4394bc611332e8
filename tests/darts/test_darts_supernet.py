"""The DARTS-space supernet: cell wiring, shapes, top-2 derivation, and one step with every rule."""

import math

import pytest
import torch

from gradnas.darts import DARTS_OPS, RULES, DartsGenotype, DartsSupernet, step
from gradnas.darts.darts_supernet import DARTS_EDGES, make_darts_op
from gradnas.errors import GradnasError
from gradnas.spaces.darts_ops import FactorizedReduce


def test_wiring_and_shapes():
    assert [sum(to == node for to, _ in DARTS_EDGES) for node in (2, 3, 4, 5)] == [2, 3, 4, 5]
    assert [i for i, cell in enumerate(DartsSupernet(C=2, layers=8).cells) if cell.reduction] == [2, 5]
    torch.manual_seed(0)
    model = DartsSupernet(C=2, layers=3, num_classes=7, in_channels=1)
    assert [cell.reduction for cell in model.cells] == [False, True, True]
    assert [p.shape for p in model.arch_parameters()] == [(14, 8), (14, 8)]
    assert {id(p) for p in model.weights()} | {id(p) for p in model.arch_parameters()} == {
        id(p) for p in model.parameters()
    }
    assert len(model.weights()) + 2 == len(list(model.parameters())) and list(model.buffers()) == []
    sizes = []
    for cell in model.cells:
        cell.register_forward_hook(lambda _m, _i, out: sizes.append(tuple(out.shape[1:])))
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 7)
    # 4 nodes of C, 2C, 4C channels concatenated; resolution halved by each reduction cell
    assert sizes == [(8, 8, 8), (16, 4, 4), (32, 2, 2)]


def test_factorized_reduce_matches_darts_on_even_sizes_and_handles_odd_ones():
    torch.manual_seed(0)
    reduce = FactorizedReduce(3, 4)
    x = torch.randn(2, 3, 8, 8)
    r = x.relu()
    expected = reduce.bn(torch.cat([reduce.conv_a(r), reduce.conv_b(r[:, :, 1:, 1:])], dim=1))
    torch.testing.assert_close(reduce(x), expected, rtol=0, atol=0)
    assert reduce(torch.randn(2, 3, 7, 7)).shape == (2, 4, 4, 4)
    with pytest.raises(GradnasError, match="unknown DARTS op 'conv_7x7'"):
        make_darts_op("conv_7x7", 4, 1)


def hand_alpha(first_op: int) -> torch.Tensor:
    alpha = torch.zeros(14, 8)
    alpha[0, first_op] = 2.0  # node 2 keeps both of its edges
    alpha[1, 0], alpha[1, 3] = 5.0, 1.0  # none strongest: skip_connect is derived
    # node 3: `none` = 5 squeezes edge 2's max_pool to p ≈ 0.017, below edge 4's avg_pool p ≈ 0.19
    alpha[2, 0], alpha[2, 1] = 5.0, 1.0
    alpha[3, 6] = 1.0  # dil_conv_3x3, p ≈ 0.28
    alpha[4, 2] = 0.5
    # node 4: sep_conv_5x5 p ≈ 0.74 and max_pool p ≈ 0.51 beat skip p ≈ 0.136 and uniform 0.125
    alpha[5, 5], alpha[7, 1], alpha[8, 3] = 3.0, 2.0, 0.1
    # node 5: dil_conv_5x5 from 4 (p ≈ 0.88) and skip_connect from 1 (p ≈ 0.74)
    alpha[13, 7], alpha[10, 3] = 4.0, 3.0
    return alpha


def test_genotype_keeps_the_two_strongest_non_none_edges_per_node():
    model = DartsSupernet(C=2, layers=3)
    with torch.no_grad():
        model.alpha_normal.copy_(hand_alpha(DARTS_OPS.index("sep_conv_3x3")))
        model.alpha_reduce.copy_(hand_alpha(DARTS_OPS.index("max_pool_3x3")))
    rest = (
        ("skip_connect", 1),
        ("dil_conv_3x3", 1),
        ("avg_pool_3x3", 2),
        ("sep_conv_5x5", 0),
        ("max_pool_3x3", 2),
        ("skip_connect", 1),
        ("dil_conv_5x5", 4),
    )
    assert model.genotype() == DartsGenotype(
        normal=(("sep_conv_3x3", 0), *rest), reduce=(("max_pool_3x3", 0), *rest)
    )


@pytest.mark.parametrize("rule", sorted(RULES))
def test_one_search_step_moves_both_alphas(rule):
    torch.manual_seed(1)
    model = DartsSupernet(C=2, layers=3, num_classes=10, in_channels=3)
    w_opt = torch.optim.SGD(model.weights(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    a_opt = torch.optim.Adam(model.arch_parameters(), lr=3e-3, betas=(0.5, 0.999))
    before = [a.detach().clone() for a in model.arch_parameters()]
    train = (torch.randn(4, 3, 8, 8), torch.randint(10, (4,)))
    val = (torch.randn(4, 3, 8, 8), torch.randint(10, (4,)))
    assert math.isfinite(step(model, rule, train, val, w_opt, a_opt, grad_clip=5.0))
    for a, b in zip(model.arch_parameters(), before, strict=True):
        # Adam's first step moves every entry by about its learning rate
        assert (a.detach() - b).abs().min() > 1e-4
    genotype = model.genotype()
    for cell in (genotype.normal, genotype.reduce):
        assert len(cell) == 8
        for k, (op, frm) in enumerate(cell):
            assert op != "none" and 0 <= frm < 2 + k // 2
