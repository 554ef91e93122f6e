"""What `train.runtime.deterministic` costs, and whether runs with it repeat their losses.

Run by hand from the repository root after `dvc repro` (it reads data/prepared):

    python benchmarks/determinism.py --rows 3000 --repeat 2          # CPU, a slice
    python benchmarks/determinism.py --backend jax --repeat 2        # a GPU, all rows

Each run is its own process, as the train stage would run it (`choose_backend`, then
`apply_runtime`, the pipeline's model and fit loop; no MLflow): "off" with params.yaml's
runtime, "on" with `deterministic: true`, alternating. Prints each run's fit time, the
fastest on/off ratio, and whether the runs of each setting gave bit-identical losses and
validation metrics.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SETTINGS = {"off": False, "on": True}


def run_once(args: argparse.Namespace, deterministic: bool) -> dict[str, object]:
    from imdb_sentiment.config import BaseParams, TrainParams, load_params, load_section
    from imdb_sentiment.modeling.runtime import choose_backend

    params = load_params(args.params)
    cfg = load_section(params, "train", TrainParams)
    runtime = dataclasses.replace(cfg.runtime, deterministic=deterministic)
    if args.backend:
        runtime = dataclasses.replace(runtime, backend=args.backend)
    fit = cfg.fit if args.epochs is None else dataclasses.replace(cfg.fit, epochs=args.epochs)
    backend = choose_backend(runtime)

    import keras

    from imdb_sentiment.data.prepared import load_split
    from imdb_sentiment.files import read_json
    from imdb_sentiment.modeling.fit import fit_model
    from imdb_sentiment.modeling.model import build_model, compile_model
    from imdb_sentiment.modeling.runtime import apply_runtime

    meta = read_json(args.prepared / "meta.json")
    x, y = load_split(args.prepared / "train.npz")
    step = max(1, len(y) // args.rows) if args.rows else 1  # spread: the split is label-sorted
    rows = slice(0, step * args.rows if args.rows else None, step)
    apply_runtime(runtime)
    keras.utils.set_random_seed(load_section(params, "base", BaseParams).seed)
    model = build_model(cfg.model, meta["max_features"], meta["maxlen"])
    compile_model(model, fit, runtime, len(y[rows]))
    result = fit_model(model, (x[rows], y[rows]), load_split(args.prepared / "val.npz"), fit)
    return {
        "backend": backend,
        "fit_seconds": result.fit_seconds,
        "epoch_seconds": [row["epoch_seconds"] for row in result.history],
        "figures": [
            [row[k] for k in ("loss", "accuracy", "val_loss", "val_accuracy")]
            for row in result.history
        ],
    }


def measure(args: argparse.Namespace, setting: str) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--child", setting, "--out", out.name]
        command += ["--prepared", str(args.prepared), "--params", str(args.params)]
        for flag in ("backend", "rows", "epochs"):
            if getattr(args, flag) is not None:
                command += [f"--{flag}", str(getattr(args, flag))]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "JAX_ENABLE_COMPILATION_CACHE": "false"}
        subprocess.run(command, env=env, check=True)
        return json.loads(Path(out.name).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--backend", help="default: as the train stage picks (auto)")
    parser.add_argument("--rows", type=int, help="train on ROWS evenly spaced rows only")
    parser.add_argument("--epochs", type=int, help="instead of train.fit.epochs")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of off, on")
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        args.out.write_text(json.dumps(run_once(args, SETTINGS[args.child])))
        return
    runs: dict[str, list[dict[str, object]]] = {setting: [] for setting in SETTINGS}
    for _ in range(args.repeat):
        for setting in SETTINGS:
            runs[setting].append(measure(args, setting))
    for setting, results in runs.items():
        fits = ", ".join(f"{r['fit_seconds']:.2f}" for r in results)
        epochs = "; ".join(", ".join(f"{s:.2f}" for s in r["epoch_seconds"]) for r in results)
        repeats = all(r["figures"] == results[0]["figures"] for r in results)
        print(
            f"deterministic {setting} ({results[0]['backend']}): fit {fits} s; epochs {epochs} s; "
            f"bit-identical losses and val metrics across runs: {repeats}; "
            f"last epoch {results[0]['figures'][-1]}",
            flush=True,
        )
    best = {setting: min(r["fit_seconds"] for r in results) for setting, results in runs.items()}
    print(f"fastest fit, on/off: {best['on'] / best['off']:.3f}")


if __name__ == "__main__":
    main()
