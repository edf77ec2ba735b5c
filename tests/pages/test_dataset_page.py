"""The dataset (EDA) page, run on its own with AppTest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ser_core import conditions, data, features
from ser_core.i18n import gettext, language
from tests.pages.english import english_left
from ui import dataset, state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "1_dataset.py")
TITLES = [features.get(n).title for n in features.names()]


def run_page(*, lang: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    if lang is not None:
        at.session_state[state.KEY_LANG] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def representation_grids(at: AppTest) -> list[dict]:
    """Figures whose subplot titles name all 13 representations, in order."""
    found = []
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        titles = [a.get("text", "") for a in spec["layout"].get("annotations", [])]
        if len(titles) == len(TITLES) and all(t.startswith(r) for t, r in zip(titles, TITLES)):
            found.append(spec)
    return found


def test_page_runs():
    at = run_page()
    assert at.title[0].value == "Dataset explorer"
    assert not at.error, [e.value for e in at.error]


def test_pick_corpus_clip_shows_13_rows(meta):
    last = int(dataset.clip_options(meta, "sadness", "KS0")["sentence_id"].iloc[-1])
    at = run_page()
    at.selectbox(key=state.KEY_EMOTION).set_value("sadness")
    at.selectbox(key=state.KEY_SPEAKER).set_value("KS0").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key=state.KEY_SENTENCE).set_value(last).run()
    assert not at.exception and not at.error
    grids = representation_grids(at)
    assert len(grids) == 1
    spec = grids[0]
    assert len(spec["data"]) == 13  # 11 heatmaps + zcr and rms lines
    kinds = [d["type"] for d in spec["data"]]
    assert kinds.count("scatter") == 2 and kinds.count("heatmap") == 11
    file_id = at.session_state[state.CURRENT_CLIP]["file_id"]
    assert file_id.startswith("KS0_sadness_")
    assert meta.set_index("file_id").at[file_id, "sentence_id"] == last
    assert file_id in "\n".join(m.value for m in at.markdown)
    # the single-representation view follows its selectbox
    at.selectbox(key=state.KEY_SINGLE_REP).set_value("hpss").run()
    assert not at.exception


def mel_figures(at: AppTest) -> int:
    """How many figures are titled with the mel spectrogram's title."""
    layouts = [json.loads(el.proto.spec)["layout"] for el in at.get("plotly_chart")]
    return sum(lay.get("title", {}).get("text") == features.get("mel").title for lay in layouts)


def test_hear_it_in_a_real_room(meta):
    """The clip under every condition: a player each, and its mel beside it."""
    at = run_page()
    assert any(t.key == state.KEY_ROOM for t in at.toggle)
    mels, players = mel_figures(at), len(at.get("audio"))
    at.toggle(key=state.KEY_ROOM).set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    names = conditions.condition_names()
    assert len(at.get("audio")) == players + len(names)  # one player per condition
    labels = "\n".join(m.value for m in at.markdown)
    assert all(f"**{conditions.CONDITIONS[n].label}**" in labels for n in names)
    captions = "\n".join(c.value for c in at.caption)
    assert conditions.CONDITIONS["telephone"].description in captions
    assert mel_figures(at) == mels + len(names)
    at.number_input(key=state.KEY_ROOM_SEED).set_value(1).run()  # another room, other noise
    assert not at.exception and not at.error


def test_the_same_emotion_in_polish_and_in_english(meta):
    from ser_core import ravdess

    if not ravdess.ravdess_available():
        pytest.skip("RAVDESS is absent: set RAVDESS_DIR to the shared copy")
    at = run_page()
    at.selectbox(key=state.KEY_PAIR_EMOTION).set_value("anger")
    at.number_input(key=state.KEY_PAIR_INDEX).set_value(2).run()
    assert not at.exception, [e.value for e in at.exception]
    sides = [
        m.value for m in at.markdown if m.value.startswith(("**nEMO (Polish)**", "**RAVDESS (English)**"))
    ]
    assert len(sides) == 2 and all("(female)" in v for v in sides)  # pair 2: two women
    charts = {el.key: json.loads(el.proto.spec) for el in at.get("plotly_chart")}
    assert {"pair.nemo", "pair.ravdess"} <= set(charts)
    scales = [charts[k]["layout"]["coloraxis"] for k in ("pair.nemo", "pair.ravdess")]
    assert scales[0]["cmin"] == scales[1]["cmin"] and scales[0]["cmax"] == scales[1]["cmax"]  # one scale


def test_random_clip_button(nemo_dir):
    at = run_page()
    at.button(key=f"{state.DATASET}.random").click().run()
    assert not at.exception and not at.error
    assert len(representation_grids(at)) == 1


def test_without_corpus_says_how_to_get_it(no_corpus):
    at = run_page()
    assert any(data.HOW_TO_GET in i.value for i in at.info)
    # only the upload is offered; nothing drawn until a file arrives
    assert not [r for r in at.radio if r.key == state.KEY_SOURCE]
    assert at.get("file_uploader")
    assert not representation_grids(at)
    assert not at.error


def test_without_corpus_or_summaries(no_corpus, no_summaries):
    at = run_page()
    infos = "\n".join(i.value for i in at.info)
    assert data.HOW_TO_GET in infos and "python -m ser_core eda-summary" in infos
    assert not at.get("plotly_chart")


def test_summary_sections(fake_artifacts, no_corpus):
    at = run_page()
    assert not at.error, [e.value for e in at.error]
    assert not any("eda-summary" in i.value for i in at.info)
    assert any("summaries shipped with the app" in c.value for c in at.caption)  # not the corpus
    n = len(at.get("plotly_chart"))
    assert n == 7  # counts, gender, age, durations, means, descriptor, projection
    at.toggle(key=state.KEY_MEANS_DIFF).set_value(True)
    at.selectbox(key=state.KEY_MEANS_REP).set_value("hpss")
    at.selectbox(key=state.KEY_DESCRIPTOR).set_value("f0_median")
    at.radio(key=state.KEY_DESCRIPTOR_KIND).set_value("violin")
    at.checkbox(key=state.KEY_DESCRIPTOR_GENDER).check()
    at.radio(key=state.KEY_PROJ_METHOD).set_value("tsne")
    at.radio(key=state.KEY_PROJ_COLOR).set_value("speaker").run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == n
    at.selectbox(key=state.KEY_MEANS_REP).set_value("rms").run()  # 1-bin: lines
    assert not at.exception and not at.error


def test_page_in_polish(meta):
    """A Polish session reads the whole page in Polish (#30): corpus overview, a corpus clip
    and its 13 representations, the averages, descriptors and projection."""
    at = run_page(lang="pl")
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Eksplorator zbioru danych"
    assert english_left(at) == []
    assert any("każdej emocji pada tych samych 90 zdań" in c.value for c in at.caption)
    assert at.selectbox(key=state.KEY_EMOTION).value == "anger"  # the value stays the label
    assert "złość" in at.selectbox(key=state.KEY_EMOTION).options
    assert at.radio(key=state.KEY_SOURCE).options == ["Nagranie z korpusu", "Prześlij plik"]
    grid = representation_grids_in(at, [features.get(n).title for n in features.names()], lang="pl")
    assert grid["layout"]["xaxis13"]["title"]["text"] == "czas (s)"


def test_rooms_in_polish(meta):
    at = run_page(lang="pl")
    # AppTest calls the widgets' format_func in this thread to send their values back: it
    # must format them in the session's language too
    with language("pl"):
        at.toggle(key=state.KEY_ROOM).set_value(True).run()  # the conditions, their tabs
    assert not at.exception and not at.error
    assert [t.label for t in at.get("tab")][:2] == ["Bez zakłóceń", "Sale"]
    assert english_left(at) == []
    assert not any("**Lecture hall**" in m.value for m in at.markdown)


def representation_grids_in(at: AppTest, titles: list[str], *, lang: str) -> dict:
    """The one figure whose subplot titles start with the representations' titles in ``lang``."""
    with language(lang):
        wanted = [gettext(t) for t in titles]
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        got = [a.get("text", "") for a in spec["layout"].get("annotations", [])]
        if len(got) == len(wanted) and all(t.startswith(w) for t, w in zip(got, wanted)):
            return spec
    raise AssertionError("no figure of the 13 representations")


def test_summary_sections_in_polish(fake_artifacts, meta):
    """The summaries' sections (averages, descriptors split by gender, projection by
    speaker) in Polish."""
    at = run_page(lang="pl")
    assert not at.error, [e.value for e in at.error]
    assert at.radio(key=state.KEY_DESCRIPTOR_KIND).options == ["pudełkowy", "skrzypcowy"]
    with language("pl"):  # see test_rooms_in_polish
        at.checkbox(key=state.KEY_DESCRIPTOR_GENDER).check()
        at.radio(key=state.KEY_DESCRIPTOR_KIND).set_value("violin")
        at.radio(key=state.KEY_PROJ_COLOR).set_value("speaker").run()
    assert not at.exception and not at.error
    assert english_left(at) == []
    charts = {el.key: json.loads(el.proto.spec) for el in at.get("plotly_chart")}
    assert {t["name"] for t in charts["descriptor.fig"]["data"]} == {"kobieta", "mężczyzna"}
    assert charts["projection.fig"]["layout"]["legend"]["title"]["text"] == "mówca"
    assert any("Wskazówka: jeśli punkty grupują się według mówców" in c.value for c in at.caption)
