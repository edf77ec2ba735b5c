"""The explain page's corpus clip picker: filters by split, emotion and speaker, every
clip of the filtered list reachable (selectbox, previous / next, random), and each clip
labelled with its part of the shown model's training split.

Which clips a model trained on comes from its card (``training.protocol``, ``fold``,
``train_on_val``) and the protocol's split file (:func:`ser_core.data.split_indices`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import data
from ser_core.config import EMOTIONS, artifacts_dir
from ser_core.errors import SERError
from ser_core.i18n import emotion_name
from ui.i18n import N_, _, ngettext
from ui.models import model_card
from ui.state import (
    CURRENT_CLIP,
    KEY_XAI_EMOTION,
    KEY_XAI_FILE,
    KEY_XAI_NEXT,
    KEY_XAI_PREV,
    KEY_XAI_RANDOM,
    KEY_XAI_SPEAKER,
    KEY_XAI_SPLIT,
    keep_valid,
)

#: Split filter choices; "test" is the default (clips the model never trained on).
#: English, marked: shown as ``_(SPLIT_FILTER[split])``.
SPLIT_FILTER = {
    "test": N_("test clips"),
    "val": N_("validation clips"),
    "train": N_("training clips"),
    "all": N_("all clips"),
}
#: The "no filter" choice of the emotion and speaker filters.
ANY = "any"


@st.cache_data(show_spinner=False, max_entries=8)
def _parts(_meta: pd.DataFrame, corpus_key: str, protocol: str, fold: int) -> dict[str, str] | None:
    try:
        sp = data.split_indices(_meta, protocol, fold=fold)
    except (SERError, OSError, ValueError):
        return None
    ids = _meta["file_id"].astype(str).to_numpy()
    return {ids[i]: part for part in ("train", "val", "test") for i in getattr(sp, part)}


def model_training(model_name: str) -> dict:
    """``{"protocol", "fold", "train_on_val"}`` of a model's card ({} when unknown, e.g. an ensemble)."""
    tr = model_card(model_name).get("training") or {}
    if "protocol" not in tr:
        return {}
    return {
        "protocol": str(tr["protocol"]),
        "fold": int(tr.get("fold") or 0),
        "train_on_val": bool(tr.get("train_on_val")),
    }


def clip_parts(meta: pd.DataFrame, model_name: str) -> dict[str, str] | None:
    """``{file_id: "train" | "val" | "test"}`` in the model's training split, or None
    when the card names no split or the split file does not cover the corpus."""
    tr = model_training(model_name)
    if not tr:
        return None
    key = f"{artifacts_dir()}|{len(meta)}|{meta['file_id'].iloc[0]}|{meta['file_id'].iloc[-1]}"
    return _parts(meta, key, tr["protocol"], tr["fold"])


def part_label(part: str | None, *, train_on_val: bool = False) -> str:
    """Short label of a clip's part: ``"test"``, ``"validation"``, ``"training"`` (in the
    language of the run)."""
    if part is None:
        return _("split unknown")
    if part == "val":
        return _("validation, trained on") if train_on_val else _("validation")
    return {"test": _("test"), "train": _("training")}.get(part, part)


def part_sentence(part: str | None, model_name: str) -> str:
    """What a clip's part means for the shown model, in one sentence (markdown)."""
    tr = model_training(model_name)
    if part == "test" and tr.get("protocol") == "seed":
        text = _(
            "A **test** clip: {model} never trained on it (it did hear this speaker's other "
            "clips: seed split)."
        )
    elif part == "test":
        text = _("A **test** clip: {model} never trained on it.")
    elif part == "val" and tr.get("train_on_val"):
        text = _(
            "A **validation** clip that {model} was refit on: it trained on this clip, "
            "so a confident prediction here says little."
        )
    elif part == "val":
        text = _(
            "A **validation** clip: {model} did not train on it, but its training "
            "stopped and was calibrated on these clips."
        )
    elif part == "train":
        text = _(
            "A **training** clip: {model} learned from this very clip, so a "
            "confident prediction here says little. Pick a test clip to see how it generalises."
        )
    else:
        text = _("Which clips {model} trained on is not known (no split for it).")
    return text.format(model=model_name)


def _default_filters(meta: pd.DataFrame, parts: dict[str, str] | None) -> None:
    """First visit: open on the clip last shown in the dataset explorer, if any."""
    current = (st.session_state.get(CURRENT_CLIP) or {}).get("file_id")
    if KEY_XAI_EMOTION in st.session_state or current not in set(meta["file_id"]):
        return
    row = meta.loc[meta["file_id"] == current].iloc[0]
    st.session_state[KEY_XAI_EMOTION] = row["emotion"]
    st.session_state[KEY_XAI_FILE] = current
    if parts is not None:
        st.session_state[KEY_XAI_SPLIT] = parts.get(current, "all")


def _step(ids: list[str], how: str) -> None:
    """``on_click`` of the previous / next / random buttons: move :data:`KEY_XAI_FILE`."""
    if not ids:
        return
    cur = st.session_state.get(KEY_XAI_FILE)
    i = ids.index(cur) if cur in ids else -1
    if how == "random":
        others = [f for f in ids if f != cur] or ids
        st.session_state[KEY_XAI_FILE] = others[int(np.random.default_rng().integers(len(others)))]
    else:
        st.session_state[KEY_XAI_FILE] = ids[(i + (1 if how == "next" else -1)) % len(ids)]


def _filtered(meta: pd.DataFrame, parts: dict[str, str] | None) -> pd.DataFrame:
    """The filter widgets; the clips they let through, sorted by speaker and sentence."""
    has_split = parts is not None
    cols = st.columns([1, 1, 1] if has_split else [1, 1])
    rows = meta
    if has_split:
        keep_valid(KEY_XAI_SPLIT, list(SPLIT_FILTER))
        split = cols[0].selectbox(
            _("Split"),
            list(SPLIT_FILTER),
            format_func=lambda s: _(SPLIT_FILTER[s]),
            key=KEY_XAI_SPLIT,
            help=_("The shown model's training split: test clips are the ones it never trained on."),
        )
        if split != "all":
            rows = rows[rows["file_id"].map(parts).eq(split)]
    emotions = [ANY, *EMOTIONS]
    keep_valid(KEY_XAI_EMOTION, emotions)
    st.session_state.setdefault(KEY_XAI_EMOTION, EMOTIONS[0])  # one emotion at first: a short list
    emotion = cols[-2].selectbox(
        _("Emotion"),
        emotions,
        key=KEY_XAI_EMOTION,
        format_func=lambda e: _("any emotion") if e == ANY else emotion_name(e),
    )
    speakers = [ANY, *sorted(meta["speaker"].astype(str).unique())]
    keep_valid(KEY_XAI_SPEAKER, speakers)
    speaker = cols[-1].selectbox(
        _("Speaker"), speakers, key=KEY_XAI_SPEAKER, format_func=lambda s: _("any speaker") if s == ANY else s
    )
    if emotion != ANY:
        rows = rows[rows["emotion"] == emotion]
    if speaker != ANY:
        rows = rows[rows["speaker"].astype(str) == speaker]
    return rows.sort_values(["speaker", "sentence_id", "file_id"])


def xai_corpus_picker(meta: pd.DataFrame, model_name: str) -> dict | None:
    """Split / emotion / speaker filters, the clip selectbox and its buttons.

    Returns
    -------
    dict or None
        The chosen clip, ``{"id", "name", "path", "source", "emotion", "speaker",
        "part"}`` (``part``: ``"train"``, ``"val"``, ``"test"`` or None), or None
        when no clip passes the filters.
    """
    parts = clip_parts(meta, model_name)
    train_on_val = model_training(model_name).get("train_on_val", False)
    _default_filters(meta, parts)
    rows = _filtered(meta, parts)
    ids = rows["file_id"].astype(str).tolist()
    if not ids:
        st.info(_("No clip passes these filters: widen one of them."), icon=":material/filter_alt_off:")
        return None
    keep_valid(KEY_XAI_FILE, ids)
    text = dict(zip(rows["file_id"], rows["text"] if "text" in rows else rows["file_id"]))

    def label(f: str) -> str:
        split = f" · {part_label(parts.get(f), train_on_val=train_on_val)}" if parts is not None else ""
        return f"{f}{split} · “{text.get(f, '')}”"

    c1, c2, c3, c4 = st.columns([6, 1.2, 1.2, 1.6], vertical_alignment="bottom")
    n = len(ids)
    fid = c1.selectbox(
        ngettext("Clip: {n} matches the filters", "Clip: {n} match the filters", n).format(n=n),
        ids,
        key=KEY_XAI_FILE,
        format_func=label,
    )
    c2.button(_("Previous"), key=KEY_XAI_PREV, on_click=_step, args=(ids, "prev"), width="stretch")
    c3.button(_("Next"), key=KEY_XAI_NEXT, on_click=_step, args=(ids, "next"), width="stretch")
    c4.button(
        _("Random clip"),
        key=KEY_XAI_RANDOM,
        on_click=_step,
        args=(ids, "random"),
        width="stretch",
        help=_("A random clip among those the filters let through."),
    )
    if fid is None:
        return None
    row = meta.loc[meta["file_id"] == fid].iloc[0]
    return {
        "id": f"corpus:{fid}",
        "name": fid,
        "path": str(row["path"]),
        "source": "corpus",
        "emotion": str(row["emotion"]),
        "speaker": str(row["speaker"]),
        "part": None if parts is None else parts.get(fid),
    }
