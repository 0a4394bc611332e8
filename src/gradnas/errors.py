"""The one exception type users see for bad input, so the CLI can print it as a one-line error."""


class GradnasError(ValueError):
    """Bad input from the user: an unknown name, a malformed string, a wrong shape, a missing file."""


def unknown_choice(kind: str, value: object, choices) -> GradnasError:
    """The error for a name that is not one of the valid choices; it lists them."""
    listed = ", ".join(sorted(str(c) for c in choices))
    return GradnasError(f"unknown {kind} {value!r}; valid choices: {listed}")


class DataNotFound(GradnasError):
    """A data file or directory that is not where it was looked for.

    The message speaks of ``data_dir=`` (the Python API); :meth:`for_cli` says ``--data-dir``.
    """

    def for_cli(self) -> str:
        text = str(self).replace("pass data_dir=DIR", "pass --data-dir DIR")
        return text.replace("from data_dir", "from --data-dir")
