"""Exception hierarchy of :mod:`ser_core`.

Every error the library raises on purpose derives from :class:`SERError`, so an
application can catch that one class and show ``str(err)`` to a person: each
message names the offending value and says what to do about it.
"""

from __future__ import annotations

__all__ = [
    "SERError",
    "AudioError",
    "EmptyAudioError",
    "AudioDecodeError",
    "AudioTooShortError",
    "AudioTooLongError",
    "InvalidAudioError",
    "SilentAudioError",
    "UnsupportedFormatError",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "UnknownNameError",
    "ConfigError",
    "TrackingError",
    "ModelFileError",
    "ShapeError",
    "SampleTypeError",
    "CalibrationError",
    "FeedbackError",
    "ConditionError",
    "QuizError",
    "QuizClosedError",
]


class SERError(Exception):
    """Root of every error raised on purpose by :mod:`ser_core`.

    A message shown in the app is raised as a template with named arguments, so a page
    can show it in the reader's language::

        raise SilentAudioError(N_("{name} is silent."), name=name)

    ``str(err)`` is the English sentence; :attr:`code` (the class name and the English
    template) and :attr:`params` stay the same in every language, and
    ``ui.errors.show_error`` translates the template and fills in the arguments.  A plain
    sentence (no arguments) works too and is shown as it is.
    """

    def __init__(self, message: str = "", /, **params: object) -> None:
        self.template = message
        self.params = params
        super().__init__(message.format(**params) if params else message)

    @property
    def code(self) -> str:
        """A stable identifier of the message: ``"<ErrorClass>: <English template>"``."""
        return f"{type(self).__name__}: {self.template}"


class AudioError(SERError, ValueError):
    """Audio that cannot be used (the base of all audio input errors).

    ``filename`` is the offending file's name as shown to people (None for raw bytes
    without a name); the message names it too.
    """

    def __init__(self, message: str = "", /, *, filename: str | None = None, **params: object) -> None:
        super().__init__(message, **params)
        self.filename = filename


class EmptyAudioError(AudioError):
    """The input holds no bytes or no samples."""


class AudioDecodeError(AudioError):
    """The bytes are not audio in a format we can decode, or are truncated."""


class AudioTooShortError(AudioError):
    """The audio is shorter than the configured minimum duration."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured maximum duration."""


class InvalidAudioError(AudioError):
    """The decoded samples contain NaN or infinite values."""


class SilentAudioError(AudioError):
    """The audio decodes but holds no sound (every sample near zero)."""


class UnsupportedFormatError(AudioDecodeError):
    """The file's extension is not one of the supported audio formats, and it does not
    decode as audio."""


class DatasetError(SERError):
    """The corpus or its metadata is missing or malformed."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """No nEMO corpus at the given path, ``$NEMO_DIR`` or ``data/nEMO``."""


class DownloadError(DatasetError):
    """Downloading the corpus failed (typically: no internet connection)."""


class UnknownNameError(SERError, KeyError):
    """A registry lookup (representation, model, explainer, ...) failed."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ConfigError(SERError, ValueError):
    """A configuration value is out of range or inconsistent."""


class TrackingError(SERError):
    """The MLflow tracking database cannot be read, or a run in it is malformed."""


class ModelFileError(SERError, ValueError):
    """A shipped model's card or weights cannot be read (damaged, truncated, edited by
    hand) or do not fit together."""


class ShapeError(SERError, ValueError):
    """An array's shape or size does not fit the operation (the message gives both)."""


class SampleTypeError(SERError, TypeError):
    """Audio samples of a dtype that cannot be converted to float waveforms."""


class CalibrationError(SERError, ValueError):
    """Audio that cannot give speaker statistics (silent, too short)."""


class FeedbackError(SERError):
    """The feedback store could not read or write (the message says why)."""


class ConditionError(SERError, ValueError):
    """A recording condition cannot be rendered (a babble condition without a babble pool,
    a pool with no energy or no speaker left to draw from)."""


class QuizError(SERError):
    """A class listening quiz cannot do what was asked (no quiz of that code, a wrong
    lecturer key, a clip it does not have, too few clips to draw; the message says which)."""


class QuizClosedError(QuizError):
    """The quiz was closed by its lecturer: it takes no more answers."""
