"""Train-stage code path vs a bare Keras loop: same model, data, config and machine.

Run by hand from the repository root after `dvc repro` (it reads data/prepared):

    python benchmarks/train_overhead.py                        # CPU, TensorFlow
    python benchmarks/train_overhead.py --backend jax --repeat 3 --cache-rounds   # a GPU

Each variant runs in its own process (fresh Keras, its own peak RSS): "bare" is the Keras
example written out plainly (Sequential, compile, fit); "pipeline" is `train_and_log`, the
train stage's code (the backend chosen as the stage chooses it, MLflow tracking and system
metrics into a temporary store, the per-epoch backups, model saving). The variants alternate
and each keeps its fastest round. Prints per-epoch times, throughput, peak memory and the
pipeline/bare ratios of the fit (compilation included) and of the steady (last) epoch.

On JAX the rounds run without the persistent compilation cache, so both variants compile.
`--cache-rounds` then fits each variant twice more with a fresh cache folder: the first
compiles and fills it (cold), the second loads from it (warm).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("bare", "pipeline")
BACKENDS = ("tensorflow", "jax", "torch")
NO_CACHE = {"JAX_ENABLE_COMPILATION_CACHE": "false"}


def run_bare(prepared: Path, params_path: Path, backend: str | None) -> dict[str, object]:
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    import keras

    from imdb_sentiment.config import BaseParams, TrainParams, load_params, load_section
    from imdb_sentiment.data.prepared import load_split
    from imdb_sentiment.files import read_json

    params = load_params(params_path)
    cfg = load_section(params, "train", TrainParams)
    m, fit = cfg.model, cfg.fit
    meta = read_json(prepared / "meta.json")
    (x, y), val = load_split(prepared / "train.npz"), load_split(prepared / "val.npz")
    keras.utils.set_random_seed(load_section(params, "base", BaseParams).seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(meta["maxlen"],), dtype="int32"),
            keras.layers.Embedding(meta["max_features"], m.embedding_dim),
            keras.layers.Dropout(m.dropout),
            keras.layers.Conv1D(m.filters, m.kernel_size, activation="relu"),
            keras.layers.MaxPooling1D(m.pool_size),
            keras.layers.LSTM(m.lstm_units),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(fit.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=cfg.runtime.steps_per_execution,
    )
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            times.append(time.perf_counter() - self.start)

    start = time.perf_counter()
    history = model.fit(
        x,
        y,
        batch_size=fit.batch_size,
        epochs=fit.epochs,
        validation_data=val,
        callbacks=[Timer()],
        verbose=2,
    )
    return {
        "fit_seconds": time.perf_counter() - start,
        "epoch_seconds": times,
        "loss": history.history["loss"],
        "val_accuracy": history.history["val_accuracy"][-1],
        "n_train": len(y),
        "backend": keras.backend.backend(),
    }


def run_pipeline(prepared: Path, params_path: Path, backend: str | None) -> dict[str, object]:
    from imdb_sentiment.config import load_pipeline_params
    from imdb_sentiment.modeling.runtime import choose_backend

    params = load_pipeline_params(params_path)
    if backend:
        runtime = dataclasses.replace(params.train.runtime, backend=backend)
        params = dataclasses.replace(
            params, train=dataclasses.replace(params.train, runtime=runtime)
        )
    start = time.perf_counter()
    chosen = choose_backend(params.train.runtime)  # as pipeline/train.py does

    from imdb_sentiment.stages.train import set_up_training, train_and_log
    from imdb_sentiment.tracking.store import connect

    with tempfile.TemporaryDirectory() as tmp:
        setup = set_up_training(params, prepared)
        store = connect(f"sqlite:///{Path(tmp) / 'mlflow.db'}", cwd=Path(tmp))
        outcome = train_and_log(setup, store, Path(tmp) / "model.keras")
        total = time.perf_counter() - start
    return {
        "fit_seconds": outcome.summary["fit_seconds"],
        "stage_seconds": total,
        "epoch_seconds": [row["epoch_seconds"] for row in outcome.history],
        "loss": [row["loss"] for row in outcome.history],
        "val_accuracy": outcome.summary["val_accuracy"],
        "backend": chosen,
    }


def measure(variant: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [
            sys.executable,
            __file__,
            "--variant",
            variant,
            "--prepared",
            str(args.prepared),
            "--params",
            str(args.params),
            "--out",
            out.name,
        ]
        if args.backend:
            command += ["--backend", args.backend]
        start = time.perf_counter()
        child_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
        proc = subprocess.Popen(command, env=child_env)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{variant} failed")
        result = json.loads(Path(out.name).read_text())
    result.update(process_seconds=time.perf_counter() - start, peak_rss_mib=usage.ru_maxrss / 1024)
    return result


def print_table(results: dict[str, dict[str, object]]) -> None:
    n_train = results["bare"]["n_train"]
    print(
        "\n| variant | fit (s) | epochs (s) | reviews/s (last epoch) | peak RSS (MiB) | "
        "process (s) | val acc |\n|---|---:|---|---:|---:|---:|---:|"
    )
    for name, r in results.items():
        epochs = r["epoch_seconds"]
        print(
            f"| {name} | {r['fit_seconds']:.2f} | {', '.join(f'{e:.2f}' for e in epochs)} | "
            f"{n_train / epochs[-1]:,.0f} | {r['peak_rss_mib']:,.0f} | "
            f"{r['process_seconds']:.1f} | {r['val_accuracy']:.4f} |"
        )
    bare, pipe = results["bare"], results["pipeline"]
    print(
        f"\nratio pipeline/bare: fit {pipe['fit_seconds'] / bare['fit_seconds']:.3f}, "
        f"steady (last) epoch {pipe['epoch_seconds'][-1] / bare['epoch_seconds'][-1]:.3f}, "
        f"per epoch {sum(pipe['epoch_seconds']) / sum(bare['epoch_seconds']):.3f}, "
        f"peak RSS {pipe['peak_rss_mib'] / bare['peak_rss_mib']:.3f}"
    )
    same = bare["loss"] == pipe["loss"]
    print(
        f"same losses in both variants: {same} (pipeline {pipe['loss']}, backend {pipe['backend']})"
    )


def cache_rounds(args: argparse.Namespace) -> None:
    """Each variant twice with a fresh JAX compilation cache: cold (compiles), then warm."""
    for variant in args.order:
        with tempfile.TemporaryDirectory() as cache:
            env = {
                "JAX_COMPILATION_CACHE_DIR": cache,
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            }
            cold, warm = (measure(variant, args, env) for _ in range(2))
            entries = len(list(Path(cache).iterdir()))
        print(
            f"{variant}: 2-epoch fit with the compilation cache cold {cold['fit_seconds']:.2f} s "
            f"(epoch 1 {cold['epoch_seconds'][0]:.2f} s), warm {warm['fit_seconds']:.2f} s "
            f"(epoch 1 {warm['epoch_seconds'][0]:.2f} s); {entries} cache entries",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--backend", choices=BACKENDS, help="default: as the train stage picks")
    parser.add_argument(
        "--order", nargs=2, choices=VARIANTS, default=list(VARIANTS), help="which runs first"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="alternating rounds; the fastest of each is kept"
    )
    parser.add_argument(
        "--cache-rounds", action="store_true", help="then cold and warm JAX compilation cache"
    )
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # child process: run one variant, report as JSON
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        run = run_bare if args.variant == "bare" else run_pipeline
        args.out.write_text(json.dumps(run(args.prepared, args.params, args.backend)))
        return
    # Whichever process runs first on this VM is slower (seen both ways round), so the
    # variants alternate and each keeps its fastest round.
    rounds: dict[str, list[dict[str, object]]] = {variant: [] for variant in args.order}
    for _ in range(args.repeat):
        for variant in args.order:
            rounds[variant].append(measure(variant, args, NO_CACHE))
    for variant, runs in rounds.items():
        print(
            f"{variant}: fit per round "
            + ", ".join(f"{r['fit_seconds']:.2f} s" for r in runs)
            + "; last epoch per round "
            + ", ".join(f"{r['epoch_seconds'][-1]:.2f} s" for r in runs)
        )
    print_table({v: min(runs, key=lambda r: r["fit_seconds"]) for v, runs in rounds.items()})
    if args.cache_rounds:
        cache_rounds(args)


if __name__ == "__main__":
    main()
