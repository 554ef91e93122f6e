from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from imdb_sentiment.config import (
    ConfigError,
    PipelineParams,
    PrepareParams,
    TrainParams,
    ValidateParams,
    load_params,
    load_pipeline_params,
    load_section,
    override_params,
)
from imdb_sentiment.typed_mapping import flatten_dataclass
from tests.conftest import committed_params, committed_params_file


def repo_params() -> dict:
    """The committed params.yaml: a `dvc exp run -S` in the working copy must not fail these."""
    return committed_params()


def test_repository_params_reproduce_the_keras_example_model() -> None:
    params = repo_params()
    train = load_section(params, "train", TrainParams)
    prepare = load_section(params, "prepare", PrepareParams)
    assert (prepare.max_features, prepare.maxlen) == (20000, 100)
    assert (train.model.embedding_dim, train.model.dropout) == (128, 0.25)
    assert (train.model.filters, train.model.kernel_size, train.model.pool_size) == (64, 5, 4)
    assert train.model.lstm_units == 70
    assert (train.fit.batch_size, train.fit.epochs, train.fit.learning_rate) == (30, 2, 0.001)
    # The levers the Keras example lacks are off: no spatial dropout, constant rate, base.seed.
    assert (train.model.spatial_dropout, train.model.pooling, train.fit.lr_decay) == (0, "last", 1)
    assert train.seed is None and train.effective_seed(42) == 42


def test_missing_key_is_named() -> None:
    params = repo_params()
    del params["train"]["fit"]["epochs"]
    with pytest.raises(ConfigError, match=r"missing key 'train\.fit\.epochs'"):
        load_section(params, "train", TrainParams)


def test_unknown_key_is_named_with_allowed_keys() -> None:
    params = repo_params()
    params["train"]["fit"]["epoch"] = 3
    with pytest.raises(ConfigError, match=r"unknown key 'train\.fit\.epoch'.*epochs"):
        load_section(params, "train", TrainParams)


@pytest.mark.parametrize("value", ["2", 2.5, True, None])
def test_wrong_type_is_rejected(value: object) -> None:
    params = repo_params()
    params["train"]["fit"]["epochs"] = value
    with pytest.raises(ConfigError, match=r"'train\.fit\.epochs' must be int"):
        load_section(params, "train", TrainParams)


def test_optional_cap_accepts_null_and_int_and_float_accepts_int() -> None:
    params = repo_params()
    params["prepare"]["max_reviews_per_split"] = 500
    params["train"]["fit"]["learning_rate"] = 1  # an int where a float is expected is fine
    assert load_section(params, "prepare", PrepareParams).max_reviews_per_split == 500
    assert isinstance(load_section(params, "train", TrainParams).fit.learning_rate, float)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("prepare", "val_fraction", 0),
        ("prepare", "val_fraction", 1.0),
        ("prepare", "maxlen", 0),
        ("prepare", "max_features", 3),
        ("prepare", "max_reviews_per_split", 1),
    ],
)
def test_out_of_range_prepare_values_name_the_key(section: str, key: str, value: object) -> None:
    params = repo_params()
    params[section][key] = value
    with pytest.raises(ConfigError, match=rf"'{section}\.{key}' must be"):
        load_section(params, section, PrepareParams)


@pytest.mark.parametrize(
    ("group", "key", "value"),
    [
        ("fit", "batch_size", 0),
        ("fit", "epochs", -1),
        ("model", "dropout", 1.0),
        ("model", "lstm_units", 0),
        ("model", "spatial_dropout", 1.0),
        ("fit", "lr_decay", 0),
        ("fit", "lr_schedule", "cosine"),
        ("fit", "adam_epsilon", 0.0),
    ],
)
def test_out_of_range_train_values_name_the_key(group: str, key: str, value: object) -> None:
    params = repo_params()
    params["train"][group][key] = value
    with pytest.raises(ConfigError, match=rf"'train\.{group}\.{key}' must be"):
        load_section(params, "train", TrainParams)


@pytest.mark.parametrize(("value", "effective"), [(None, 42), (0, 0), (7, 7)])
def test_train_seed_is_an_int_or_null_for_base_seed(value: object, effective: int) -> None:
    params = repo_params()
    params["train"]["seed"] = value
    assert load_section(params, "train", TrainParams).effective_seed(42) == effective


@pytest.mark.parametrize("value", [-1, 2**32, "1", 1.5, True])
def test_bad_train_seed_is_named(value: object) -> None:
    params = repo_params()
    params["train"]["seed"] = value
    with pytest.raises(ConfigError, match=r"'train\.seed' must be"):
        load_section(params, "train", TrainParams)


def test_repository_validate_params_load() -> None:
    cfg = load_section(repo_params(), "validate", ValidateParams)
    assert cfg.reviews_per_split_label == 12500
    assert cfg.min_chars < cfg.max_chars
    assert 0 < cfg.max_js_tokens <= 1 and 0 < cfg.max_js_lengths <= 1


def test_missing_validate_threshold_is_named() -> None:
    params = repo_params()
    del params["validate"]["max_js_lengths"]
    with pytest.raises(ConfigError, match=r"missing key 'validate\.max_js_lengths'"):
        load_section(params, "validate", ValidateParams)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("reviews_per_split_label", 0),
        ("min_chars", 0),
        ("max_chars", 10),  # not above min_chars (10)
        ("max_cross_split_duplicates", -1),
        ("max_pad_fraction", 0),
        ("max_oov_rate", 1.5),
        ("label_balance_tolerance", 0.5),
        ("label_balance_tolerance", -0.1),
        ("max_js_tokens", 0),
        ("max_js_lengths", 1.01),
        ("length_bin_width", 0),
        ("length_bin_limit", 1010),  # not a multiple of length_bin_width (25)
        ("top_moved_tokens", 0),
    ],
)
def test_out_of_range_validate_values_name_the_key(key: str, value: object) -> None:
    params = repo_params()
    params["validate"]["min_chars"] = 10
    params["validate"]["length_bin_width"] = 25
    params["validate"][key] = value
    with pytest.raises(ConfigError, match=rf"'validate\.{key}' must be"):
        load_section(params, "validate", ValidateParams)


def test_missing_section_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing section 'train'"):
        load_section({}, "train", TrainParams)
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="mapping"):
        load_params(bad)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("backend", "cntk", "auto or tensorflow or jax or torch"),
        ("precision", "float64", "float32 or mixed_float16 or mixed_bfloat16"),
        ("jit_compile", "yes", 'true, false or "auto"'),
        ("steps_per_execution", 0, "a positive integer"),
    ],
)
def test_runtime_values_name_the_key_and_what_is_allowed(
    key: str, value: object, allowed: str
) -> None:
    params = repo_params()
    params["train"]["runtime"][key] = value
    with pytest.raises(ConfigError) as caught:
        load_section(params, "train", TrainParams)
    assert f"'train.runtime.{key}' must be {allowed}" in str(caught.value)


def test_repository_picks_the_backend_by_the_hardware_and_is_not_deterministic() -> None:
    runtime = load_section(repo_params(), "train", TrainParams).runtime
    assert (runtime.backend, runtime.deterministic) == ("auto", False)


def test_deterministic_must_be_a_boolean() -> None:
    params = repo_params()
    params["train"]["runtime"]["deterministic"] = "yes"
    with pytest.raises(ConfigError, match=r"train\.runtime\.deterministic"):
        load_section(params, "train", TrainParams)


def test_runtime_accepts_booleans_for_jit_compile() -> None:
    params = repo_params()
    params["train"]["runtime"]["jit_compile"] = False
    assert load_section(params, "train", TrainParams).runtime.jit_compile is False


def test_repository_trains_on_one_device_like_the_keras_example() -> None:
    assert load_section(repo_params(), "train", TrainParams).distribution == "none"


@pytest.mark.parametrize(
    ("backend", "distribution", "allowed"),
    [
        ("tensorflow", "horovod", "none or mirrored or multi_worker"),
        ("jax", "", "none or mirrored or multi_worker"),
        ("torch", "mirrored", "none on the torch backend"),
    ],
)
def test_distribution_names_the_key_and_what_is_allowed(
    backend: str, distribution: str, allowed: str
) -> None:
    params = repo_params()
    params["train"]["runtime"]["backend"] = backend
    params["train"]["distribution"] = distribution
    with pytest.raises(ConfigError) as caught:
        load_section(params, "train", TrainParams)
    assert f"'train.distribution' must be {allowed}" in str(caught.value)
    params["train"]["distribution"] = "none"
    assert load_section(params, "train", TrainParams).distribution == "none"


@pytest.mark.parametrize("backend", ["jax", "auto"])  # auto trains on jax on a GPU
def test_bfloat16_on_jax_needs_an_unrolled_lstm(backend: str) -> None:
    params = repo_params()
    params["train"]["runtime"].update(backend=backend, precision="mixed_bfloat16")
    with pytest.raises(ConfigError, match=r"'train\.runtime\.precision'.*unroll is true"):
        load_section(params, "train", TrainParams)
    params["train"]["model"]["unroll"] = True
    assert load_section(params, "train", TrainParams).runtime.precision == "mixed_bfloat16"
    params["train"]["runtime"]["backend"] = "tensorflow"
    params["train"]["model"]["unroll"] = False
    assert load_section(params, "train", TrainParams).model.unroll is False


def _flatten_mapping(mapping: dict, prefix: str = "") -> dict:
    """The raw file's dotted keys, written out here so the test cannot share a bug with code."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(_flatten_mapping(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_pipeline_params_flatten_to_the_raw_files_keys_values_and_order(tmp_path: Path) -> None:
    params = load_pipeline_params(committed_params_file(tmp_path))
    assert isinstance(params, PipelineParams) and params.base.seed == 42
    flat = {key: str(value) for key, value in flatten_dataclass(params).items()}
    raw = {key: str(value) for key, value in _flatten_mapping(repo_params()).items()}
    assert list(flat.items()) == list(raw.items())  # MLflow stores params as these strings
    assert flat["train.fit.learning_rate"] == "0.001"
    assert flat["prepare.max_reviews_per_split"] == "None"
    assert flat["train.runtime.jit_compile"] == "auto"
    assert flat["train.model.bidirectional"] == "False"
    assert flatten_dataclass(params.train)["fit.epochs"] == 2  # any section flattens alike


def _write(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_pipeline_params_check_every_section(tmp_path: Path) -> None:
    params = repo_params()
    params["evaluate"]["threshold"] = 2
    with pytest.raises(ConfigError, match=r"'evaluate\.threshold' must be"):
        load_pipeline_params(_write(tmp_path, params))
    params["evaluate"]["threshold"] = 0.5
    del params["promote"]
    with pytest.raises(ConfigError, match="missing section 'promote'"):
        load_pipeline_params(_write(tmp_path, params))


def test_behaviour_and_gate_guard_params_are_checked(tmp_path: Path) -> None:
    params = repo_params()
    params["evaluate"]["behaviour"]["invariance_tolerance"] = -0.1
    with pytest.raises(ConfigError, match=r"'evaluate\.behaviour\.invariance_tolerance' must be"):
        load_pipeline_params(_write(tmp_path, params))
    params = repo_params()
    del params["evaluate"]["behaviour"]["direction_tolerance"]
    with pytest.raises(ConfigError, match="direction_tolerance"):
        load_pipeline_params(_write(tmp_path, params))
    params = repo_params()
    params["promote"]["slice_alpha"] = 0
    with pytest.raises(ConfigError, match=r"'promote\.slice_alpha' must be"):
        load_pipeline_params(_write(tmp_path, params))
    params["promote"]["slice_alpha"] = 0.05
    params["promote"]["max_behaviour_drop"] = 1.5
    with pytest.raises(ConfigError, match=r"'promote\.max_behaviour_drop' must be"):
        load_pipeline_params(_write(tmp_path, params))


def test_pipeline_params_name_an_unknown_section(tmp_path: Path) -> None:
    params = {**repo_params(), "deploy": {"port": 8080}}
    with pytest.raises(ConfigError, match=r"unknown section 'deploy'; allowed: base, download"):
        load_pipeline_params(_write(tmp_path, params))


def test_with_several_mistyped_keys_the_first_in_file_order_is_named() -> None:
    params = repo_params()
    params["train"]["fit"].update(batch_size="8", learning_rate="fast")
    with pytest.raises(ConfigError, match=r"'train\.fit\.batch_size' must be int"):
        load_section(params, "train", TrainParams)


def test_overrides_set_existing_params_as_yaml_and_refuse_unknown_keys() -> None:
    params = repo_params()
    changed = override_params(params, ["train.model.bigram_buckets=64", "train.seed=null"])
    assert changed["train"]["model"]["bigram_buckets"] == 64 and changed["train"]["seed"] is None
    assert params["train"]["model"]["bigram_buckets"] == 0  # a copy: the input stays
    # 1e-4 is a number as DVC (YAML 1.2) reads it, not the string PyYAML's 1.1 rules make it
    epsilon = override_params(params, ["train.fit.adam_epsilon=1e-4"])["train"]["fit"]
    assert load_section({"train": {**params["train"], "fit": epsilon}}, "train", TrainParams)
    assert epsilon["adam_epsilon"] == 1e-4
    for bad in ("train.model.bigram_bucket=64", "train.nowhere.x=1", "train.seed"):
        with pytest.raises(ConfigError, match=rf"cannot set {re.escape(bad)}: no such param"):
            override_params(params, [bad])
