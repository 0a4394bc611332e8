"""Progress bars on stderr that never stand in the way of a one-line error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(enabled: bool = True, **options) -> Iterator[tqdm]:
    """A tqdm bar (`options` are tqdm's) shown only after a second, so a command refused at once
    prints its error alone, and erased when the work stops with an error or an interruption."""
    with tqdm(disable=not enabled, delay=1, **options) as bar:
        try:
            yield bar
        except BaseException:
            bar.leave = False
            raise
