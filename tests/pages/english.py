"""Finding English left in a page drawn in another language (issue #30).

:func:`english_left` collects the text people read in an AppTest run (titles, markdown,
captions, alerts, widget labels, options and help, metrics, expanders, tabs, chart titles
and axis titles) and returns the pieces that still read as English: two or more words
that English uses and Polish does not.  Model and file names, units and numbers pass.
"""

from __future__ import annotations

import json
import re

from streamlit.testing.v1 import AppTest

#: Words of English that are not Polish words (so "to", "a", "no", "on", "model" are out).
ENGLISH = frozenset(
    """the and of with your you is are this that these those from for which what when where how
    each every clip clips speaker speakers emotion emotions file files upload uploaded click choose
    shows show than more less here there will can cannot would should been has have was were only
    into over under its their they them it's don't doesn't isn't our any all some one two three
    none before after about why because between without within while then out first last
    probability probabilities accuracy voice voices test training train model's people listen
    hear heard explain explanation attack attacks""".split()  # noqa: SIM905 - a paragraph reads better
)
_WORD = re.compile(r"[A-Za-z']+")


def is_english(text: str) -> bool:
    """True when ``text`` holds at least two English-only words (code spans, icon names and
    quotations ignored)."""
    text = re.sub(r"`[^`]*`", " ", text)  # names in code font: model names, commands
    text = re.sub(r":material/[a-z_]+:", " ", text)  # icon names (a badge's markdown holds its icon)
    text = re.sub(r"[„“][^”]*”", " ", text)  # a quotation: RAVDESS's actors speak English
    text = re.sub(r"\w*_\w*", " ", text)  # identifiers: model names, an icon drawn by its name
    words = [w.lower() for w in _WORD.findall(text)]
    return sum(w in ENGLISH for w in words) >= 2


def _chart_texts(spec: str) -> list[str]:
    fig = json.loads(spec)
    layout = fig.get("layout", {})
    out = []
    for key, value in layout.items():
        if isinstance(value, dict) and (key.startswith(("xaxis", "yaxis")) or key == "title"):
            title = value.get("title", value) if key != "title" else value
            if isinstance(title, dict) and isinstance(title.get("text"), str):
                out.append(title["text"])
    for ann in layout.get("annotations", []):
        out.append(str(ann.get("text", "")))
    for trace in fig.get("data", []):
        if isinstance(trace.get("name"), str):
            out.append(trace["name"])
    return out


def page_texts(at: AppTest) -> list[str]:
    """Every piece of text of the run's main area and sidebar that people read."""
    texts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
    ):
        texts += [str(e.value) for e in getattr(at, kind)]
    for kind in (
        "button",
        "selectbox",
        "multiselect",
        "radio",
        "slider",
        "select_slider",
        "checkbox",
        "toggle",
        "text_input",
        "number_input",
        "text_area",
        "expander",
        "tabs",
        "metric",
    ):
        for e in at.get(kind) if kind in ("expander", "tabs", "metric") else getattr(at, kind):
            label = getattr(e, "label", None) or getattr(getattr(e, "proto", None), "label", "")
            texts.append(str(label))
            texts.append(str(getattr(getattr(e, "proto", None), "help", "") or ""))
            for opt in getattr(e, "options", []) or []:
                texts.append(str(opt))
    for chart in at.get("plotly_chart"):
        texts += _chart_texts(chart.proto.spec)
    return [t for t in texts if t]


def english_left(at: AppTest) -> list[str]:
    """The texts of ``at`` that still read as English."""
    return [t for t in page_texts(at) if is_english(t)]
