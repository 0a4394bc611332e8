"""Sample-based searches over any SearchSpace. Each runs until the objective's clock
raises Exhausted; with a `screen` it becomes its proxy-assisted G-variant (GradSign App. A.5)."""

from __future__ import annotations

from collections import deque
from functools import partial

import numpy as np
import torch

from ..errors import GradnasError, unknown_choice
from ..spaces.base import categorical
from ..validate import positive_real
from .objective import Objective
from .screen import Screen, propose

MAX_DRAWS = 10_000  # policy draws per sample before a space is taken to have no valid arch there
MUTATIONS = ("uniform", "node")
REINFORCE_TARGETS = ("evaluated", "sample")


def _mutator(space, mutation: str):
    """The space's own mutation ("uniform"), or NB201's reference one ("node")."""
    if mutation not in MUTATIONS:
        raise unknown_choice("mutation", mutation, MUTATIONS)
    if mutation == "uniform":
        return space.mutate
    if not hasattr(space, "mutate_by_node"):
        raise GradnasError(f"mutation 'node' (a node, then one of its edges) is NB201's, not {space.name}'s")
    return space.mutate_by_node


def random_search(
    space, objective: Objective, rng: np.random.Generator, screen: Screen | None = None
) -> None:
    """RS: evaluate uniform draws. G-RS: evaluate the best-scored of a pool of uniform draws."""
    while True:
        arch, value = propose(space, lambda: space.sample(rng), screen)
        objective.evaluate(space.format(arch), score=value)


def evolution(
    space,
    objective: Objective,
    rng: np.random.Generator,
    screen: Screen | None = None,
    *,
    population: int = 10,
    tournament: int = 3,
    screen_initial: bool = False,
    mutation: str = "uniform",
) -> None:
    """Regularized evolution (Real et al. 2019): a population of `population` random archs; each
    cycle the best of `tournament` members drawn with replacement is mutated on one edge, the
    child evaluated and added, the oldest member removed. G-REA (GradSign Algorithm 1): the child
    is the best-scored of a pool of the parent's mutants; the initial members stay random unless
    `screen_initial` (not in the paper) screens them too. `mutation="node"` mutates as the
    NAS-Bench-201 and GradSign reference code do on NB201 (a uniform node, then one of its edges)
    instead of the space's own mutation (a uniform edge)."""
    mutate = _mutator(space, mutation)
    members: deque[tuple[object, float]] = deque()
    while len(members) < population:
        arch, value = propose(space, lambda: space.sample(rng), screen if screen_initial else None)
        members.append((arch, objective.evaluate(space.format(arch), score=value)))
    while True:
        drawn = [members[i] for i in rng.integers(len(members), size=tournament)]
        parent = max(drawn, key=lambda m: m[1])[0]
        child, value = propose(space, partial(mutate, parent, rng), screen)
        members.append((child, objective.evaluate(space.format(child), score=value)))
        members.popleft()


def reinforce(
    space,
    objective: Objective,
    rng: np.random.Generator,
    screen: Screen | None = None,
    *,
    lr: float = 0.01,
    momentum: float = 0.9,
    target: str = "evaluated",
) -> None:
    """REINFORCE (Williams 1992) with one softmax per decision (6 edges × 5 ops on NB201), Adam,
    and a bias-corrected exponential-moving-average baseline; reward = accuracy / 100.
    G-REINFORCE: the evaluated arch is the best-scored of a pool of mutants of the policy's sample;
    the policy gradient is taken on the arch actually evaluated (`target="evaluated"`), or, as the
    GradSign reference code does, on the policy's own sample (`target="sample"`). NAS-Bench-201's
    reference script uses lr 1e-3 where this default is 0.01."""
    if target not in REINFORCE_TARGETS:
        raise unknown_choice("REINFORCE gradient target", target, REINFORCE_TARGETS)
    lr = positive_real(lr, "REINFORCE lr")
    space = categorical(space, "REINFORCE")
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    logits = [torch.zeros(k, requires_grad=True) for k in space.decisions]
    optimizer = torch.optim.Adam(logits, lr=lr)
    numerator = denominator = 0.0
    while True:

        def sample():
            for _ in range(MAX_DRAWS):  # choices that spell no valid arch are drawn again
                probabilities = [torch.softmax(t.detach(), 0) for t in logits]
                arch = space.decode([int(torch.multinomial(p, 1, generator=gen)) for p in probabilities])
                if arch is not None:
                    return arch
            raise GradnasError(f"REINFORCE's policy drew no valid {space.name} arch in {MAX_DRAWS} tries")

        policy_sample = sample()
        if screen is None:
            arch, value = policy_sample, None
        else:
            arch, value = propose(space, partial(space.mutate, policy_sample, rng), screen)
        reward = objective.evaluate(space.format(arch), score=value) / 100.0
        numerator = momentum * numerator + (1 - momentum) * reward
        denominator = momentum * denominator + (1 - momentum)
        advantage = reward - numerator / denominator
        taken = arch if target == "evaluated" else policy_sample
        log_prob = sum(torch.log_softmax(t, 0)[c] for t, c in zip(logits, space.encode(taken)))
        optimizer.zero_grad()
        (-advantage * log_prob).backward()
        optimizer.step()
