"""Each proxy's value, per (name, version), on one fixed tiny network and batch, in float64.

The version is part of every stored score's key: a change to a proxy's formula must come with a new
version, or stored scores would silently mix two formulas. This test fails on a formula change
whose version stayed the same; a new version needs its golden value added here.
"""

import warnings

import pytest
import torch
from torch import nn

from gradnas import probe_batch, score
from gradnas.proxies import PROXIES

GOLDEN = {
    ("naswot", "1"): 238.18152250063324,
    ("jacob_cov", "1"): -1375.005991793167,
    ("ntk_cond", "1"): -7671.025075385867,
    ("linear_regions", "1"): 50.0,
    ("zen", "1"): 1.8940353810911599,
    ("params", "1"): 366.0,
    ("flops", "1"): 11680.0,
    ("gradalign_1", "1"): 0.8746615007276523,
    ("gradalign_2", "1"): 7.323891024939686,
    ("gradalign_2_raw", "1"): 9.072307949257933,
    ("gradalign_1_all", "1"): 0.05767825432940247,
    ("gradalign_2_all", "1"): 89.77942759782283,
    ("gradalign_1_sign", "1"): 0.7989545843614151,
    ("gradalign_2_sign", "1"): 4.421237008366771,
    ("gradalign_1_sign_raw", "1"): 266.0983964002267,
    ("gradalign_2_sign_raw", "1"): -24.618350759518478,
    ("gradalign_2_diverse", "1"): -7.323891024939686,
    ("gradalign_2_sign_diverse", "1"): -4.421237008366771,
    ("gradsign", "1"): 7901.0,
    ("mgm", "1"): 0.04138654201161222,
    ("mgm_layerwise", "1"): 0.01379551400387074,
    ("knas", "1"): 0.0001370368998835878,
    ("gt_correlation", "1"): 0.05772509788074881,
    ("gt_value", "1"): 0.028657969546359102,
    ("gt_kernel", "1"): 0.006058083432283282,
    ("grad_norm", "1"): 0.3214750357779453,
    ("snip", "1"): 0.25228287028907326,
    ("synflow", "1"): 215.0725976955231,
    ("grasp", "1"): -0.044138055823470475,
    ("fisher", "1"): 8.704383446780485e-05,
    ("zico", "1"): 19.780500259938723,
    ("meco", "1"): 1.3396503795738866,
    ("meco_opt", "1"): 1.3396503795738866,
    ("swap", "1"): 458.0,
    ("vkdnw", "1"): 0.6529460732091441,
    ("vkdnw_dim", "1"): 8.0,
    ("epe_nas", "1"): 113.58507938448096,
    ("l2_norm", "1"): 4.07264518737793,
    ("plain", "1"): 0.039283728015955324,
    ("az_complexity", "1"): 11680.0,
}
# Read from a stem and cells, which the plain golden network has not: scored on `staged_network`.
GOLDEN_STAGED = {
    ("az_expressivity", "1"): 4.272522929996348,
    ("az_progressivity", "1"): -0.0021500815531618755,
    ("az_trainability", "1"): -0.31139358947241225,
}


def golden_network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


class Staged(nn.Module):
    """A stem, a cell and a strided cell: the stage outputs the AZ-NAS proxies compare."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.cells = nn.ModuleList(
            [
                nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)),
                nn.Sequential(nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8)),
            ]
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x):
        out = self.stem(x)
        for cell in self.cells:
            out = cell(out)
        return self.head(out)


def test_every_proxy_version_has_a_golden_value():
    got = sorted((name, info.version) for name, info in PROXIES.items())
    assert got == sorted({**GOLDEN, **GOLDEN_STAGED})


@pytest.mark.parametrize(("network", "golden"), [(golden_network, GOLDEN), (Staged, GOLDEN_STAGED)])
def test_every_proxy_gives_its_golden_value(network, golden):
    batch = probe_batch("digits", batch_size=50, seed=0)
    names = [name for name, _ in golden]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the engine choice does not change the values
        scores = score(network(), batch, names, dtype=torch.float64)
    got = {(name, PROXIES[name].version): s.value for name, s in scores.items()}
    assert got == pytest.approx(golden, rel=1e-9, abs=1e-12)
