"""Model cards on disk: the shipped models' folder, reading and writing cards.

A shipped model is ``<name>.safetensors`` (weights) beside ``<name>.json`` (its card:
architecture, input, metrics, how to reproduce it).  :func:`shipped_cards` is what every
page and ranking reads, once per state of the folder.  :mod:`ser_core.models` re-exports
these names.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from .config import artifacts_dir
from .errors import ModelFileError, UnknownNameError
from .i18n import N_

__all__ = [
    "folder_signature",
    "models_dir",
    "read_card",
    "save_card",
    "shipped",
    "shipped_cards",
]


def models_dir() -> Path:
    return artifacts_dir() / "models"


def save_card(card: dict, model_name: str, *, directory: Path | None = None) -> Path:
    """Write only ``<model_name>.json`` (a shipped model's card, its weights untouched)."""
    d = Path(directory or models_dir())
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{model_name}.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def shipped(directory: Path | None = None) -> list[str]:
    """Names of the models under ``artifacts/models`` (card and weights both present)."""
    d = Path(directory or models_dir())
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.json") if (d / f"{p.stem}.safetensors").exists())


def read_card(model_name: str, *, directory: Path | None = None) -> dict:
    """The JSON model card of a shipped model.

    Raises
    ------
    UnknownNameError
        No such card.
    ModelFileError
        The card is not a JSON object.
    """
    path = Path(directory or models_dir()) / f"{model_name}.json"
    if not path.exists():
        raise UnknownNameError(N_("no model card {path}"), path=str(path))
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # (UnicodeDecodeError too)
        raise ModelFileError(
            N_(
                "the model card {path} is damaged ({error}); restore it (`git checkout -- artifacts/models`) "
                "or re-create it with the `reproduce` command of {model}.json"
            ),
            path=str(path),
            error=f"{type(exc).__name__}: {exc}",
            model=model_name,
        ) from exc
    if not isinstance(card, dict):
        raise ModelFileError(
            N_(
                "the model card {path} is damaged (a JSON {type}, not an object); restore it "
                "(`git checkout -- artifacts/models`) or re-create it with the `reproduce` command of {model}.json"
            ),
            path=str(path),
            type=type(card).__name__,
            model=model_name,
        )
    return card


def folder_signature(directory: Path | None = None) -> tuple:
    """``(name, mtime_ns, size)`` of every card and weights file in the models folder: it
    changes whenever a model is shipped, re-shipped or removed (keys what is read from it)."""
    d = Path(directory or models_dir())
    files = [*d.glob("*.json"), *d.glob("*.safetensors")] if d.is_dir() else []
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:  # removed meanwhile
            continue
        out.append((f.name, st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


#: :func:`shipped_cards` by folder: ``(folder_signature, cards)``; read again when it changes.
_CARDS: dict[Path, tuple[tuple, dict[str, dict]]] = {}


def shipped_cards(directory: Path | None = None) -> dict[str, dict]:
    """The cards of the shipped models, by name; a damaged card is left out with a warning
    (so one bad file does not stop the others from being ranked and used).

    The cards are read once per state of the folder (:func:`folder_signature`), not on
    every call: every rerun of every page asks for them.  They are shared, so read them
    and never modify them (:func:`read_card` gives a fresh copy to change).
    """
    d = Path(directory or models_dir())
    signature = folder_signature(d)
    cached = _CARDS.get(d)
    if cached is not None and cached[0] == signature:
        return cached[1]
    out = {}
    for n in shipped(d):
        try:
            out[n] = read_card(n, directory=d)
        except ModelFileError as exc:
            warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
    _CARDS[d] = (signature, out)
    return out
