"""The documentation: a short front page, a generated proxy reference that is up to date, no
citations of documents outside the repository, and the files a package needs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gradnas.proxies import PROXIES
from gradnas.proxies.measured import NB201_RHO, best_forward
from gradnas.proxies.reference import markdown

ROOT = Path(__file__).resolve().parents[1]
# Built from pieces so this file does not match itself.
OUTSIDE = re.compile("SP" + r"EC\b|paper 0\d\d|\bissue [0-9]|shared/" + "SP" + "EC|papers/" + "0")


def test_readme_is_a_short_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    assert sum(1 for _ in (ROOT / "docs").glob("*.md")) >= 8


def test_proxy_reference_is_up_to_date():
    page = (ROOT / "docs" / "proxy-reference.md").read_text()
    assert page == markdown(), "run: python3 docs/make_proxy_reference.py"
    assert all(f"`{name}`" in page for name in PROXIES)


def test_every_proxy_has_a_whole_summary_and_a_measured_rho():
    for info in PROXIES.values():
        assert info.summary.rstrip(")").endswith((".", "!", "?")), info.name
    assert set(NB201_RHO) == set(PROXIES)
    assert best_forward(3) == ["gradalign_2_sign_diverse", "gradsign", "synflow"]


@pytest.mark.parametrize("folder", ["src", "docs", "bench", "tests", "examples"])
def test_no_citation_of_documents_outside_the_repository(folder):
    hits = []
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix in (".py", ".md") and path.is_file():
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if OUTSIDE.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for number, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1):
        if OUTSIDE.search(line):
            hits.append(f"README.md:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_package_files():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "src" / "gradnas" / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


def test_ci_runs_the_readme_setup_commands_and_the_examples():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Set-up (two commands)")[1].split("```bash\n")[1].split("```")[0]
    install_and_main, tests = block.strip().splitlines()
    ci = (ROOT / ".ci" / "run").read_text()
    assert install_and_main in ci and tests in ci
    fresh = "rm -rf .venv-ci\npython3 -m venv .venv-ci\n# shellcheck disable=SC1091\n. .venv-ci/bin/activate"
    assert ci.index(fresh) < ci.index(install_and_main)  # installed into a fresh virtual environment
    for example in sorted((ROOT / "examples").glob("*.py")):
        if example.name != "my_models.py":
            assert f"examples/{example.name}" in ci


def test_the_proxies_reference_script_runs(tmp_path):
    # docs/make_proxy_reference.py writes beside itself; run a copy in a scratch folder
    script = tmp_path / "make_proxy_reference.py"
    script.write_text((ROOT / "docs" / "make_proxy_reference.py").read_text())
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert (tmp_path / "proxy-reference.md").read_text() == markdown()
    assert "wrote" in run.stdout
