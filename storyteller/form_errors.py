"""The one shape of "this form has mistakes" that domain functions raise and views show."""

from __future__ import annotations

from collections.abc import Mapping


class FormInputError(ValueError):
    """Values that cannot be saved; ``errors`` maps each form field to its message.

    Raise it with a mapping (every mistake at once) or with one field and its message;
    ``field`` and ``message`` are the first mistake, for a single flash or a 400 page.
    """

    def __init__(self, errors: Mapping[str, str] | str, message: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {errors: message or "is not acceptable"}
        self.errors = dict(errors)
        self.field, self.message = next(iter(self.errors.items()))
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.errors.items()))
