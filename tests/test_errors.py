"""Library errors in two languages (issue #30): a stable code and arguments, the sentence
translated only where it is shown (:func:`ser_core.i18n.error_message`)."""

from __future__ import annotations

import ast
import pickle
import string
from pathlib import Path

import numpy as np
import pytest

from ser_core import audio, errors, feedback, i18n
from ser_core.i18n import N_
from tests.conftest import encode, tone

ROOT = Path(__file__).resolve().parents[1]
FORMATS_PL = "wav, flac, ogg, opus, mp3, m4a, aac, mp4 lub webm"

#: Uploads that cannot be judged: (bytes, name, load_audio options, error class, Polish sentence).
BAD_UPLOADS = [
    (
        lambda: encode(np.zeros(32_000, np.float32), ext="wav"),
        "cisza.wav",
        {"silent_ok": False},
        errors.SilentAudioError,
        "W pliku „cisza.wav” jest tylko cisza (wszystkie próbki są zerowe): nagraj lub wybierz plik z mową.",
    ),
    (
        lambda: encode(3e-4 * tone(1.0), ext="wav"),
        "szum.wav",
        {"silent_ok": False},
        errors.SilentAudioError,
        "W pliku „szum.wav” jest tylko cisza (najgłośniejsza próbka ma -78 dBFS): nagraj lub wybierz plik z mową.",
    ),
    (lambda: b"", "pusty.wav", {}, errors.EmptyAudioError, "Plik „pusty.wav” jest pusty (0 bajtów)"),
    (
        lambda: encode(np.full(16_000 * 5, 0.1, np.float32), ext="flac"),
        "wyklad.flac",
        {"max_seconds": 4.0},
        errors.AudioTooLongError,
        "Plik „wyklad.flac” trwa 5 s, czyli dłużej niż dopuszczalne 4 s: skróć nagranie.",
    ),
    (
        lambda: b"this is not audio " * 100,
        "notatki.wav",
        {},
        errors.AudioDecodeError,
        "Nie udało się odczytać pliku „notatki.wav” jako nagrania: plik jest uszkodzony albo nie jest "
        f"plikiem dźwiękowym (obsługiwane formaty: {FORMATS_PL}).",
    ),
    (
        lambda: b"%PDF-1.7 " * 100,
        "slajdy.pdf",
        {},
        errors.UnsupportedFormatError,
        f"Plik „slajdy.pdf” ma rozszerzenie .pdf i nie jest nagraniem w obsługiwanym formacie ({FORMATS_PL}).",
    ),
    (
        lambda: encode(np.zeros(80, np.float32), ext="wav"),
        "blip.wav",
        {},
        errors.AudioTooShortError,
        "Plik „blip.wav” trwa tylko 5 ms; potrzeba co najmniej 100 ms",
    ),
]


def _raised(data: bytes, name: str | None, options: dict) -> errors.SERError:
    with pytest.raises(errors.SERError) as e:
        audio.load_audio(data, name=name, **options)
    return e.value


@pytest.mark.parametrize(
    ("make", "name", "options", "cls", "polish"), BAD_UPLOADS, ids=[u[1] for u in BAD_UPLOADS]
)
def test_a_bad_upload_has_one_code_and_arguments_and_reads_in_polish(make, name, options, cls, polish):
    data = make()
    english = _raised(data, name, options)
    with i18n.language("pl"):
        in_polish = _raised(data, name, options)
        assert i18n.error_message(in_polish) == polish
        assert i18n.error_message(english) == polish  # raised in English, shown in Polish
    assert type(english) is type(in_polish) is cls
    assert english.code == in_polish.code and english.code.startswith(f"{cls.__name__}: ")
    assert english.params == in_polish.params and english.params["name"] == name
    assert str(english) == str(in_polish) == i18n.error_message(english)  # str() stays English
    assert english.filename == name and name in polish


def test_audio_without_a_name_is_called_the_uploaded_audio_in_both_languages():
    err = _raised(b"", None, {})
    assert str(err) == "the uploaded audio is empty (0 bytes)" and err.params == {} and err.filename is None
    with i18n.language("pl"):
        assert i18n.error_message(err) == "przesłane nagranie jest puste (0 bajtów)"


def test_a_voice_profile_name_is_refused_in_polish_with_the_name_filled_in():
    with pytest.raises(errors.FeedbackError) as e:
        feedback.check_profile_name("Ala; DROP TABLE")
    assert e.value.params == {"name": "Ala; DROP TABLE"}
    with i18n.language("pl"):
        assert i18n.error_message(e.value).startswith("nazwa profilu „Ala; DROP TABLE” może zawierać tylko")


def test_a_template_error_pickles_with_its_code_and_arguments():
    """Queue workers may hand an error back across a process."""
    err = errors.SilentAudioError(N_("{name!r} is empty (0 bytes)"), name="x.wav", filename="x.wav")
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.code, back.params, back.filename) == (str(err), err.code, err.params, "x.wav")
    with i18n.language("pl"):
        assert i18n.error_message(back) == "Plik „x.wav” jest pusty (0 bajtów)"


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


@pytest.mark.parametrize("cls", sorted(set(_subclasses(errors.SERError)), key=lambda c: c.__name__))
def test_every_error_class_formats_a_template_with_named_arguments(cls):
    kwargs = {"filename": "a.wav"} if issubclass(cls, errors.AudioError) else {}
    err = cls(N_("{name!r} has {n} problems; {{literal braces}} stay"), name="a.wav", n=2, **kwargs)
    assert str(err) == "'a.wav' has 2 problems; {literal braces} stay"
    assert err.params == {"name": "a.wav", "n": 2}
    assert err.code == f"{cls.__name__}: {{name!r}} has {{n}} problems; {{{{literal braces}}}} stay"
    plain = cls("a sentence with {braces} and no arguments")
    assert str(plain) == i18n.error_message(plain) == "a sentence with {braces} and no arguments"


class _Any:
    """An argument that takes any format spec or conversion (``{x:.1f}``, ``{x!r}``)."""

    def __format__(self, spec: str) -> str:
        return "ARG"

    def __repr__(self) -> str:
        return "ARG"


def _error_names() -> set[str]:
    return {c.__name__ for c in _subclasses(errors.SERError)} | {"JobError", "_audio_error"}


def _template_calls() -> list[tuple[str, str, set[str]]]:
    """``(where, template, argument names)`` of every error built from an ``N_`` template in
    ser_core and ui: raise sites, and ``audio._audio_error(cls, named, unnamed, filename,
    **params)`` whose ``named`` template gets the file name as ``name`` too."""
    names, out = _error_names(), []
    for path in sorted([*(ROOT / "ser_core").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in names):
                continue
            if any(k.arg is None for k in node.keywords):  # **params: see the upload tests
                continue
            keywords = {k.arg for k in node.keywords} - {"filename"}
            templates = [
                a.args[0].value
                for a in node.args
                if isinstance(a, ast.Call) and getattr(a.func, "id", None) == "N_"
            ]
            for i, template in enumerate(templates):
                named = node.func.id == "_audio_error" and i == 0
                out.append(
                    (
                        f"{path.relative_to(ROOT)}:{node.lineno}",
                        template,
                        keywords | ({"name"} if named else set()),
                    )
                )
    return out


def _fields(template: str) -> set[str]:
    return {f for _t, f, _s, _c in string.Formatter().parse(template) if f is not None}


def test_every_error_template_has_its_arguments_and_a_polish_translation_that_formats():
    """Each ``N_`` template of a raise site names exactly the arguments passed with it (a
    template with none is shown as it is, so it holds no placeholder), and its Polish fills
    in the same ones."""
    calls = _template_calls()
    assert len(calls) > 60  # the library's raise sites
    bad = []
    for where, template, keywords in calls:
        if _fields(template) != keywords:
            bad.append(f"{where}: {sorted(_fields(template))} != {sorted(keywords)}")
            continue
        template.format(**dict.fromkeys(keywords, _Any()))
        with i18n.language("pl"):
            polish = i18n.gettext(template)
        if polish == template:  # untranslated: tests/test_i18n.py lists it
            continue
        if _fields(polish) != keywords:
            bad.append(f"{where}: the Polish lost or added an argument of {template!r}")
        else:
            polish.format(**dict.fromkeys(keywords, _Any()))
    assert bad == []


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        (lambda tmp: audio.check_audible(np.zeros(10, np.float32)), {"name"}),
        (lambda tmp: audio.check_audible(np.full(10, 1e-5, np.float32), filename="x.wav"), {"name", "dbfs"}),
        (lambda tmp: audio.check_finite(np.array([np.nan, 1.0]), filename="x.wav"), {"name", "count"}),
        (lambda tmp: audio.load_audio(tmp / "gone.wav"), {"name"}),
        (lambda tmp: audio.load_audio(tmp), {"name"}),
        (lambda tmp: audio.files_of(tmp), {"extensions", "folder"}),
    ],
    ids=["silent", "quiet", "nan", "missing", "folder", "no-audio-files"],
)
def test_the_audio_checks_build_their_errors_from_templates(make, fields, tmp_path):
    with pytest.raises(errors.AudioError) as e:
        make(tmp_path)
    assert set(e.value.params) == fields and e.value.template != str(e.value)
    with i18n.language("pl"):
        assert i18n.error_message(e.value) != str(e.value)


def test_the_corpus_errors_carry_the_how_to_get_text_in_both_languages(tmp_path):
    """The "no corpus" errors spell out ``HOW_TO_GET`` / ``RAVDESS_HOW_TO_GET`` in their
    templates (one translatable sentence each): the texts must stay in step."""
    from ser_core import data, ravdess
    from ser_core.errors import DatasetNotFoundError

    for find, how in (
        (data.find_corpus, data.HOW_TO_GET),
        (ravdess.find_ravdess, ravdess.RAVDESS_HOW_TO_GET),
    ):
        with pytest.raises(DatasetNotFoundError) as info:
            find(tmp_path)
        assert how in str(info.value)
        with i18n.language("pl"):
            assert i18n.gettext(how) in i18n.error_message(info.value)
