"""Errors meant for people: one sentence that says what is wrong and what to do."""


class UserError(Exception):
    """A problem with the user's input or environment; the CLI prints it and exits with code 2."""


class DataError(UserError):
    """The dataset cannot be used as given (no images, one class, bad archive...)."""


class WeightsUnavailable(UserError):
    """Pretrained weights for a model cannot be found offline and cannot be fetched."""
