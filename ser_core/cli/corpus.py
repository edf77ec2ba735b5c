"""Commands on the corpus and its features: representations, info, splits, cache,
download, eda-summary, and the feedback store's donations."""

from __future__ import annotations

import argparse
import json
import sys
import time

from .. import __version__, cache, data, eda, features
from ..config import artifacts_dir, cache_dir
from ..errors import ConfigError, SERError
from ..feedback import FeedbackStore
from .base import arguments, command, corpus_arg


@command("representations", "list the 13 acoustic representations")
@arguments(lambda p: p.add_argument("--json", action="store_true", help="machine-readable output"))
def _representations(a: argparse.Namespace) -> int:
    rows = []
    for spec in features.REGISTRY.values():
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "family": spec.family,
                "shape": list(features.output_shape(spec.name)),
                "key": spec.cache_key(),
                "description": spec.description,
            }
        )
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<18}{'family':<10}{'shape (C, F, T)':<18}description")
    for r in rows:
        print(f"{r['name']:<18}{r['family']:<10}{str(tuple(r['shape'])):<18}{r['description']}")
    return 0


@command("info", "show where the corpus, cache and artifacts are")
@arguments(corpus_arg)
def _info(a: argparse.Namespace) -> int:
    print(f"ser_core {__version__}")
    print(f"artifacts: {artifacts_dir()}")
    print(f"feature cache: {cache_dir()}")
    try:
        meta = data.load_metadata(a.nemo_dir)
    except SERError as exc:
        print(f"corpus: not found ({exc})")
        return 0
    print(f"corpus: {data.find_corpus(a.nemo_dir)} ({len(meta)} clips, {meta.speaker.nunique()} speakers)")
    ids = list(meta.file_id)
    for n in features.names():
        print(f"  cache {n:<18} {'ready' if cache.is_cached(n, ids) else 'missing'}")
    return 0


@command("splits", "write the seed and loso protocol CSVs to artifacts/splits")
@arguments(corpus_arg)
def _splits(a: argparse.Namespace) -> int:
    meta = data.load_metadata(a.nemo_dir)
    for p in data.save_splits(meta).values():
        print(f"wrote {p}")
    return 0


def _cache_args(p: argparse.ArgumentParser) -> None:
    corpus_arg(p)
    p.add_argument(
        "--representation",
        "-r",
        action="append",
        default=None,
        help="one representation (repeat for several; default: all 13)",
    )
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.add_argument(
        "--stats",
        action="store_true",
        help="also store normalisation statistics of every protocol fold's training part",
    )


@command("cache", "compute the feature cache of the whole corpus")
@arguments(_cache_args)
def _cache(a: argparse.Namespace) -> int:
    meta = data.load_metadata(a.nemo_dir)
    t0 = time.time()
    dirs = cache.build(meta, a.representation, workers=a.workers, force=a.force)
    print(
        f"feature cache ready for {len(dirs)} representations, {len(meta)} clips in {time.time() - t0:.1f} s"
    )
    for n, d in dirs.items():
        print(f"  {n:<18} {d}")
    if a.stats:
        for n in dirs:
            for protocol in data.PROTOCOLS:
                for fold in range(data.n_folds(protocol)):
                    cache.norm_stats(n, meta, protocol=protocol, fold=fold)
        print(
            f"normalisation statistics stored for {len(dirs)} representations "
            f"(seed + {data.n_folds('loso')} loso folds, training parts only)"
        )
    return 0


@command("download", "download nEMO from upstream (needs internet)")
@arguments(
    lambda p: (
        p.add_argument("--dest", default=None, help="target folder (default: data/nEMO)"),
        p.add_argument("--url", default=None, help="archive URL (default: upstream)"),
    )
)
def _download(a: argparse.Namespace) -> int:
    kw = {"url": a.url} if a.url else {}
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.time() - last[0] > 1:
            last[0] = time.time()
            pct = f" ({100 * done / total:.0f}%)" if total else ""
            print(f"\r{done / 1e6:.1f} MB{pct}", end="", file=sys.stderr, flush=True)

    root = data.download(a.dest, progress=progress, **kw)
    print(f"\nnEMO is in {root}; set NEMO_DIR={root}")
    return 0


@command("eda-summary", "precompute the dataset page's summaries into artifacts/eda")
@arguments(
    lambda p: (
        corpus_arg(p),
        p.add_argument("--workers", type=int, default=None),
        p.add_argument("--skip-descriptors", action="store_true", help="reuse the existing clip descriptors"),
    )
)
def _eda_summary(a: argparse.Namespace) -> int:
    meta = data.load_metadata(a.nemo_dir)
    for p in eda.build_summaries(meta, workers=a.workers, descriptors=not a.skip_descriptors):
        print(f"wrote {p}")
    return 0


@command("feedback", "feedback store: `feedback export DIR` writes donations in nEMO's layout")
@arguments(
    lambda p: (
        p.add_argument("action", choices=["export", "stats"]),
        p.add_argument("dest", nargs="?", default=None, help="export folder"),
        p.add_argument(
            "--data-dir",
            default=None,
            help="feedback data folder (default: $SER_DATA_DIR or ~/.local/share/nemo-ser)",
        ),
    )
)
def _feedback(a: argparse.Namespace) -> int:
    store = FeedbackStore(a.data_dir)
    rows = store.rows()
    if a.action == "stats":
        donated = sum(1 for r in rows if r["donation"])
        right = sum(1 for r in rows if r["correct"] and r["correct"] == r["predicted"])
        judged = sum(1 for r in rows if r["correct"])
        print(
            f"{len(rows)} feedback rows in {store.db}; {donated} donated recordings; "
            f"model right in {right} of {judged} judged predictions"
        )
        return 0
    if not a.dest:
        raise ConfigError("feedback export needs a destination folder: feedback export DIR")
    out = store.export_nemo(a.dest)
    n = len((out / "data.tsv").read_text().splitlines()) - 1
    print(f"exported {n} labelled donations to {out} (data.tsv + samples/)")
    return 0
