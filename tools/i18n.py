"""The translation catalogs, kept with Babel: extract, update, compile, check.

``python tools/i18n.py update`` extracts every marked message of the app (``_``,
``gettext``, ``ngettext``, ``N_`` in ``ser_core/``, ``ui/``, ``pages/`` and ``app.py``)
into ``ser_core/locale/messages.pot``, merges it into each language's ``messages.po``
(new messages empty, vanished ones dropped), fills translations from any JSON files
given with ``--from`` (``{"msgid": "msgstr"}``, or a list of forms for a plural; a message
with a context is keyed ``"context\u0004msgid"``), and
compiles each ``messages.mo``.  ``python tools/i18n.py check`` prints what is missing
or stale and exits 1 (the test ``tests/test_i18n.py`` runs the same check).
``python tools/i18n.py missing FILE...`` lists the untranslated messages of some files.

The same catalogs can be kept with Babel's own command line (``babel.cfg``)::

    pybabel extract -F babel.cfg --no-location -o ser_core/locale/messages.pot .
    pybabel update -i ser_core/locale/messages.pot -d ser_core/locale --no-location
    pybabel compile -d ser_core/locale
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = ROOT / "ser_core" / "locale"
POT = LOCALE_DIR / "messages.pot"
#: Where marked messages are looked for.
SOURCES = ("app.py", "ser_core", "ui", "pages")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None}
#: Languages with a catalog (the source language, English, has none).
LANGUAGES = ("pl",)
#: A fixed header date: catalogs change only when messages do.
STAMP = datetime(2026, 12, 5, tzinfo=UTC)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([a-zA-Z_][a-zA-Z0-9_]*)?(?:[:!][^{}]*)?\}(?!\})")


def source_files(paths: Iterable[str] = SOURCES) -> list[Path]:
    """The Python files that may hold marked messages, sorted."""
    out: list[Path] = []
    for p in paths:
        path = ROOT / p
        out.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return out


def extract(files: Iterable[Path] | None = None) -> Catalog:
    """A template catalog of every marked message in ``files`` (default: the app)."""
    cat = Catalog(project="nEMO speech emotion explorer", creation_date=STAMP, revision_date=STAMP)
    for path in files if files is not None else source_files():
        rel = path.relative_to(ROOT).as_posix()
        for lineno, message, comments, context in extract_from_file(
            "python", path, keywords=KEYWORDS, comment_tags=("Translators:",)
        ):
            cat.add(message, locations=[(rel, lineno)], auto_comments=comments, context=context)
    return cat


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"


def read_catalog(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, creation_date=STAMP, revision_date=STAMP)
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _po_bytes(cat: Catalog) -> bytes:
    buf = io.BytesIO()
    write_po(buf, cat, include_lineno=False, omit_header=False, sort_output=True, width=100)
    return buf.getvalue()


def _mo_bytes(cat: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    return buf.getvalue()


def message_key(msg) -> str:
    """How a fragment names a message: its (singular) msgid, after ``context\x04`` if any."""
    key = msg.id[0] if isinstance(msg.id, tuple) else msg.id
    return f"{msg.context}\x04{key}" if msg.context else key


def load_fragments(paths: Iterable[Path]) -> dict[str, str | list[str]]:
    """Translations from JSON files (later files win)."""
    out: dict[str, str | list[str]] = {}
    for p in paths:
        out.update(json.loads(Path(p).read_text(encoding="utf-8")))
    return out


def update(fragments: Iterable[Path] = ()) -> None:
    """Extract, merge into every language, fill from ``fragments``, write .pot/.po/.mo."""
    template = extract()
    POT.parent.mkdir(parents=True, exist_ok=True)
    POT.write_bytes(_po_bytes(template))
    filled = load_fragments(fragments)
    for lang in LANGUAGES:
        cat = read_catalog(lang)
        cat.update(template, no_fuzzy_matching=True)
        cat.obsolete.clear()
        cat.creation_date = cat.revision_date = STAMP
        for msg in cat:
            if not msg.id:
                continue
            key = message_key(msg)
            if key in filled:
                new = filled[key]
                msg.string = tuple(new) if isinstance(msg.id, tuple) else new
                msg.flags.discard("fuzzy")
        po_path(lang).parent.mkdir(parents=True, exist_ok=True)
        po_path(lang).write_bytes(_po_bytes(cat))
        po_path(lang).with_suffix(".mo").write_bytes(_mo_bytes(cat))


def _placeholders(text: str) -> set[str]:
    return {m.group(1) or "" for m in _PLACEHOLDER.finditer(text)}


def untranslated(cat: Catalog, ids: Iterable[str | tuple] | None = None) -> list[str]:
    """Messages of ``cat`` (or just ``ids``) with no translation, a fuzzy one, or one
    whose ``{placeholders}`` differ from the English."""
    wanted = None if ids is None else {i[0] if isinstance(i, tuple) else i for i in ids}
    bad = []
    for msg in cat:
        if not msg.id:
            continue
        key = msg.id[0] if isinstance(msg.id, tuple) else msg.id
        if wanted is not None and key not in wanted:
            continue
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        english = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        want = set().union(*(_placeholders(e) for e in english))
        if "fuzzy" in msg.flags or not all(strings):
            bad.append(f"untranslated: {key!r}")
        elif any(_placeholders(s) - want for s in strings) or not want <= set().union(
            *(_placeholders(s) for s in strings)
        ):
            bad.append(f"placeholders differ: {key!r}")
    return bad


def check() -> list[str]:
    """Everything that is out of date: the template, each catalog and its compiled file."""
    problems = []
    template = extract()
    if not POT.exists() or POT.read_bytes() != _po_bytes(template):
        problems.append(f"{POT.relative_to(ROOT)} is out of date: run `python tools/i18n.py update`")
    want = {m.id for m in template if m.id}
    for lang in LANGUAGES:
        cat = read_catalog(lang)
        have = {m.id for m in cat if m.id}
        problems += [f"{lang}: not in the catalog: {m!r}" for m in sorted(want - have, key=str)]
        problems += [f"{lang}: no longer in the code: {m!r}" for m in sorted(have - want, key=str)]
        problems += [f"{lang}: {p}" for p in untranslated(cat)]
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != _mo_bytes(cat):
            problems.append(f"{mo.relative_to(ROOT)} is not compiled from its .po")
    return problems


def missing(files: list[Path], fragments: Iterable[Path] = ()) -> list[str]:
    """Messages of ``files`` that neither the Polish catalog nor ``fragments`` translate."""
    done = load_fragments(fragments)
    cat = read_catalog("pl")
    out = []
    for msg in extract(files):
        if not msg.id:
            continue
        key = msg.id[0] if isinstance(msg.id, tuple) else msg.id
        known = cat.get(msg.id)
        if key in done or (known is not None and known.string and not untranslated(cat, [msg.id])):
            continue
        out.append(key)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("update", help="extract, merge, fill from JSON, compile")
    up.add_argument("--from", dest="fragments", nargs="*", default=[], type=Path)
    sub.add_parser("check", help="exit 1 when a catalog is missing or out of date")
    mi = sub.add_parser("missing", help="untranslated messages of some files")
    mi.add_argument("files", nargs="+", type=Path)
    mi.add_argument("--from", dest="fragments", nargs="*", default=[], type=Path)
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.fragments)
        return 0
    if args.command == "check":
        problems = check()
        print("\n".join(problems) or "catalogs complete and up to date")
        return 1 if problems else 0
    files = [f.resolve() for f in args.files]
    left = missing(files, args.fragments)
    print("\n".join(left) or "every message of these files is translated")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
