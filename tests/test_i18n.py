"""Translations (issue #30): complete, up-to-date catalogs; the language is per run."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from ser_core import i18n
from ser_core.errors import SilentAudioError, UnknownNameError
from tools import i18n as catalogs

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_every_message_has_a_polish_translation_and_the_catalogs_are_up_to_date():
    """Fails on a marked message without Polish, a fuzzy one, a translation whose
    ``{placeholders}`` differ, a stale .pot/.po or a .mo not compiled from its .po
    (``python tools/i18n.py update`` fixes what it can; then translate what it lists)."""
    assert catalogs.check() == []


def _messages_built_before_translation(path: Path) -> list[str]:
    """Calls of ``_``/``gettext``/``N_``/``ngettext`` whose message is an f-string, a
    concatenation, a %-format or a ``.format`` call: built before it is looked up, so never
    in the catalog.  (A name is fine: a constant marked with ``N_`` where it is defined.)"""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        n_messages = {"_": 1, "gettext": 1, "N_": 1, "ngettext": 2, "pgettext": 2}.get(node.func.id)
        if n_messages is None:
            continue
        for arg in node.args[:n_messages]:
            built = isinstance(arg, ast.JoinedStr | ast.BinOp) or (
                isinstance(arg, ast.Call)
                and isinstance(arg.func, ast.Attribute)
                and arg.func.attr == "format"
            )
            literal_needed = node.func.id == "N_" and not isinstance(arg, ast.Constant)
            if built or literal_needed:
                bad.append(f"{path.relative_to(catalogs.ROOT)}:{node.lineno}")
    return bad


def test_messages_are_literals_so_babel_can_find_them():
    """An f-string inside ``_()`` is never in the catalog: the placeholders are named and
    filled after translation (``_("{n} s").format(n=3)``)."""
    bad = [b for f in catalogs.source_files() for b in _messages_built_before_translation(f)]
    assert bad == []


def test_polish_plurals_have_their_three_forms():
    with (catalogs.po_path("pl")).open("rb") as f:
        cat = read_po(f, locale="pl")
    assert cat.num_plurals == 3
    plurals = [m for m in cat if m.id and isinstance(m.id, tuple)]
    assert plurals, "no counted message in the catalog"
    msg = plurals[0]
    with i18n.language("pl"):
        forms = [i18n.ngettext(msg.id[0], msg.id[1], n) for n in (1, 3, 5, 22, 25)]
    assert forms == [msg.string[0], msg.string[1], msg.string[2], msg.string[1], msg.string[2]]


def test_emotion_names_follow_the_language_and_the_labels_stay():
    assert i18n.emotion_names() == ["anger", "fear", "happiness", "neutral", "sadness", "surprised"]
    with i18n.language("pl"):
        assert i18n.emotion_names() == [
            "złość",
            "strach",
            "szczęście",
            "stan neutralny",
            "smutek",
            "zaskoczenie",
        ]
        assert i18n.emotion_name("not-an-emotion") == "not-an-emotion"
    assert i18n.current_language() == "en"


def test_the_language_belongs_to_the_thread_that_set_it():
    """Thirty sessions in two languages at once: each Streamlit run is a thread."""
    seen: dict[str, list[str]] = {"en": [], "pl": []}
    barrier = threading.Barrier(2)

    def run(lang: str) -> None:
        i18n.set_language(lang)
        barrier.wait()
        for _unused in range(200):
            seen[lang].append(i18n.emotion_name("anger"))

    threads = [threading.Thread(target=run, args=(lang,)) for lang in ("en", "pl")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["en"]) == {"anger"} and set(seen["pl"]) == {"złość"}


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("pl-PL", "pl"), ("pl", "pl"), ("PL_pl", "pl"), ("en-GB", "en"), ("de-DE", "en"), (None, "en")],
)
def test_the_browser_locale_picks_the_language(locale, lang):
    assert i18n.language_from_locale(locale) == lang


def test_an_unknown_language_is_refused_with_its_name():
    with pytest.raises(UnknownNameError, match="'xx'"):
        i18n.set_language("xx")


def test_an_error_keeps_its_code_and_arguments_in_both_languages():
    err = SilentAudioError(i18n.N_("{name} is silent."), name="a.wav", filename="a.wav")
    assert str(err) == "a.wav is silent." and err.params == {"name": "a.wav"}
    assert err.code == "SilentAudioError: {name} is silent."
    assert i18n.error_message(err) == "a.wav is silent."


def test_a_polish_browser_opens_the_app_in_polish_and_the_switch_changes_it(tmp_path, monkeypatch):
    """The first run takes the browser's language (``st.context.locale``); the sidebar switch
    changes it for every page of the session."""
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))  # no model needed on the home page
    at = AppTest.from_file(APP, default_timeout=60)
    at.context = {"locale": "pl-PL"}
    at.run()
    assert not at.exception
    assert at.radio(key="app.language").value == "pl"
    assert at.session_state["app.language"] == "pl"
    at.radio(key="app.language").set_value("en").run()
    assert not at.exception and at.session_state["app.language"] == "en"
    english = AppTest.from_file(APP, default_timeout=60)
    english.context = {"locale": "en-US"}
    english.run()
    assert english.radio(key="app.language").value == "en"


def test_a_widget_callback_reads_the_session_language():
    """A callback (and a fragment's rerun) runs without the page, so without the language the
    page set: the library asks the session (``ui.i18n.session_language``)."""

    def script():
        import streamlit as st

        from ui import i18n

        def said() -> None:
            st.session_state["said"] = i18n._("Home")

        st.button("go", key="go", on_click=said)

    at = AppTest.from_function(script, default_timeout=30)
    at.session_state["app.language"] = "pl"
    at.run()
    at.button(key="go").click().run()
    assert not at.exception
    with i18n.language("pl"):
        assert at.session_state["said"] == i18n.gettext("Home") != "Home"
    assert i18n.current_language() == "en"  # outside a session: English
