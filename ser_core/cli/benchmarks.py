"""Corpus-wide benchmarks of the explanations (xai-eval) and of the attacks (attack-eval)."""

from __future__ import annotations

import argparse
import sys
import time

from .. import attacks, data, explain, tracking
from ..config import EMOTIONS
from ..errors import ConfigError
from .attack_defences import add_defence_args, run_defences, wants_defences
from .base import arguments, command, command_line, corpus_arg

#: The printed columns of ``xai-eval``: score -> (title, width).
_XAI_COLUMNS = {
    "auc": ("del-AUC", 9),
    "drop10": ("drop@10%", 10),
    "drop20": ("drop@20%", 10),
    "insertion_auc": ("ins-AUC", 9),
    "ai": ("AI", 9),
    "ad": ("AD", 9),
    "ag": ("AG", 9),
    "ff": ("FF", 8),
    "fid_in": ("Fid-In", 8),
}
_XAI_HEADER = f"{'method':<12}" + "".join(f"{t:>{w}}" for t, w in _XAI_COLUMNS.values())


def _xai_eval_args(p: argparse.ArgumentParser) -> None:
    d = explain.XAIOptions()
    corpus_arg(p)
    p.add_argument("--model", default="resnet18_mel", help="shipped spectrogram model")
    p.add_argument(
        "--n",
        type=int,
        default=300,
        help="clips from the seed test split, stratified by emotion (default 300)",
    )
    p.add_argument(
        "--methods",
        default=None,
        help="comma-separated explainers (default: every one available for the model)",
    )
    p.add_argument(
        "--top-k",
        type=float,
        default=explain.MASK_TOP_K,
        help="fraction of the bins a map's mask keeps for AI, AD, AG, FF and Fid-In (default 0.2)",
    )
    p.add_argument(
        "--own-masks",
        default="",
        help="comma-separated methods whose map already is a mask in 0..1 (e.g. lmac), scored as it is",
    )
    p.add_argument("--lime-samples", type=int, default=d.lime_samples)
    p.add_argument("--smoothgrad-samples", type=int, default=d.smoothgrad_samples)
    p.add_argument("--smoothgrad-noise", type=float, default=d.smoothgrad_noise)
    p.add_argument("--steps", type=int, default=d.deletion_steps, help="deletion steps to 100 %%")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", default=None, help="result file (default: artifacts/xai/faithfulness.json)")
    p.add_argument("--no-mlflow", action="store_true")


@command(
    "xai-eval",
    "faithfulness of the explanations (deletion, insertion, AI/AD/AG/FF/Fid-In) on seed-test clips",
)
@arguments(_xai_eval_args)
def _xai_eval(a: argparse.Namespace) -> int:
    methods = [m.strip() for m in a.methods.split(",") if m.strip()] if a.methods else None
    own = [m.strip() for m in a.own_masks.split(",") if m.strip()]
    for m in [*(methods or []), *own]:
        explain.get_explainer(m)
    if not 0 < a.top_k <= 1:
        raise ConfigError(f"--top-k must lie in (0, 1], got {a.top_k!r}")
    opts = explain.XAIOptions(
        lime_samples=a.lime_samples,
        smoothgrad_samples=a.smoothgrad_samples,
        smoothgrad_noise=a.smoothgrad_noise,
        deletion_steps=a.steps,
        seed=a.seed,
    )
    meta = data.load_metadata(a.nemo_dir)
    t0 = time.time()

    def progress(done: int, total: int) -> None:
        el = time.time() - t0
        print(
            f"\r{done}/{total} clips, {el:.0f} s (about {el / done * (total - done):.0f} s left)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    scores, info = explain.faithfulness_benchmark(
        meta,
        model_name=a.model,
        n=a.n,
        options=opts,
        methods=methods,
        top_k=a.top_k,
        own_masks=own,
        progress=progress,
    )
    print(file=sys.stderr)
    summary = explain.summarise_faithfulness(scores)
    info = {
        **info,
        "seconds": round(time.time() - t0, 1),
        "command": command_line(a),
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    path = explain.save_deletion_table(summary, info, a.out or explain.faithfulness_table_path())
    overall = summary[summary["emotion"] == "all"]
    print(
        f"faithfulness of {a.model} on {info['n_clips']} seed test clips ({info['seconds']:.0f} s); "
        f"mask: top {a.top_k:.0%} of the bins; lower is better for del-AUC and AD, higher for the rest"
    )
    print(_XAI_HEADER)
    for r in overall.itertuples():
        print(f"{r.method:<12}" + "".join(f"{getattr(r, k):>{w}.3f}" for k, (_t, w) in _XAI_COLUMNS.items()))
    print(f"wrote {path}")
    if not a.no_mlflow:
        import mlflow  # optional heavy dependency: only when logging

        with mlflow.start_run(
            experiment_id=tracking.experiment_id(explain.XAI_EXPERIMENT),
            run_name=f"xai-eval {a.model} n={info['n_clips']}",
        ):
            mlflow.log_params(
                {"model": a.model, "n_clips": info["n_clips"], **{k: v for k, v in info["options"].items()}}
            )
            mlflow.log_metrics(
                {
                    f"{r.method}_{k}{'' if r.emotion == 'all' else '_' + r.emotion}": float(getattr(r, k))
                    for r in summary.itertuples()
                    for k in explain.FAITHFULNESS_SCORES
                }
            )
            mlflow.log_artifact(str(path))
        print("logged to MLflow (experiment nemo-ser-xai)")
    return 0


def _attack_eval_args(p: argparse.ArgumentParser) -> None:
    corpus_arg(p)
    p.add_argument("--model", default="resnet18_mel", help="shipped model on the mel representation")
    p.add_argument("--attack", default="fgsm", help="spectrogram attack: fgsm or pgd")
    p.add_argument(
        "--epsilons",
        default=None,
        help="comma-separated, in normalised input units (default: 0 to 0.1, 13 values)",
    )
    p.add_argument("--steps", type=int, default=10, help="iterations of pgd")
    p.add_argument("--max-clips", type=int, default=None, help="random subset of the test clips")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", default=None, help="CSV (default: artifacts/attacks/robustness.csv)")
    p.add_argument("--no-mlflow", action="store_true")
    add_defence_args(p)


@command("attack-eval", "test accuracy against the epsilon of an adversarial attack (MLflow-logged)")
@arguments(_attack_eval_args)
def _attack_eval(a: argparse.Namespace) -> int:
    if wants_defences(a):  # the defences / per-emotion margin run (waveform attacks)
        return run_defences(a)
    eps = attacks.parse_epsilons(a.epsilons) if a.epsilons else attacks.DEFAULT_EPSILONS
    meta = data.load_metadata(a.nemo_dir)
    t0 = time.time()

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} clips, {time.time() - t0:.0f} s", end="", file=sys.stderr, flush=True)

    df = attacks.evaluate_shipped(
        a.model,
        meta,
        attack=a.attack,
        epsilons=eps,
        steps=a.steps,
        max_clips=a.max_clips,
        batch_size=a.batch_size,
        progress=progress,
    )
    print(file=sys.stderr)
    path = attacks.save_robustness(df, a.out)
    first = df.iloc[0]
    print(
        f"{a.model} · {a.attack} on the {first['protocol']} test split ({int(first['n'])} clips, "
        f"{time.time() - t0:.0f} s)"
    )
    cols = ["epsilon", "accuracy", "snr_db", *EMOTIONS]
    print(
        df[cols].to_string(
            index=False, float_format=lambda v: f"{v:.3f}", formatters={"epsilon": lambda v: f"{v:g}"}
        )
    )
    print(f"wrote {path}")
    if not a.no_mlflow:
        print(f"mlflow run {attacks.log_robustness(df, artifact=path)}")
    return 0
