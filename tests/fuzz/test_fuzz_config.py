"""Fuzzing the config: ``--set key=value`` strings and config files either resolve or are one-line UserErrors.

What ``genkit train`` does with them before it builds a model: ``parse_overrides`` /
``read_config_file``, then ``genkit.commands.train.resolve_config`` (the model's config and the train section,
typed and validated). Anything but a valid config or a :class:`UserError` of one line is a bug.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import example
from hypothesis import strategies as st

from fuzz_support import HOSTILE_TEXTS, assert_one_line, hostile_text, json_values, tiers, time_budget
from genkit.config import TrainConfig, parse_overrides, read_config_file
from genkit.errors import UserError

# Models of every family: image generators, conditional ones, text models, paired-data models.
MODELS = ("dcgan", "cgan", "wgan-gp", "vae", "cvae", "beta-vae", "ae", "dae", "char-lstm", "word-lstm",
          "fusion-classifier", "dual-encoder", "captioner", "text2image-gan", "text2image-vae")
TRAIN_FIELDS = tuple(f"train.{name}" for name in TrainConfig.field_names())


def _entry(name: str):
    from genkit.registry import get_model_entry

    return get_model_entry(name)


def _model_fields(name: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(_entry(name).config_class))


def _resolve(model: str, file_values: dict, overrides: dict, source: str = "--set"):
    from genkit.commands.train import resolve_config

    return resolve_config(_entry(model), file_values, overrides, {}, source)


def _value_text(value) -> st.SearchStrategy[str]:
    return st.sampled_from([json.dumps(value), yaml.safe_dump(value, default_flow_style=True).strip(), str(value)])


def _assignment(model: str) -> st.SearchStrategy[str]:
    key = st.one_of(
        st.sampled_from(_model_fields(model)), st.sampled_from(TRAIN_FIELDS), st.sampled_from(["train", "model", "train."]),
        hostile_text,
    )
    value = st.one_of(hostile_text, json_values.flatmap(_value_text))
    return st.one_of(st.tuples(key, value).map(lambda kv: f"{kv[0]}={kv[1]}"), hostile_text)


set_flags = st.sampled_from(MODELS).flatmap(lambda model: st.tuples(st.just(model), st.lists(_assignment(model), max_size=6)))


@example(case=("dcgan", ["train=5"]))  # a bare section: TypeError
@example(case=("dcgan", ["train=[1, 2]"]))
@example(case=("dcgan", ["generator_learning_rate=" + str(10**400)]))  # OverflowError
@example(case=("vae", ["beta=1" + "0" * 400]))
@example(case=("dcgan", ["latent_dim=" + "1" * 5000]))  # int() digit limit: ValueError
@example(case=("dcgan", ["latent_dim=2020-13-45", "kernel_size=!!timestamp x"]))  # YAML dates
@example(case=("dcgan", ["latent_dim=" + "[" * 3000]))  # RecursionError
@example(case=("dcgan", ["a\nb=1"]))  # an unknown field on two lines
@example(case=("dcgan", ["image_shape=[8,8,1]", "num_upsamplings=100000000000"]))  # 2**n: a hang
def check_overrides(case):
    model, assignments = case
    with time_budget(20):
        try:
            _resolve(model, {}, parse_overrides(assignments))
        except UserError as error:
            assert_one_line(str(error))


test_set_overrides, test_set_overrides_many = tiers(60, 600, case=set_flags)(check_overrides)


# -- config files ---------------------------------------------------------------------------------------------

config_keys = st.one_of(
    st.sampled_from(MODELS).flatmap(lambda model: st.sampled_from(_model_fields(model))),
    st.sampled_from(["train", "model"]), st.text(max_size=12), st.sampled_from(HOSTILE_TEXTS),
)
yaml_keys = st.one_of(config_keys, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False))
mapping = st.dictionaries(config_keys, st.one_of(json_values, st.dictionaries(config_keys, json_values, max_size=4)), max_size=6)
yaml_mapping = st.dictionaries(yaml_keys, st.one_of(json_values, st.dictionaries(yaml_keys, json_values, max_size=4)), max_size=6)


@st.composite
def config_files(draw):
    """(model, file name, bytes): a config of the model's fields and junk, as YAML or JSON, or garbled bytes."""
    model = draw(st.sampled_from(MODELS))
    suffix = draw(st.sampled_from([".yaml", ".yml", ".json", ".YAML", ".txt", ""]))
    form = draw(st.sampled_from(["json", "yaml", "top-level", "bytes", "mutated"]))
    if form == "json":
        data = json.dumps(draw(mapping)).encode()
    elif form == "yaml":
        data = yaml.safe_dump(draw(yaml_mapping), allow_unicode=draw(st.booleans())).encode()
    elif form == "top-level":
        data = json.dumps(draw(json_values)).encode()
    elif form == "bytes":
        data = draw(st.binary(max_size=200))
    else:
        data = bytearray(yaml.safe_dump(draw(mapping)).encode())
        for _ in range(draw(st.integers(1, 4))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        data = bytes(data)
    return model, f"config{suffix}", data


@example(case=("dcgan", "c.yaml", b"\xff\xfe"))  # not UTF-8: UnicodeDecodeError
@example(case=("dcgan", "c.yaml", b"1: 2\nlatent_dim: 4\n"))  # int key
@example(case=("dcgan", "c.json", b'{"train": 3}'))  # a bare section
@example(case=("dcgan", "c.json", b'{"train": {"epochs": 2, "3": 1}, "a\\nb": 1}'))
@example(case=("dcgan", "c.yaml", b"train:\n  1: 2\n"))
@example(case=("dcgan", "c.json", b"[" * 100000))  # RecursionError
@example(case=("dcgan", "c.json", b"{\"latent_dim\": " + b"9" * 5000 + b"}"))
@example(case=("dcgan", "c.yaml", b"latent_dim: 2020-02-30\n"))
@example(case=("dcgan", "c.json", b'{"model": "dc\\ngan"}'))
def check_config_file(tmp_path, case):
    model, name, data = case
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / name
    path.write_bytes(data)
    with time_budget(20):
        try:
            _resolve(model, read_config_file(path), {}, f"--config {path}")
        except UserError as error:
            assert_one_line(str(error))


test_config_files, test_config_files_many = tiers(60, 600, case=config_files())(check_config_file)
