"""``genkit train``: resolve the config, load the data, train under a strategy, write the run folder."""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from genkit.config import TrainConfig, merge_config_values, parse_overrides, read_config_file
from genkit.errors import UserError
from genkit.registry import ModelEntry, get_model_entry
from genkit.atomic import write_json
from genkit.runtime.run_folder import FORMAT_VERSION, RunFolder
from genkit.versions import library_versions

DEFAULT_OUTPUT_ROOT = Path("saved_models")
# Fields that fix what a run computes: a resumed run must keep them.
RESUME_FIXED_TRAIN_FIELDS = ("batch_size", "seed", "dataset")


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train` returns: the run folder, the trained model, and why training stopped."""

    run_dir: Path
    model: Any
    stop_reason: str
    is_chief: bool = True


def resolve_config(entry: ModelEntry, file_values: dict, overrides: dict, flags: dict, source: str):
    """Model defaults < the model's train defaults < config file < --set < explicit flags."""
    values = merge_config_values(file_values, overrides)
    named_model = values.pop("model", entry.name)
    if named_model != entry.name:
        raise UserError(f"{source}: field 'model' is '{named_model}' but the command trains '{entry.name}'")
    train_values = {**entry.train_defaults, **values.pop("train", {})}
    train_values.update({name: value for name, value in flags.items() if value is not None})
    model_config = entry.config_class.from_dict(values, source)
    train_config = TrainConfig.from_dict(train_values, f"{source} (train)")
    return model_config, train_config


def _latest_run(model_name: str) -> Path:
    runs = sorted(DEFAULT_OUTPUT_ROOT.glob(f"{model_name}-*"), key=lambda p: p.stat().st_mtime)
    runs = [run for run in runs if (run / "config.json").is_file()]
    if not runs:
        raise UserError(f"--resume: no earlier '{model_name}' run under {DEFAULT_OUTPUT_ROOT}/; pass --out RUN_DIR")
    return runs[-1]


def _resumed_config(entry, run: RunFolder, file_values, overrides, flags):
    saved = run.read_config()
    if saved.get("model") != entry.name:
        raise UserError(f"--resume {run.path}: the run trained '{saved.get('model')}', not '{entry.name}'")
    saved_model_values = saved["config"]
    requested = merge_config_values(file_values, overrides)
    requested.pop("model", None)
    requested_train = {**requested.pop("train", {}), **{k: v for k, v in flags.items() if v is not None}}
    for name, value in requested.items():
        if saved_model_values.get(name) != value:
            raise UserError(
                f"--resume {run.path}: model field '{name}' cannot change on resume "
                f"(run has {saved_model_values.get(name)!r}, asked for {value!r})"
            )
    for name in RESUME_FIXED_TRAIN_FIELDS:
        if name in requested_train and requested_train[name] != saved["train"].get(name):
            raise UserError(
                f"--resume {run.path}: train field '{name}' cannot change on resume "
                f"(run has {saved['train'].get(name)!r}, asked for {requested_train[name]!r})"
            )
    model_config = entry.config_class.from_dict(saved_model_values, str(run.config_path))
    # A time budget is for one session: the resumed session has only the one it is given.
    saved_train = {**saved["train"], "time_limit": None}
    train_config = TrainConfig.from_dict({**saved_train, **requested_train}, f"{run.config_path} (train)")
    return model_config, train_config


def train(
    model_name: str,
    config_file: str | Path | None = None,
    overrides: list[str] | dict[str, Any] = (),
    *,
    out: str | Path | None = None,
    resume: bool = False,
    verbose: int = 1,
    **flags,
) -> TrainingResult:
    """Trains ``model_name``; returns the run folder and the trained model.

    ``flags`` are :class:`~genkit.config.TrainConfig` fields (``epochs``,
    ``batch_size``, ``dataset``, ``data_dir``, ``seed``, ``strategy``,
    ``devices``, ``cluster``, ``mixed_precision``, ``jit``, ``time_limit`` in minutes,
    ``log_every_steps``, ``histograms``, ``log_every_seconds``, ``checkpoint_every`` in steps,
    ``checkpoint_minutes``, ``checkpoints_to_keep``);
    ``None`` means "not given". ``overrides`` are ``--set key=value`` strings
    or a mapping.
    """
    entry = get_model_entry(model_name)
    unknown = sorted(set(flags) - set(TrainConfig.field_names()))
    if unknown:
        raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(unknown)}")
    file_values = read_config_file(config_file) if config_file else {}
    override_values = parse_overrides(list(overrides)) if not isinstance(overrides, dict) else overrides
    source = f"--config {config_file}" if config_file else "--set"

    if resume:
        run = RunFolder(out or _latest_run(entry.name))
        if not run.config_path.is_file():
            raise UserError(f"--resume {run.path}: not a run folder (no config.json)")
        model_config, train_config = _resumed_config(entry, run, file_values, override_values, flags)
    else:
        model_config, train_config = resolve_config(entry, file_values, override_values, flags, source)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run = RunFolder(out or DEFAULT_OUTPUT_ROOT / f"{entry.name}-{stamp}")

    return _run(entry, model_config, train_config, run, resume, verbose)


def _run(entry: ModelEntry, model_config, train_config: TrainConfig, run: RunFolder, resume: bool, verbose: int):
    # The strategy comes first: it must be made before TensorFlow touches a device.
    from genkit.runtime.strategy import describe_strategy, is_chief, make_strategy

    strategy = make_strategy(
        train_config.strategy, train_config.devices, cluster=train_config.cluster,
        cluster_port=train_config.cluster_port, collective_timeout=train_config.collective_timeout,
    )

    import keras

    from genkit.atomic import temporary_directory
    from genkit.runtime.callbacks import MetricsHistory
    from genkit.runtime.run_lock import RunFolderLock
    from genkit.runtime.tensorboard_logs import TensorBoardLogs
    from genkit.runtime.trainer import Trainer, steps_in_epoch
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    data, model_config = entry.model_class.prepare_data(model_config, train_config)
    replicas = strategy.num_replicas_in_sync
    if train_config.batch_size % replicas:
        raise UserError(
            f"--batch-size {train_config.batch_size}: must be divisible by the {replicas} replicas of the strategy"
        )

    chief = is_chief(strategy)
    _check_run_folder(run, resume, chief, train_config.epochs)
    resolved = {"model": entry.name, "config": model_config.to_dict(), "train": train_config.to_dict()}

    policy = "float32" if train_config.mixed_precision == "none" else train_config.mixed_precision
    lock = RunFolderLock(run.path, f"genkit train {entry.name}")  # the chief is the run folder's one writer
    try:
        keras.mixed_precision.set_dtype_policy(policy)  # float32 again in the finally, however training ends
        keras.utils.set_random_seed(train_config.seed)  # the same initial weights for the same seed
        with strategy.scope():
            model = entry.model_class.from_hyperparameters(model_config)
            model.compile_for_training(model_config, seed=train_config.seed)

        def make_dataset(epoch: int):
            return model.training_dataset(data, train_config.batch_size, train_config.seed * 1000 + epoch)

        # Checked before the run folder is written: a bad value leaves nothing behind.
        steps_per_epoch = steps_in_epoch(make_dataset(0), train_config.batch_size, data.name)
        if chief:
            run.path.mkdir(parents=True, exist_ok=True)
            lock.acquire()
            run.metadata_path.unlink(missing_ok=True)  # in progress again: incomplete until finalized
            run.write_config(resolved)

        checkpoint_dir = run.checkpoint_dir if chief else temporary_directory("genkit-worker-checkpoints-")
        checkpoint = TrainingCheckpoint(model, checkpoint_dir, train_config.checkpoints_to_keep, is_chief=chief)
        initial_epoch, initial_step = checkpoint.restore_latest(run.checkpoint_dir) if resume else (0, 0)
        verbose = verbose if chief else 0
        if resume and chief and checkpoint.latest is None:  # killed before its first checkpoint
            print(f"genkit: no checkpoint in {run.checkpoint_dir} yet; training {run.path} from the start", file=sys.stderr)
        elif verbose and resume:
            print(f"genkit: resuming {run.path} at epoch {initial_epoch + 1}, step {initial_step}")

        callbacks = []
        if chief:  # only the chief writes the run folder, its logs included
            callbacks = [
                *model.training_callbacks(run, train_config.num_sample_images, train_config.seed),
                MetricsHistory(run.history_path, train_config.batch_size),
                # Instead of keras.callbacks.TensorBoard (epoch scalars only); last, so that it finds the
                # epoch's samples the model's callbacks wrote.
                TensorBoardLogs(
                    run.logs_dir, run.samples_dir, _hyperparameters(resolved), run.path.name, train_config.batch_size,
                    log_every_steps=train_config.log_every_steps, histograms=train_config.histograms,
                ),
            ]

        trainer = Trainer(
            model, strategy, checkpoint, jit=train_config.jit, autotune=not getattr(data, "in_memory", False),
            time_limit_seconds=train_config.time_limit * 60 if train_config.time_limit else None,
            checkpoint_every=train_config.checkpoint_every,
            checkpoint_seconds=train_config.checkpoint_minutes * 60 if train_config.checkpoint_minutes else None,
        )
        stop_reason = trainer.fit(
            make_dataset, train_config.epochs, steps_per_epoch, callbacks,
            initial_epoch=initial_epoch, initial_step=initial_step, verbose=verbose,
            log_every_seconds=train_config.log_every_seconds, batch_size=train_config.batch_size,
        )
        checkpoint.close()
        if chief:
            training = _training_record(trainer, checkpoint, stop_reason, train_config.batch_size, model.example_unit)
            training["strategy"] = describe_strategy(strategy)
            _finalize(entry, model_config, train_config, run, model, data, training, resolved)
    finally:
        lock.release()
        keras.mixed_precision.set_dtype_policy("float32")
    if verbose and chief:
        print(f"genkit: run folder {run.path} ({stop_reason})")
    return TrainingResult(run_dir=run.path, model=model, stop_reason=stop_reason, is_chief=chief)


def _hyperparameters(resolved: dict) -> dict:
    """The run's settings as TensorBoard's HParams table shows them: the model's fields, ``train.FIELD``."""
    train_fields = {f"train.{name}": value for name, value in resolved["train"].items()}
    return {"model": resolved["model"], **resolved["config"], **train_fields}


def _check_run_folder(run: RunFolder, resume: bool, chief: bool, epochs: int) -> None:
    """A new run needs an empty --out; a resumed complete one epochs left to train."""
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    if chief and not resume and run.path.exists() and any(run.path.iterdir()):
        raise UserError(f"--out {run.path}: the folder exists and is not empty; pass --resume or another --out")
    if resume:
        # No checkpoint yet (killed before its first save): the run starts again from the beginning. A run killed
        # after its last epoch, while writing its files (no genkit.json yet), is finished without more training.
        position = TrainingCheckpoint.saved_position(run.checkpoint_dir)
        if position is not None and position[0] >= epochs and run.is_complete:
            raise UserError(
                f"--resume {run.path}: the run has already trained {position[0]} epochs; "
                f"pass --epochs N with N > {position[0]} to train further"
            )


def _training_record(trainer, checkpoint, stop_reason: str, batch_size: int, example_unit: str) -> dict:
    """genkit.json's "training": where the run stopped and how fast this session trained (in the task's unit)."""
    epochs_done, step_in_epoch = int(checkpoint.epoch.numpy()), int(checkpoint.step_in_epoch.numpy())
    return {
        "stop_reason": stop_reason,
        "epochs_completed": epochs_done,
        "step_in_epoch": step_in_epoch,
        "global_steps": trainer.global_steps(epochs_done, step_in_epoch),
        "steps_this_session": trainer.steps_run,
        "seconds_this_session": round(trainer.seconds_training, 2),
        "examples_per_second": round(trainer.steps_run * batch_size / max(trainer.seconds_training, 1e-9), 1),
        "example_unit": example_unit,
    }


def _finalize(entry, model_config, train_config, run: RunFolder, model, data, training, resolved) -> None:
    """Writes model.keras, the serving SavedModel, final samples and, last, genkit.json."""
    import keras

    from genkit.runtime.callbacks import training_metrics

    # A float32 copy on the default strategy: independent of how training ran.
    keras.mixed_precision.set_dtype_policy("float32")
    final = entry.model_class.from_hyperparameters(model_config)
    final.set_weights(model.get_weights())
    run.save_model(final)
    version = run.next_serving_version()
    serving_path = run.export_serving(final, version)
    samples_file = final.final_samples_file  # None: the model has no samples of its own (a classifier)
    if samples_file:
        final.write_samples(run.path / samples_file, final.generate_samples(train_config.num_sample_images, train_config.seed))

    records = json.loads(run.history_path.read_text()) if run.history_path.is_file() else []
    final_metrics = training_metrics(records[-1]) if records else {}
    metadata = {
        "format": "genkit-run",
        "format_version": FORMAT_VERSION,
        "model": entry.name,
        "family": entry.family,
        "description": entry.description,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": resolved["config"],
        "train": resolved["train"],
        "data": {**data.spec(), **final.preprocessing_description()},
        "files": {
            "model": "model.keras",
            "serving": str(serving_path.relative_to(run.path)),
            **({"samples": samples_file} if samples_file else {}),
            "history": "history.json",
            "checkpoints": "checkpoints",
            "logs": "logs",
        },
        "serving": {
            "path": str(serving_path.relative_to(run.path)),
            "version": version,
            "signatures": final.serving_description(),
        },
        "training": training,
        "metrics": final_metrics,
        "versions": library_versions(),
    }
    write_json(run.metadata_path, metadata)
