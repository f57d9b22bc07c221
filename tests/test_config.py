"""Configs: loading, overriding, validation with errors that name the field and the source."""

import json

import pytest

from genkit.config import TrainConfig, parse_overrides, read_config_file
from genkit.errors import UserError
from genkit.models import DCGANConfig
from genkit.models.language_model.char_lstm_config import CharLSTMConfig
from genkit.registry import get_model_entry, register_model, registered_models
from genkit.commands.train import resolve_config


def test_defaults_validate_and_round_trip():
    config = DCGANConfig.from_dict({})
    assert DCGANConfig.from_dict(config.to_dict()) == config
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()


@pytest.mark.parametrize(
    "values, field",
    [
        ({"latent_dimension": 3}, "latent_dimension"),  # unknown key
        ({"latent_dim": 0}, "latent_dim"),  # out of range
        ({"latent_dim": "big"}, "latent_dim"),  # wrong type
        ({"latent_dim": True}, "latent_dim"),  # a bool is not an int
        ({"dropout_rate": 1.5}, "dropout_rate"),
        ({"generator_activation": "gelu"}, "generator_activation"),
        ({"image_shape": [30, 30, 1]}, "image_shape"),  # not divisible by 2**num_upsamplings
        ({"generator_filters": []}, "generator_filters"),
    ],
)
def test_bad_model_fields_name_the_field_and_source(values, field):
    with pytest.raises(UserError, match=rf"my.yaml: .*'{field}'"):
        DCGANConfig.from_dict(values, "my.yaml")


def test_bad_learning_rate_schedule_lists_the_allowed_values():
    with pytest.raises(UserError, match=r"--set: .*'learning_rate_schedule' must be one of constant, linear, cosine"):
        CharLSTMConfig.from_dict({"learning_rate_schedule": "step"}, "--set")


def test_bad_train_fields():
    with pytest.raises(UserError, match=r"'strategy' must be one of auto, default, mirrored, multiworker"):
        TrainConfig.from_dict({"strategy": "tpu"})
    with pytest.raises(UserError, match=r"'epochs' must be >= 1"):
        TrainConfig.from_dict({"epochs": 0})
    with pytest.raises(UserError, match=r"'mixed_precision'"):
        TrainConfig.from_dict({"mixed_precision": "fp8"})


def test_integer_valued_floats_are_accepted_for_int_fields():
    assert DCGANConfig.from_dict({"latent_dim": 32.0}).latent_dim == 32
    assert DCGANConfig.from_dict({"beta_1": 0}).beta_1 == 0.0


def test_overrides_parse_yaml_values_and_the_train_section():
    assert parse_overrides(["latent_dim=32", "generator_filters=[8, 4]", "train.epochs=3", "beta_1=0.5"]) == {
        "latent_dim": 32, "generator_filters": [8, 4], "beta_1": 0.5, "train": {"epochs": 3},
    }
    with pytest.raises(UserError, match="expected key=value"):
        parse_overrides(["latent_dim"])
    with pytest.raises(UserError, match="only the 'train.' section"):
        parse_overrides(["model.latent_dim=3"])


def test_config_files_and_precedence(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("model: dcgan\nlatent_dim: 16\ntrain:\n  epochs: 4\n  batch_size: 32\n")
    entry = get_model_entry("dcgan")
    file_values = read_config_file(yaml_file)
    model_config, train_config = resolve_config(
        entry, file_values, parse_overrides(["latent_dim=24", "train.epochs=5"]), {"batch_size": 16, "seed": None},
        str(yaml_file),
    )
    assert model_config.latent_dim == 24  # --set beats the file
    assert train_config.epochs == 5
    assert train_config.batch_size == 16  # a flag beats both
    assert train_config.seed == TrainConfig().seed  # None means "not given"

    json_file = tmp_path / "c.json"
    json_file.write_text(json.dumps({"latent_dim": 12}))
    assert read_config_file(json_file) == {"latent_dim": 12}


def test_model_defaults_for_training_come_from_the_registry():
    entry = get_model_entry("dcgan")
    _, train_config = resolve_config(entry, {}, {}, {}, "--set")
    assert train_config.epochs == entry.train_defaults["epochs"]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("c.toml", "", "unsupported file type '.toml'"),
        ("c.yaml", "latent_dim: [1,\n", "not valid YAML"),
        ("c.json", "{", "not valid JSON"),
        ("c.yaml", "- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_bad_config_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match=message) as error:
        read_config_file(path)
    assert str(path) in str(error.value)
    with pytest.raises(UserError, match="cannot read file"):
        read_config_file(tmp_path / "missing.yaml")


def test_config_file_naming_another_model_is_rejected():
    with pytest.raises(UserError, match="field 'model' is 'vae'"):
        resolve_config(get_model_entry("dcgan"), {"model": "vae"}, {}, {}, "c.yaml")


def test_registry_lists_and_finds_models():
    names = [entry.name for entry in registered_models()]
    assert "dcgan" in names
    entry = get_model_entry("dcgan")
    assert entry.config_class is DCGANConfig and entry.family == "gan"
    with pytest.raises(UserError, match="unknown model 'gpt'; registered models: .*dcgan"):
        get_model_entry("gpt")


def test_registering_a_second_class_under_a_taken_name_fails():
    with pytest.raises(ValueError, match="already registered"):

        @register_model("dcgan", config=DCGANConfig, family="gan", description="x")
        class Impostor:
            pass
