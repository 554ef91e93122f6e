"""The names every process agrees on: experiment, registered model, alias, tags."""

from __future__ import annotations

EXPERIMENT = "imdb-sentiment"


# The registered model that promoted runs become versions of, and the alias serving uses.
REGISTERED_MODEL = "imdb-sentiment"


CHAMPION = "champion"


CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION}"


# Tags that let a later run find the attempts that died without ending their MLflow run.
BACKUP_KEY_TAG = "train.backup_key"


BACKUP_STORE_TAG = "train.backup_store"


BACKUP_LOCK_TAG = "train.backup_lock"


# What a training run computed on (cpu, gpu, tpu): `reproduce` picks its rule by it.
DEVICE_TAG = "train.device"


# A reference model's run (the NBSVM baseline): compared with, never selected or promoted.
REFERENCE_TAG = "reference_baseline"


MODEL_FAMILY_TAG = "model_family"
