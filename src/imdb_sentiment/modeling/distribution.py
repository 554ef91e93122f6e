"""Data parallelism: copies of one model on several devices or hosts, trained in step.

`train.distribution` names the layout and each backend's own engine runs it. TensorFlow:
`mirrored` is tf.distribute.MirroredStrategy (every local GPU, or every logical CPU device
when there is none), `multi_worker` is tf.distribute.MultiWorkerMirroredStrategy over the
hosts that TF_CONFIG lists. JAX: `mirrored` is a keras.distribution.DataParallel mesh of
the local devices, `multi_worker` joins the processes that the KERAS_DISTRIBUTION_*
variables describe (keras.distribution.initialize) and meshes all of their devices.

`train.fit.batch_size` is the global batch everywhere: each step splits it across the
replicas and combines their gradients into one update, so a run takes as many steps on
eight devices as on one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from imdb_sentiment.config import ConfigError, FitParams
from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)

TF_CONFIG_ENV = "TF_CONFIG"
JAX_ENVS = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


@dataclasses.dataclass(frozen=True)
class Replicas:
    """The model copies one training run uses; build and compile the model in `scope()`."""

    distribution: str  # train.distribution
    backend: str  # the Keras backend
    count: int  # replicas training in step, all workers together
    workers: int  # processes taking part, one per host as a rule
    worker_index: int  # this process's place among them; 0 is the chief
    strategy: Any  # the tf.distribute strategy, None elsewhere

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """TF strategies create mirrored variables only for models built inside their scope."""
        if self.strategy is None:
            yield
        else:
            with self.strategy.scope():
                yield

    def tracking_params(self) -> dict[str, int]:
        """What makes runs comparable: the batch each replica sees is batch_size / replicas."""
        return {"distribution.replicas": self.count, "distribution.workers": self.workers}


def start_replicas(distribution: str) -> Replicas:
    """Set up `distribution` on the current Keras backend; call it before anything else runs.

    MultiWorkerMirroredStrategy must exist before TensorFlow's first op, and JAX's processes
    must join before JAX computes anything.
    """
    backend = keras.backend.backend()
    if distribution == "none":
        return Replicas(distribution, backend, 1, 1, 0, None)
    if backend == "tensorflow":
        replicas = _start_tensorflow(distribution)
    elif backend == "jax":
        replicas = _start_jax(distribution)
    else:
        raise ConfigError(
            f"params.yaml: 'train.distribution' must be none on the {backend} backend"
        )
    if replicas.count == 1:
        log.warning("train.distribution=%s found one device: no data parallelism", distribution)
    log.info(
        "%s on %s: %d replicas, %d workers (this is worker %d)",
        distribution,
        backend,
        replicas.count,
        replicas.workers,
        replicas.worker_index,
    )
    return replicas


def _start_tensorflow(distribution: str) -> Replicas:
    import tensorflow as tf

    if distribution == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        return Replicas(distribution, "tensorflow", strategy.num_replicas_in_sync, 1, 0, strategy)
    if not os.environ.get(TF_CONFIG_ENV):
        log.warning("%s is not set: multi_worker trains on this host alone", TF_CONFIG_ENV)
    try:
        strategy = _multi_worker_strategy()
    except (ValueError, KeyError, RuntimeError) as exc:
        raise PipelineError(f"{TF_CONFIG_ENV}: cannot join the workers ({exc})") from exc
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec()
    jobs = [job for job in ("chief", "worker") if job in spec.jobs]
    workers = sum(spec.num_tasks(job) for job in jobs) or 1
    index = resolver.task_id or 0
    if resolver.task_type == "worker" and "chief" in jobs:
        index += spec.num_tasks("chief")
    return Replicas(
        distribution, "tensorflow", strategy.num_replicas_in_sync, workers, index, strategy
    )


def _multi_worker_strategy() -> Any:
    import tensorflow as tf

    class KerasMultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """MultiWorkerMirroredStrategy as Keras 3's fit calls it (keras-team/keras#20585).

        Across hosts the strategy's `reduce` takes one tensor, of rank 1 or more when given
        an axis and of a type its collectives carry. Keras hands it the first batch as a
        tuple (int8 labels included) to build the model, and scalar metrics with axis=0.
        Reducing each leaf, scalars without the axis and small integers widened, gives the
        values Keras asks for; under one worker nothing changes.
        """

        def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            return tf.nest.map_structure(lambda v: self._reduce_leaf(reduce_op, v, axis), value)

        def _reduce_leaf(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            local = self.experimental_local_results(value)[0]
            if local.dtype in (tf.bool, tf.int8, tf.uint8, tf.int16, tf.uint16):
                value = self.run(lambda t: tf.cast(t, tf.int32), args=(value,))
            if local.shape.rank == 0:
                axis = None
            return super().reduce(reduce_op, value, axis)

    return KerasMultiWorkerStrategy()


def _start_jax(distribution: str) -> Replicas:
    if distribution == "multi_worker":
        try:
            keras.distribution.initialize()
        except (ValueError, RuntimeError) as exc:
            raise PipelineError(
                f"multi_worker on jax cannot join the workers ({exc}); set {', '.join(JAX_ENVS)} "
                "on every worker"
            ) from exc
    import jax

    devices = keras.distribution.list_devices()
    # Each process feeds its own rows (see shard_split); Keras must not shard them again.
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    )
    return Replicas(
        distribution, "jax", len(devices), jax.process_count(), jax.process_index(), None
    )


def local_fit_params(replicas: Replicas, fit: FitParams) -> FitParams:
    """`fit` as this process passes it to Keras.

    A TF strategy takes the global batch and splits it itself, unevenly if need be. A JAX
    mesh splits each batch evenly over its devices, and each process feeds its own share.
    """
    if replicas.backend != "jax" or replicas.count == 1:
        return fit
    if fit.batch_size % replicas.count:
        raise ConfigError(
            f"params.yaml: 'train.fit.batch_size' must be a multiple of the {replicas.count} "
            f"replicas of train.distribution={replicas.distribution} on jax, got {fit.batch_size}"
        )
    return dataclasses.replace(fit, batch_size=fit.batch_size // replicas.workers)


def shard_split(
    replicas: Replicas, split: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """This process's rows of `split` (token ids, labels).

    JAX only: every batch, the last one too, must split evenly over the devices, so the rows
    are cut to a multiple of the replicas (fewer than one per replica are left out); with
    several processes each takes every n-th row. TF workers all read the whole split.
    """
    if replicas.backend != "jax" or replicas.count == 1:
        return split
    x, y = split
    usable = len(x) - len(x) % replicas.count
    if usable < len(x):
        log.info("%d of %d rows left out: batches must split evenly", len(x) - usable, len(x))
    rows = slice(replicas.worker_index, usable, replicas.workers)
    return x[rows], y[rows]


def check_workers_agree(replicas: Replicas, facts: dict[str, int], fix: str) -> None:
    """Fail, saying `fix`, unless every worker holds the same `facts`.

    Workers that differ would not train in step; worse, they could hang waiting on each
    other. Values must fit in 31 bits (JAX gathers int32).
    """
    if replicas.workers == 1:
        return
    mine = np.asarray(list(facts.values()), dtype=np.int32)
    everyone = _gather_from_workers(replicas, mine)  # (workers or replicas, len(facts))
    for column, name in enumerate(facts):
        seen = sorted({int(v) for v in everyone[:, column]})
        if len(seen) > 1:
            raise PipelineError(
                f"the workers disagree on {name}: {seen}, this worker {int(mine[column])}; {fix}"
            )


def _gather_from_workers(replicas: Replicas, values: np.ndarray) -> np.ndarray:
    if replicas.strategy is not None:
        import tensorflow as tf

        strategy = replicas.strategy
        per_replica = strategy.run(lambda: tf.constant(values[None, :]))
        return strategy.gather(per_replica, axis=0).numpy()
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(values)).reshape(-1, len(values))
