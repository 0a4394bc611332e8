"""`run_darts`'s search options on tiny digits runs: warm-up, η diagnostics and the η ratio,
augmentation, β-DARTS's decay weight, and the DARTS space end to end through the CLI."""

import json

import pytest
import torch
from test_run import TINY, without_seconds

from gradnas.cli import main
from gradnas.darts import DARTS_OPS, DartsSupernet, NB201Supernet
from gradnas.darts.data import augment
from gradnas.darts.run import DartsConfig, EtaDiagnostics, beta_weight, run_darts
from gradnas.spaces import get_space


def initial_alpha():
    torch.manual_seed(0)
    return NB201Supernet(2, 1, num_classes=10, in_channels=1).alpha.detach().tolist()


def test_warmup_epochs_train_the_weights_only(tmp_path):
    log = run_darts(DartsConfig(rule="amended", **{**TINY, "epochs": 3}, warmup_epochs=2), tmp_path)
    assert [entry["warmup"] for entry in log] == [True, True, False]
    assert log[0]["alpha"] == log[1]["alpha"] == initial_alpha()  # α frozen, bit for bit
    assert log[2]["alpha"] != initial_alpha()
    assert log[0]["train_loss"] != log[1]["train_loss"]  # while the weights learn
    assert all(log[i][key] is None for i in (0, 1) for key in EtaDiagnostics.KEYS)
    assert log[2]["eta"] == 0.1 and log[2]["g2_g1_ratio"] > 0


def test_eta_diagnostics_average_the_steps_by_hand():
    diagnostics = EtaDiagnostics()
    assert diagnostics.means() == dict.fromkeys(EtaDiagnostics.KEYS)
    # ‖(3, 4)‖ = 5, ‖(0, 10)‖ = 10: ratio 2, cos 40/50 = 0.8; then ratio 1, cos 0
    diagnostics([torch.tensor([3.0, 4.0])], [torch.tensor([0.0, 10.0])], 0.2)
    diagnostics([torch.tensor([1.0, 0.0])], [torch.tensor([0.0, 1.0])], 0.4)
    means = diagnostics.means()
    assert means == pytest.approx(
        {"g1_norm": 3.0, "g2_norm": 5.5, "g2_g1_ratio": 1.5, "g1_g2_cos": 0.4, "eta": 0.3}, abs=1e-15
    )


@pytest.mark.parametrize("rule", ["amended", "amended_fd"])
def test_eta_ratio_realises_the_ratio_at_every_step(tmp_path, rule):
    log = run_darts(DartsConfig(rule=rule, eta_ratio=3.0, **TINY), tmp_path)
    for entry in log:
        assert entry["g2_g1_ratio"] == pytest.approx(3.0, rel=1e-5)  # float32 norms
        assert entry["eta"] > 0 and entry["eta"] != 0.1


def test_first_order_logs_no_eta_diagnostics(tmp_path):
    log = run_darts(DartsConfig(rule="first", **{**TINY, "epochs": 1}), tmp_path)
    assert all(log[0][key] is None for key in EtaDiagnostics.KEYS)


def test_augment_crops_then_flips_a_hand_made_image():
    image = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # padding max(1, 2 // 8) = 1
    # offsets (top, left) in the 4×4 zero-padded image; (1, 1) is the image itself
    crops = {
        (0, 0): [[0, 0], [0, 1]],
        (1, 1): [[1, 2], [3, 4]],
        (2, 2): [[4, 0], [0, 0]],
        (0, 2): [[0, 0], [2, 0]],
    }
    seen = set()
    for seed in range(60):
        g = torch.Generator().manual_seed(seed)
        top, left = torch.randint(0, 3, (1, 2), generator=g)[0].tolist()
        flip = bool(torch.rand(1, generator=g)[0] < 0.5)
        if (top, left) in crops:
            rows = crops[(top, left)]
            expected = [row[::-1] for row in rows] if flip else rows
            assert augment(image, torch.Generator().manual_seed(seed))[0, 0].tolist() == expected
            seen.add((top, left, flip))
    assert len(seen) == 8  # every hand-checked crop came up, flipped and not
    assert augment(torch.zeros(1, 3, 32, 32), g).shape == (1, 3, 32, 32)


def test_augmented_runs_are_bit_identical_for_a_seed_and_differ_from_plain_ones(tmp_path):
    config = DartsConfig(rule="first", augment=True, **TINY)
    first, again = run_darts(config, tmp_path / "a"), run_darts(config, tmp_path / "b")
    assert without_seconds(first) == without_seconds(again)
    written = [[json.loads(line) for line in (tmp_path / d / "log.jsonl").open()] for d in "ab"]
    assert without_seconds(written[0]) == without_seconds(written[1])
    plain = run_darts(DartsConfig(rule="first", **TINY), tmp_path / "plain")
    assert plain[-1]["alpha"] != first[-1]["alpha"] and plain[0]["train_loss"] != first[0]["train_loss"]


def test_beta_weight_grows_linearly_from_zero():
    config = DartsConfig(rule="first", beta_decay=50.0, **{**TINY, "epochs": 10})
    assert [beta_weight(config, e) for e in (1, 2, 10)] == [0.0, 5.0, 45.0]


def test_beta_decay_pulls_alpha_down_in_a_run(tmp_path):
    """The regulariser's gradient is softmax(α)/edges ≥ 0, so with a huge λ α falls on every entry
    once λ > 0 (epoch 2 on), however the data pulls."""
    plain = run_darts(DartsConfig(rule="first", **{**TINY, "epochs": 2}), tmp_path / "plain")
    beta = run_darts(DartsConfig(rule="first", beta_decay=1e4, **{**TINY, "epochs": 2}), tmp_path / "beta")
    assert beta[0]["alpha"] == plain[0]["alpha"]  # λ = 0 in the first epoch
    before, after = torch.tensor(beta[0]["alpha"]), torch.tensor(beta[1]["alpha"])
    assert bool((after < before).all())


def test_darts_space_genotype_in_nb301_text_from_hand_set_alpha():
    model = DartsSupernet(C=2, layers=5)
    alpha = torch.zeros(14, 8)
    # node 2: edges 0, 1; node 3: edges 2-4; node 4: 5-8; node 5: 9-13
    alpha[0, DARTS_OPS.index("sep_conv_3x3")] = 2.0
    alpha[1, 0], alpha[1, DARTS_OPS.index("skip_connect")] = 9.0, 1.0  # `none` is never derived
    alpha[3, DARTS_OPS.index("dil_conv_3x3")], alpha[4, DARTS_OPS.index("max_pool_3x3")] = 2.0, 1.0
    alpha[5, DARTS_OPS.index("sep_conv_5x5")], alpha[8, DARTS_OPS.index("avg_pool_3x3")] = 3.0, 2.0
    alpha[13, DARTS_OPS.index("dil_conv_5x5")], alpha[10, DARTS_OPS.index("skip_connect")] = 4.0, 3.0
    with torch.no_grad():
        model.alpha_normal.copy_(alpha)
        model.alpha_reduce.copy_(alpha)
    cell = (
        "sep_conv_3x3~0+skip_connect~1,dil_conv_3x3~1+max_pool_3x3~2,sep_conv_5x5~0+avg_pool_3x3~3,"
        "skip_connect~1+dil_conv_5x5~4"
    )
    text = f"normal={cell};normal_concat=2,3,4,5;reduce={cell};reduce_concat=2,3,4,5;width=32;depth=8"
    assert str(model.genotype().nb301()) == text
    assert str(get_space("nb301").parse(text)) == text


def test_cli_darts_space_runs_end_to_end_and_prints_a_trainable_genotype(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["darts", "--space", "darts", "--dataset", "digits", "--size", "8", "--samples", "20",
            "--batch-size", "10", "--C", "2", "--N", "1", "--epochs", "2", "--warmup-epochs", "1",
            "--rule", "first", "--beta-decay", "1", "--augment", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    log = [json.loads(line) for line in (out / "log.jsonl").open()]
    assert [e["warmup"] for e in log] == [True, False] and len(log[-1]["alpha"]) == 28
    assert log[-1]["accuracy"] is None and log[-1]["accuracy_source"].startswith("no table")
    arch = get_space("nb301").parse(log[-1]["arch"])
    assert str(arch) == log[-1]["arch"] and (arch.width, arch.depth) == (32, 8)
    assert f"gradnas train --space nb301 --arch '{arch}'" in printed
    assert "no table" in printed


CLI_BASE = ["darts", "--dataset", "digits", "--size", "8", "--samples", "20", "--batch-size", "10",
            "--C", "2", "--epochs", "2"]  # fmt: skip


def test_cli_eta_and_eta_ratio_are_mutually_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([*CLI_BASE, "--eta", "0.2", "--eta-ratio", "1", "--out", str(tmp_path / "out")])
    assert info.value.code == 2 and "not allowed with argument --eta" in capsys.readouterr().err


def test_cli_refuses_a_warmup_as_long_as_the_search(tmp_path, capsys):
    assert main([*CLI_BASE, "--warmup-epochs", "2", "--out", str(tmp_path / "out")]) == 2
    assert "warmup_epochs (2) must be fewer than epochs (2)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_resumed_augmented_run_with_warmup_equals_an_uninterrupted_one(tmp_path):
    config = DartsConfig(
        rule="amended", eta_ratio=1.0, augment=True, warmup_epochs=1, **{**TINY, "epochs": 3}
    )
    straight = run_darts(config, tmp_path / "straight")

    class Stop(Exception):
        pass

    def stop_after_two(entry):
        if entry["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        run_darts(config, tmp_path / "resumed", progress=stop_after_two)
    assert without_seconds(run_darts(config, tmp_path / "resumed")) == without_seconds(straight)


def test_cli_prints_the_warmup_and_the_eta_diagnostics(tmp_path, capsys):
    args = [
        *CLI_BASE,
        "--rule",
        "amended",
        "--eta-ratio",
        "2",
        "--warmup-epochs",
        "1",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    rows = capsys.readouterr().out.splitlines()[1:3]
    assert rows[0].endswith("(warm-up: α frozen)") and "|g2'|/|g1|" not in rows[0]
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").open()]
    assert f"(|g2'|/|g1| 2, cos {log[1]['g1_g2_cos']:.2f}, η {log[1]['eta']:.3g})" in rows[1]
