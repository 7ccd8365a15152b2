"""Errors a user can cause. The CLI prints their message (no traceback) and exits non-zero."""


class UserError(Exception):
    """A problem with the user's input: bad config, missing file, corrupt data, ..."""


class ConfigError(UserError):
    """A config key is unknown, has the wrong type or an impossible value."""


class DataError(UserError):
    """A dataset cannot be read or does not match its labels."""


class TrainingStopped(UserError):
    """Training stopped early for a reason the user must act on (non-finite loss, Ctrl-C)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ImageTooLarge(DataError):
    """An image whose header claims more pixels than the decoding limit (a decompression bomb)."""
