"""The proxies reference page (docs/proxy-reference.md), rendered from the registry.

`python3 docs/make_proxy_reference.py` writes it; a test checks the committed page is up to date.
"""

from __future__ import annotations

from .measured import NB201_RHO, WHERE, other_samples
from .registry import PROXIES


def _rho(name: str, column: int) -> str:
    value = NB201_RHO.get(name, (None, None, ""))[column]
    return "" if value is None else f"{value:+.3f}"


def markdown() -> str:
    """The whole reference page as Markdown."""
    lines = [
        "# Proxy reference",
        "",
        "Generated from the registry by `python3 docs/make_proxy_reference.py`; do not edit by hand.",
        "Every proxy is oriented so that **higher is better** unless the direction column says otherwise.",
        f"ρ: signed Spearman correlation with NAS-Bench-201 test accuracy, measured on {WHERE}",
        f"({other_samples('`')}); commands and full tables in",
        "[results-ranking.md](results-ranking.md). Definitions and readings: [proxies.md](proxies.md).",
        "",
        "| proxy | direction | ρ C10 | ρ C100 | labels | batch | version | inputs | paper | summary |",
        "| --- | --- | ---: | ---: | --- | ---: | --- | --- | --- | --- |",
    ]
    for info in sorted(PROXIES.values(), key=lambda i: i.name):
        direction = "higher" if info.higher_is_better else "lower"
        cells = [
            f"`{info.name}`",
            direction,
            _rho(info.name, 0),
            _rho(info.name, 1),
            "yes" if info.needs_labels else "no",
            str(info.batch_size),
            info.version,
            ", ".join(info.ingredients) or "model only",
            info.paper,
            info.summary.replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
