"""The one exception type users see for bad input, so the CLI can print it as a one-line error."""


class GradnasError(ValueError):
    """Bad input from the user: an unknown name, a malformed string, a wrong shape, a missing file."""


def unknown_choice(kind: str, value: object, choices) -> GradnasError:
    """The error for a name that is not one of the valid choices; it lists them."""
    listed = ", ".join(sorted(str(c) for c in choices))
    return GradnasError(f"unknown {kind} {value!r}; valid choices: {listed}")
