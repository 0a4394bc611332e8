"""Search on a simulated clock: RS, REA, REINFORCE, Hyperband/BOHB, their proxy-assisted
G-variants, KNAS, selection from N and predictor-guided search, over any SearchSpace and a
tabular benchmark."""

from .algorithms import evolution, random_search, reinforce
from .clock import KNAS_SECONDS, Clock, Exhausted, parse_cost
from .hyperband import bohb, hyperband
from .knas import knas, select_from_n
from .objective import Objective, Observation, Record, lookup
from .predicted import predictor_guided
from .runs import ALGORITHMS, SearchConfig, expand, run_campaign, run_searches, search_once, summarize
from .screen import Screen, StoredScores
from .trained import Training, parse_evaluate, trained

__all__ = [
    "ALGORITHMS",
    "KNAS_SECONDS",
    "Clock",
    "Exhausted",
    "Objective",
    "Observation",
    "Record",
    "Screen",
    "SearchConfig",
    "StoredScores",
    "Training",
    "bohb",
    "evolution",
    "expand",
    "hyperband",
    "knas",
    "lookup",
    "parse_cost",
    "parse_evaluate",
    "predictor_guided",
    "random_search",
    "reinforce",
    "run_campaign",
    "run_searches",
    "search_once",
    "select_from_n",
    "summarize",
    "trained",
]
