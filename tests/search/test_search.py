"""Searches on a simulated clock: accounting, determinism, operators, and finding known optima."""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from gradnas.cli import main
from gradnas.errors import GradnasError
from gradnas.run.tasks import ProbeSpec
from gradnas.search import (
    Clock,
    Exhausted,
    Objective,
    SearchConfig,
    StoredScores,
    lookup,
    parse_cost,
    run_campaign,
    search_once,
)
from gradnas.spaces import get_space


class TinySpace:
    """3 decisions × 3 options (27 archs) with the operators the searches use."""

    decisions = (3, 3, 3)
    size = 27

    def sample(self, rng):
        return tuple(int(v) for v in rng.integers(3, size=3))

    def mutate(self, arch, rng):
        d = int(rng.integers(3))
        out = list(arch)
        out[d] = (out[d] + 1 + int(rng.integers(2))) % 3
        return tuple(out)

    def format(self, arch):
        return "".join(map(str, arch))

    def parse(self, text):
        return tuple(int(c) for c in text)

    def encode(self, arch):
        return arch

    def decode(self, choices):
        return tuple(int(c) for c in choices)


TARGET = "210"


def tiny_accuracy(arch: str) -> float:
    """A smooth landscape with one known optimum: 10 points per decision matching TARGET."""
    return 50.0 + 10.0 * sum(a == b for a, b in zip(arch, TARGET))


def run(algo, *, evals=60, assist_scores=None, pool=10, charge=False, budget=None, **options):
    config = SearchConfig(
        algo,
        budget=budget,
        max_evals=evals,
        cost="fixed:10",
        runs=1,
        options=options,
        assist="fake" if assist_scores else None,
        pool=pool,
        charge_proxy=charge,
    )
    return search_once(TinySpace(), config, lookup(tiny_accuracy, lambda a: 10.0), assist_scores, run=0)


def hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b))


def test_clock_refuses_a_charge_that_would_overflow_and_spends_nothing():
    clock = Clock(seconds=2000)
    clock.charge(700, evaluation=True)
    clock.charge(700, evaluation=True)
    with pytest.raises(Exhausted):
        clock.charge(700, evaluation=True)
    assert (clock.seconds, clock.evaluations) == (1400, 2)
    counted = Clock(evaluations=3)
    for _ in range(3):
        counted.charge(1e9, evaluation=True)
    counted.charge(5, evaluation=False)  # overhead is not an evaluation
    with pytest.raises(Exhausted):
        counted.charge(0, evaluation=True)


@pytest.mark.parametrize("algo", ["rs", "rea", "reinforce", "hb", "bohb"])
def test_no_search_exceeds_its_time_budget(algo):
    config = SearchConfig(algo, budget=12000, cost="knas", runs=1)
    space = get_space("nb201")
    observe = lookup(lambda a: 50.0, parse_cost("knas", "cifar10"))
    history, _ = search_once(space, config, observe, None, run=3)
    spent = sum(2160 * r.fidelity for r in history)
    assert history and spent <= 12000 and history[-1].clock == pytest.approx(spent)
    if algo in ("rs", "rea", "reinforce"):
        assert len(history) == 5  # 5 × 2,160 s fit in 12,000 s, a sixth would not


def test_cost_presets_and_their_errors():
    assert parse_cost("knas", "cifar100")("any") == 4600
    assert parse_cost("fixed:300", "cifar10")("any") == 300
    for bad in ["fixed:abc", "fixed:-1", "slow"]:
        with pytest.raises(GradnasError):
            parse_cost(bad, "cifar10")
    with pytest.raises(GradnasError, match="cost 'knas' has costs for cifar10"):
        parse_cost("knas", "mnist")

    class NoCosts:
        name = "table"

        def cost(self, arch, dataset):
            return None

    with pytest.raises(GradnasError, match="no training cost"):
        parse_cost("benchmark", "cifar10", NoCosts())("arch")


def test_rea_children_differ_from_a_population_member_on_exactly_one_edge():
    space = get_space("nb201")
    config = SearchConfig("rea", budget=None, max_evals=200, cost="fixed:1", runs=1)
    accuracy = {a: float(i % 97) for i, a in enumerate(space.format(x) for x in space.archs())}
    history, _ = search_once(space, config, lookup(accuracy.__getitem__, lambda a: 1.0), None, run=0)
    archs = [space.parse(r.arch).ops for r in history]
    for i in range(10, len(archs)):
        population = archs[i - 10 : i]  # age-based removal: the last 10 evaluated
        assert 1 in {hamming(archs[i], p) for p in population}  # its parent is one of them


@pytest.mark.parametrize("algo", ["rs", "rea", "reinforce", "hb", "bohb"])
def test_histories_are_deterministic_for_a_seed(algo):
    first, _ = run(algo)
    again, _ = run(algo)
    assert first == again
    config = SearchConfig(algo, budget=None, max_evals=60, cost="fixed:10", runs=1, seed=1)
    other, _ = search_once(TinySpace(), config, lookup(tiny_accuracy, lambda a: 10.0), None, run=0)
    assert [r.arch for r in other] != [r.arch for r in first]


@pytest.mark.parametrize("algo", ["rs", "rea", "reinforce", "hb", "bohb"])
def test_every_algorithm_finds_the_known_optimum(algo):
    history, _ = run(algo, evals=300)
    assert Objective.pick_from(history).arch == TARGET


def fake_scores(archs):
    """A proxy that knows the landscape, and costs 2 s per arch."""
    return np.array([tiny_accuracy(a) for a in archs]), 2.0 * len(archs)


@pytest.mark.parametrize("algo", ["rs", "rea", "reinforce", "hb"])
def test_g_variants_screen_exactly_one_pool_per_new_architecture(algo):
    history, pools = run(algo, evals=40, assist_scores=fake_scores, pool=7)
    assert pools and set(pools) == {7}
    if algo == "hb":  # a bracket screens all its archs up front; survivors are not re-screened
        # 40 evaluations are exactly the first bracket (27 + 9 + 3 + 1); the next screens its 12
        assert len(history) == 40 and len(pools) == 27 + 12
        assert all(r.score == tiny_accuracy(r.arch) for r in history[:27])  # each won its pool
        return
    # one pool per screened evaluation, plus the last one, whose winner found no budget left;
    # G-REA's initial population of 10 is random, as in GradSign's Algorithm 1
    screened = history[10:] if algo == "rea" else history
    assert len(pools) == len(screened) + 1
    assert all(r.score == tiny_accuracy(r.arch) for r in screened)  # each won its pool
    assert all(r.score is None for r in history[: len(history) - len(screened)])


def test_proxy_time_is_charged_only_when_asked():
    free, _ = run("rs", evals=None, budget=100, assist_scores=fake_scores, pool=5)
    charged, _ = run("rs", evals=None, budget=100, assist_scores=fake_scores, pool=5, charge=True)
    assert len(free) == 10  # 10 s per evaluation
    assert len(charged) == 5  # plus 5 × 2 s of scoring before each
    assert charged[-1].clock == pytest.approx(100)


def test_knas_and_selection_score_one_batch_of_candidates():
    history, pools = run("knas", evals=None, budget=1e6, assist_scores=fake_scores, m=20, k=4)
    assert pools == [20] and len(history) == 4
    assert [r.score for r in history] == sorted((r.score for r in history), reverse=True)
    history, pools = run("select", evals=None, budget=1e6, assist_scores=fake_scores, n=15)
    assert pools == [15] and len(history) == 1 and not history[0].evaluated and history[0].clock == 0


def test_hyperband_brackets_halve_by_eta():
    history, _ = run("hb", evals=13, min_fidelity=1 / 9, eta=3)
    fidelities = [round(r.fidelity, 6) for r in history[:13]]
    assert fidelities == [round(1 / 9, 6)] * 9 + [round(1 / 3, 6)] * 3 + [1.0]
    # the survivors of each rung are the best observed in it
    assert history[12].accuracy == max(r.accuracy for r in history[:9])


def test_assisted_algorithms_need_a_proxy_and_names_are_checked():
    with pytest.raises(GradnasError, match="algorithm 'knas' ranks candidates by a proxy: name one as assi"):
        SearchConfig("knas")
    with pytest.raises(GradnasError, match="search algorithm"):
        SearchConfig("annealing")
    with pytest.raises(GradnasError, match="budget"):
        Clock()


def first_decision_only(archs):
    """A weak proxy: it sees whether the first decision matches TARGET, nothing else; free."""
    return np.array([10.0 * (a[0] == TARGET[0]) for a in archs]), 0.0


def test_predictor_guided_search_finds_the_optimum_never_repeats_and_is_deterministic():
    history, pools = run("predictor", evals=15, assist_scores=first_decision_only, pool=8)
    assert Objective.pick_from(history).arch == TARGET
    assert len({r.arch for r in history}) == len(history) == 15  # never evaluates an arch twice
    assert len(pools) == 16 and set(pools) <= set(range(1, 9))  # the 16th pick found no budget left
    assert all(r.score == 10.0 for r in history[:5])  # warm start: the proxy's pick of each pool
    assert run("predictor", evals=15, assist_scores=first_decision_only, pool=8) == (history, pools)
    whole, _ = run("predictor", evals=40, assist_scores=first_decision_only, pool=8)
    assert sorted(r.arch for r in whole) == sorted(f"{a}{b}{c}" for a in "012" for b in "012" for c in "012")
    with pytest.raises(GradnasError, match="algorithm 'predictor' ranks candidates by a proxy"):
        SearchConfig("predictor")


def test_campaign_resumes_and_drops_a_torn_last_line(tmp_path):
    config = SearchConfig("rea", budget=None, max_evals=30, cost="fixed:10", runs=4)
    first = run_campaign(TinySpace(), config, lookup(tiny_accuracy, lambda a: 10.0), None, tmp_path)
    lines = (tmp_path / "histories.jsonl").read_text().splitlines()
    (tmp_path / "histories.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:50])  # killed
    again = run_campaign(TinySpace(), config, lookup(tiny_accuracy, lambda a: 10.0), None, tmp_path)
    assert again == first
    on_disk = [json.loads(x) for x in (tmp_path / "histories.jsonl").read_text().splitlines()]
    assert [r["run"] for r in on_disk] == [0, 1, 2, 3]  # the torn line is gone, the rerun kept
    assert on_disk == first
    changed = SearchConfig("rea", budget=None, max_evals=31, cost="fixed:10", runs=4)
    with pytest.raises(GradnasError, match=r"another configuration \(max_evals 30 there, 31 now\)"):
        run_campaign(TinySpace(), changed, lookup(tiny_accuracy, lambda a: 10.0), None, tmp_path)


def test_cli_search_writes_a_summary_and_reports_bad_input(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["search", "--algo", "rs,rea", "--runs", "2", "--budget", "12000", "--out", str(out)]) == 0
    summary = (out / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("search,dataset,runs,mean,std") and len(summary) == 3
    assert (out / "curves-cifar10_12000_s_knas.png").stat().st_size > 0  # one plot per budget protocol
    rows = [
        json.loads(x) for x in next(out.glob("*REA*")).joinpath("histories.jsonl").read_text().splitlines()
    ]
    assert [len(r["history"]) for r in rows] == [5, 5] and not math.isnan(rows[0]["pick"]["accuracy"])
    assert main(["search", "--algo", "annealing", "--out", str(out)]) == 2
    assert main(["search", "--algo", "rs,rea", "--assist", "gradsine", "--out", str(tmp_path / "g")]) == 2
    assert not (tmp_path / "g").exists()  # refused before any campaign ran
    assert main(["search", "--algo", "rea", "--cost", "fixed:x", "--out", str(out / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown search algorithm" in err and "fixed:SECONDS" in err and "unknown proxy 'gradsine'" in err


def test_stored_scores_compute_missing_ones_once_and_rank_ensembles_within_the_pool(tmp_path):
    spec = ProbeSpec("digits", batch_size=16, seed=0)
    space = get_space("nb201")
    archs = [space.format(a) for a in space.sample_many(3, np.random.default_rng(1))]
    path = tmp_path / "scores.sqlite"
    with pytest.raises(GradnasError, match="no stored params score"):
        StoredScores("params", path, "nb201", spec, compute=False)(archs)
    values, seconds = StoredScores("params", path, "nb201", spec)(archs)
    expected = [sum(p.numel() for p in space.build(a, 10, (1, 8, 8)).parameters()) for a in archs]
    assert values.tolist() == expected and seconds > 0
    reread = StoredScores("params", path, "nb201", spec, compute=False)  # now from the store alone
    assert reread(archs)[0].tolist() == expected
    ensemble, _ = StoredScores("ensemble:params+synflow", path, "nb201", spec)(archs)
    synflow, _ = StoredScores("synflow", path, "nb201", spec, compute=False)(archs)
    ranks = (rankdata(expected) + rankdata(synflow)) / 2 / 3  # ties share their mean rank
    assert ensemble == pytest.approx(ranks)  # mean rank percentile within these three


class OpaqueSpace(TinySpace):
    """TinySpace without the categorical capability."""

    decisions = encode = decode = None


def test_reinforce_and_bohb_need_the_categorical_capability_and_say_so():
    from gradnas.spaces import Categorical

    assert isinstance(TinySpace(), Categorical)
    for algo, name in (("reinforce", "REINFORCE"), ("bohb", "BOHB")):
        config = SearchConfig(algo, budget=None, max_evals=5, cost="fixed:10", runs=1)
        space = OpaqueSpace()
        space.name = "opaque"
        with pytest.raises(GradnasError) as caught:
            search_once(space, config, lookup(tiny_accuracy, lambda a: 10.0), None, run=0)
        assert str(caught.value) == (
            f"{name} draws architectures decision by decision; the opaque space has no categorical "
            "decisions (decisions, encode, decode): use rs, rea, hb or knas"
        )


@pytest.mark.parametrize("space_name", ["nb101", "nds_darts", "nb301"])
@pytest.mark.parametrize("algo", ["reinforce", "bohb"])
def test_reinforce_and_bohb_run_on_spaces_beyond_nb201(space_name, algo):
    space = get_space(space_name)

    def accuracy(arch: str) -> float:  # any deterministic landscape: more convolutions score higher
        return 50.0 + arch.count("conv")

    config = SearchConfig(algo, budget=None, max_evals=40, cost="fixed:10", runs=1)
    history, _ = search_once(space, config, lookup(accuracy, lambda a: 10.0), None, run=0)
    again, _ = search_once(space, config, lookup(accuracy, lambda a: 10.0), None, run=0)
    assert len(history) == 40 and [r.arch for r in history] == [r.arch for r in again]
    assert all(space.format(space.parse(r.arch)) == r.arch for r in history)
    assert len({r.arch for r in history}) > 10


def test_a_policy_that_never_spells_a_valid_arch_is_one_line():
    class Nothing(TinySpace):
        name = "nothing"

        def decode(self, choices):
            return None

    config = SearchConfig("reinforce", budget=None, max_evals=5, cost="fixed:10", runs=1)
    with pytest.raises(GradnasError, match="REINFORCE's policy drew no valid nothing arch in 10000 tries"):
        search_once(Nothing(), config, lookup(tiny_accuracy, lambda a: 10.0), None, run=0)


def test_cli_search_looks_up_the_benchmark_given_and_refuses_another_space(tmp_path, capsys):
    from gradnas.benchmarks import load_benchmark

    table = tmp_path / "flat.csv"
    archs = load_benchmark("nb201").archs()
    pd.DataFrame({"arch": archs, "cifar10": 42.0}).to_csv(table, index=False)
    out = tmp_path / "s"
    args = ["search", "--algo", "rs", "--runs", "2", "--max-evals", "3", "--budget", "none"]
    args += ["--cost", "fixed:1"]
    assert main([*args, "--benchmark", str(table), "--out", str(out), "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary["mean"].tolist() == [42.0]
    assert main([*args, "--space", "nb101", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "benchmark 'nb201' holds nb201 architectures, not nb101's: give space nb201, or another" in err


def test_nb201_reference_mutation_picks_a_node_then_one_of_its_edges():
    space = get_space("nb201")
    parent = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    rng = np.random.default_rng(0)
    changed = np.zeros(6)
    for _ in range(9000):
        child = space.mutate_by_node(parent, rng)
        (edge,) = [e for e in range(6) if child.ops[e] != parent.ops[e]]
        changed[edge] += 1
    assert changed / 9000 == pytest.approx([1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9], abs=0.015)
    uniform = np.zeros(6)
    for _ in range(6000):
        child = space.mutate(parent, rng)
        uniform[[e for e in range(6) if child.ops[e] != parent.ops[e]][0]] += 1
    assert uniform / 6000 == pytest.approx([1 / 6] * 6, abs=0.015)


def test_search_switches_reach_the_algorithms(tmp_path):
    config = SearchConfig("rea", budget=None, max_evals=30, cost="fixed:10", runs=1)
    node = replace(config, options={"mutation": "node"})
    space = get_space("nb201")

    def accuracy(arch):
        return 50.0 + arch.count("conv")

    a, _ = search_once(space, config, lookup(accuracy, lambda a: 10.0), None, run=0)
    b, _ = search_once(space, node, lookup(accuracy, lambda a: 10.0), None, run=0)
    assert [r.arch for r in a[:10]] == [r.arch for r in b[:10]]  # the same random population
    assert [r.arch for r in a[10:]] != [r.arch for r in b[10:]]  # then other mutations
    with pytest.raises(GradnasError, match="mutation 'node' .* is NB201's, not nb101's"):
        search_once(get_space("nb101"), node, lookup(accuracy, lambda a: 10.0), None, run=0)
    with pytest.raises(GradnasError, match="unknown REINFORCE gradient target 'x'"):
        bad = replace(config, algo="reinforce", options={"target": "x"})
        search_once(space, bad, lookup(accuracy, lambda a: 1.0), None, run=0)
    assert SearchConfig("rea", options={"mutation": "node"}).label == "REA mutation=node"


def test_g_reinforce_gradient_target_is_a_switch():
    def scores(archs):
        return np.array([float(a.count("2")) for a in archs]), 0.0

    evaluated, _ = run("reinforce", evals=40, assist_scores=scores, lr=0.2)
    sample, _ = run("reinforce", evals=40, assist_scores=scores, lr=0.2, target="sample")
    assert [r.arch for r in evaluated[:1]] == [r.arch for r in sample[:1]]  # one policy, one first draw
    assert [r.arch for r in evaluated] != [r.arch for r in sample]  # the updates differ after it


def test_cli_search_switches_label_the_campaigns(tmp_path, capsys):
    args = ["search", "--algo", "rea,reinforce", "--runs", "1", "--max-evals", "12", "--budget", "none"]
    args += ["--cost", "fixed:1", "--mutation", "node", "--reinforce-lr", "0.001", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "s")]) == 0
    labels = pd.read_csv(tmp_path / "s" / "summary.csv").iloc[:, 0].tolist()
    assert labels == ["REA mutation=node", "REINFORCE lr=0.001"]


def test_selection_takes_the_spaces_default_ranker_and_nothing_else_does():
    from gradnas.search import expand

    configs = expand(["rs", "select"], select_by="ensemble:default", runs=1)
    assert {c.algo: c.assist for c in configs} == {"rs": None, "select": "ensemble:default"}
    named = expand(["select"], select_by="ensemble:default", assist="gradsign", runs=1)
    assert [c.assist for c in named] == ["gradsign"]


@pytest.mark.parametrize(
    ("algo", "options", "message"),
    [
        ("knas", {"m": 10, "k": 11}, "k must be an int <= 10, got 11"),
        ("knas", {"m": 0}, "m must be an int >= 1, got 0"),
        ("knas", {"m": 10, "k": -3}, "k must be an int >= 1, got -3"),
        ("select", {"n": 0}, "n must be an int >= 1, got 0"),
        ("reinforce", {"lr": 0.0}, "REINFORCE lr must be a positive number, got 0.0"),
        ("reinforce", {"lr": math.inf}, "REINFORCE lr must be a positive number, got inf"),
    ],
)
def test_algorithm_options_out_of_range_are_refused_before_any_evaluation(algo, options, message):
    def scores(archs):
        return np.zeros(len(archs)), 0.0

    with pytest.raises(GradnasError, match=message):
        run(algo, assist_scores=scores if algo != "reinforce" else None, **options)


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"seconds": math.inf}, r"the time budget \(seconds\) must be a positive number, got inf"),
        ({"seconds": 0}, r"the time budget \(seconds\) must be a positive number, got 0"),
        ({"evaluations": True}, "the evaluation budget must be an int >= 1, got True"),
        ({"evaluations": 2.5}, "the evaluation budget must be an int >= 1, got 2.5"),
    ],
)
def test_clock_refuses_an_endless_or_fractional_budget(budget, message):
    with pytest.raises(GradnasError, match=message):
        Clock(**budget)
