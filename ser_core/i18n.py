"""Translations of everything people read: gettext catalogs made with Babel.

The catalogs live in ``ser_core/locale/<lang>/LC_MESSAGES/messages.po`` (sources,
edited by translators) and ``messages.mo`` (compiled, read here by the standard
library's :mod:`gettext`); ``docs/i18n.md`` says how to add a language and
``tools/i18n.py`` extracts, updates and compiles them.

The language is per *run*, not per process: thirty students may read the app in two
languages at once, each Streamlit script run in its own thread, so the active language
is a :class:`contextvars.ContextVar` that a page sets at its start
(:func:`set_language`) and every :func:`gettext` call reads.  Where a thread never set it,
the application's resolver answers (:func:`set_language_resolver`: the app reads the
session's choice, so a fragment or a widget callback, which run without the page, are in
the reader's language too); with no resolver, or none that knows (a CLI, a queue worker),
the language is English.

Messages are marked for extraction with :func:`gettext` (alias ``_``), :func:`ngettext`
and, where a string must stay English until it is shown (a table of constants, an
error template), :func:`N_`.  Placeholders are named and filled with
:meth:`str.format` *after* translation: ``_("{n} clips").format(n=3)``; an f-string
inside ``_()`` could never be found in the catalog.
"""

from __future__ import annotations

import contextlib
import functools
import gettext as _gettext
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from pathlib import Path

from ser_core.config import EMOTIONS
from ser_core.errors import SERError, UnknownNameError

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "current_language",
    "display_name",
    "emotion_name",
    "emotion_names",
    "error_message",
    "gettext",
    "language",
    "language_from_locale",
    "ngettext",
    "pgettext",
    "set_language",
    "set_language_resolver",
]

#: Where the catalogs live (inside the package, so an installed copy finds them).
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The gettext domain of every message (one catalog per language).
DOMAIN = "messages"
#: Languages of the interface: code -> its own name (what the picker shows).
LANGUAGES: dict[str, str] = {"en": "English", "pl": "Polski"}
#: The language of the source strings.
SOURCE_LANGUAGE = "en"

_current: ContextVar[str | None] = ContextVar("ser_core_language", default=None)
_resolver: Callable[[], str | None] | None = None


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (translate on display)."""
    return message


@functools.cache
def _translation(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang`` (read once per process); the source language,
    or a language without a catalog, gives the messages unchanged."""
    if lang == SOURCE_LANGUAGE:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)


def set_language(lang: str) -> Token:
    """Make ``lang`` (a key of :data:`LANGUAGES`) the language of this run.

    Returns
    -------
    contextvars.Token
        For :meth:`contextvars.ContextVar.reset`; :func:`language` does that for you.

    Raises
    ------
    UnknownNameError
        ``lang`` is not one of :data:`LANGUAGES`.
    """
    if lang not in LANGUAGES:
        raise UnknownNameError(
            N_("No interface language {lang!r}: choose one of {known}."),
            lang=lang,
            known=", ".join(sorted(LANGUAGES)),
        )
    return _current.set(lang)


@contextlib.contextmanager
def language(lang: str) -> Iterator[None]:
    """A block in ``lang``, the previous language restored after it."""
    token = set_language(lang)
    try:
        yield
    finally:
        _current.reset(token)


def set_language_resolver(resolver: Callable[[], str | None] | None) -> None:
    """Where no language was set in this thread, ask ``resolver()`` (None: English).

    The app registers one that reads the browser session's choice; ``ser_core`` itself
    knows nothing of sessions."""
    global _resolver
    _resolver = resolver


def current_language() -> str:
    """The language of this run: the one set in this thread, else the resolver's, else
    ``"en"``."""
    lang = _current.get()
    if lang is None and _resolver is not None:
        lang = _resolver()
    return lang if lang in LANGUAGES else SOURCE_LANGUAGE


def gettext(message: str) -> str:
    """``message`` in the language of this run (itself where no translation exists; ""
    stays "", not the catalog's header)."""
    return _translation(current_language()).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for ``n`` in the language of this run (Polish has
    three: 1 plik, 2 pliki, 5 plików)."""
    return _translation(current_language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the language of this run, told apart from the same English words
    elsewhere by ``context`` (``pgettext("run state", "training")`` is not training clips)."""
    return _translation(current_language()).pgettext(context, message)


def display_name(names: dict[str, str], key: str) -> str:
    """``names[key]`` (an English name marked with :func:`N_`) in the language of this run;
    a key without a name is shown as it is."""
    return gettext(names[key]) if key in names else key


def language_from_locale(locale: str | None) -> str:
    """The interface language for a browser locale (``"pl-PL"`` -> ``"pl"``); English for
    anything not translated, or no locale at all."""
    code = (locale or "").replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else SOURCE_LANGUAGE


#: Display names of the six nEMO emotions (the corpus labels stay the identifiers).
#: Polish: the research project's names, checked against nEMO's paper (docs/i18n.md).
_EMOTION_NAMES: dict[str, str] = {
    "anger": N_("anger"),
    "fear": N_("fear"),
    "happiness": N_("happiness"),
    "neutral": N_("neutral"),
    "sadness": N_("sadness"),
    "surprised": N_("surprised"),
}
assert tuple(_EMOTION_NAMES) == EMOTIONS  # one name per corpus label


def emotion_name(emotion: str) -> str:
    """The display name of an emotion label in the language of this run (an unknown
    label is returned unchanged)."""
    name = _EMOTION_NAMES.get(emotion)
    return gettext(name) if name else emotion


def emotion_names(emotions: tuple[str, ...] | list[str] = EMOTIONS) -> list[str]:
    """:func:`emotion_name` of each label, in order."""
    return [emotion_name(e) for e in emotions]


def error_message(err: SERError) -> str:
    """A library error's sentence in the language of this run: its template translated,
    then its arguments filled in (:class:`~ser_core.errors.SERError`)."""
    template = getattr(err, "template", "") or str(err)
    params = getattr(err, "params", None) or {}
    text = gettext(template)
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
        return str(err)


_ = gettext
