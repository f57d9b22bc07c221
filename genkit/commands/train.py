"""``genkit train``: resolve the config, load the data, train under a strategy, write the run folder.

:func:`train` is a pipeline of named steps over one :class:`TrainingRun`, which carries the model's
entry and configs from the first step to the last: ``plan_run`` (the configs resolved, or a resumed
run's read back) -> ``choose_strategy`` -> ``load_data`` -> ``check_run_folder`` -> ``build_model``
-> ``open_run_folder`` -> ``restore`` -> ``fit`` -> ``finalize``.
"""

from __future__ import annotations

import contextlib
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
from genkit.runtime.warm_start import ParentRun
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


def _requested_parent(file_values: dict, overrides: dict, flags: dict) -> str | None:
    """The run that --init-from (or train.init_from of --config or --set) names; None: a run from scratch (a value
    that is not a path is left to TrainConfig's check)."""
    value = flags.get("init_from")
    if value is None:
        value = merge_config_values(file_values, overrides).get("train", {}).get("init_from")
    return value if isinstance(value, str) and value.strip() else None


def _warm_start_config(entry, parent: ParentRun, file_values, overrides, flags, source):
    """The parent's config and train section < config file < --set < explicit flags; ``init_from`` the parent."""
    parent.check_model(entry.name, entry.family)
    values = merge_config_values(merge_config_values({**parent.config, "train": parent.train}, file_values), overrides)
    model_config, train_config = resolve_config(entry, values, {}, flags, source)
    return model_config, train_config.replace(f"{source} (train)", init_from=str(parent.path))


@dataclasses.dataclass
class TrainingRun:
    """One ``genkit train`` session on its way through the steps of :func:`train`.

    :func:`plan_run` sets what the command asked for (the model, its resolved configs, the run folder); each
    later step fills in what it makes (the strategy, the data, the model, the checkpoint, how training went).
    """

    entry: ModelEntry
    model_config: Any
    train_config: TrainConfig
    run: RunFolder
    resume: bool
    verbose: int
    parent: ParentRun | None = None  # --init-from: the run whose weights the new one starts from
    saved_position: tuple[int, int] | None = None  # a resumed run's newest checkpoint: (epoch, step_in_epoch)
    strategy: Any = None
    chief: bool = True
    data: Any = None
    model: Any = None
    steps_per_epoch: int = 0
    checkpoint: Any = None
    initial_position: tuple[int, int] = (0, 0)  # (epoch, step_in_epoch) that training starts from
    trainer: Any = None
    stop_reason: str = ""

    @property
    def resolved(self) -> dict:
        """config.json: the model's name, its completed config and the train section."""
        return {"model": self.entry.name, "config": self.model_config.to_dict(), "train": self.train_config.to_dict()}

    def dataset(self, epoch: int):
        """The training batches of ``epoch`` (shuffled by the run's seed and the epoch)."""
        config = self.train_config
        return self.model.training_dataset(self.data, config.batch_size, config.seed * 1000 + epoch)

    def warm_start_parent(self) -> ParentRun | None:
        """The run whose weights the model starts from: --init-from's, or, for a resumed warm start killed before
        its first checkpoint, its parent again."""
        if self.parent is None and self.resume and self.saved_position is None and self.train_config.init_from:
            self.parent = ParentRun.read(self.train_config.init_from)
        return self.parent

    def result(self) -> TrainingResult:
        return TrainingResult(run_dir=self.run.path, model=self.model, stop_reason=self.stop_reason, is_chief=self.chief)


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
    ``checkpoint_minutes``, ``checkpoints_to_keep``, ``init_from``: a run folder to start from);
    ``None`` means "not given". ``overrides`` are ``--set key=value`` strings
    or a mapping.
    """
    state = plan_run(model_name, config_file, overrides, out, resume, verbose, flags)
    choose_strategy(state)  # first: the strategy must be made before TensorFlow touches a device
    load_data(state)
    check_run_folder(state)
    with training_session(state) as lock:
        build_model(state)
        open_run_folder(state, lock)
        restore(state)
        fit(state)
        if state.chief:
            finalize(state)
    if state.verbose and state.chief:
        print(f"genkit: run folder {state.run.path} ({state.stop_reason})")
    return state.result()


def plan_run(model_name: str, config_file, overrides, out, resume: bool, verbose: int, flags: dict) -> TrainingRun:
    """The model's entry, its config and train config resolved (or a resumed run's, read back), the run folder."""
    entry = get_model_entry(model_name)
    unknown = sorted(set(flags) - set(TrainConfig.field_names()))
    if unknown:
        raise TypeError(f"train() got unexpected keyword argument(s): {', '.join(unknown)}")
    file_values = read_config_file(config_file) if config_file else {}
    override_values = parse_overrides(list(overrides)) if not isinstance(overrides, dict) else overrides
    source = f"--config {config_file}" if config_file else "--set"
    parent_path = _requested_parent(file_values, override_values, flags)

    if resume:
        if parent_path is not None:
            raise UserError(
                "--init-from with --resume: --resume continues a run from its own checkpoints, --init-from starts "
                "a new run from another run's weights; pass one of them"
            )
        run = RunFolder(out or _latest_run(entry.name))
        if not run.config_path.is_file():
            raise UserError(f"--resume {run.path}: not a run folder (no config.json)")
        model_config, train_config = _resumed_config(entry, run, file_values, override_values, flags)
        return TrainingRun(entry, model_config, train_config, run, resume, verbose)
    parent = ParentRun.read(parent_path) if parent_path is not None else None
    if parent is not None:
        model_config, train_config = _warm_start_config(entry, parent, file_values, override_values, flags, source)
    else:
        model_config, train_config = resolve_config(entry, file_values, override_values, flags, source)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run = RunFolder(out or DEFAULT_OUTPUT_ROOT / f"{entry.name}-{stamp}")
    return TrainingRun(entry, model_config, train_config, run, resume, verbose, parent)


def choose_strategy(state: TrainingRun) -> None:
    """The distribution strategy of ``train.strategy``; whether this worker is the chief (the run folder's writer)."""
    from genkit.runtime.strategy import is_chief, make_strategy

    config = state.train_config
    state.strategy = make_strategy(
        config.strategy, config.devices, cluster=config.cluster,
        cluster_port=config.cluster_port, collective_timeout=config.collective_timeout,
    )
    state.chief = is_chief(state.strategy)
    state.verbose = state.verbose if state.chief else 0


def load_data(state: TrainingRun) -> None:
    """The training data, and the model config completed by it (an image shape, a vocabulary)."""
    state.data, state.model_config = state.entry.model_class.prepare_data(state.model_config, state.train_config)
    replicas, batch_size = state.strategy.num_replicas_in_sync, state.train_config.batch_size
    if batch_size % replicas:
        raise UserError(f"--batch-size {batch_size}: must be divisible by the {replicas} replicas of the strategy")


@contextlib.contextmanager
def training_session(state: TrainingRun):
    """The run folder's lock (taken by :func:`open_run_folder`) and the dtype policy of ``train.mixed_precision``,
    both given back however training ends."""
    import keras

    from genkit.runtime.run_lock import RunFolderLock

    policy = "float32" if state.train_config.mixed_precision == "none" else state.train_config.mixed_precision
    lock = RunFolderLock(state.run.path, f"genkit train {state.entry.name}")  # the chief is the run folder's one writer
    try:
        keras.mixed_precision.set_dtype_policy(policy)
        yield lock
    finally:
        lock.release()
        keras.mixed_precision.set_dtype_policy("float32")


def build_model(state: TrainingRun) -> None:
    """The model and its optimizers, built under the strategy from the run's seed (a warm start's weights then set
    to its parent's: fresh optimizers, step 0); the steps of an epoch."""
    import keras

    from genkit.runtime.trainer import steps_in_epoch

    keras.utils.set_random_seed(state.train_config.seed)  # the same initial weights for the same seed
    with state.strategy.scope():
        state.model = state.entry.model_class.from_hyperparameters(state.model_config)
        state.model.compile_for_training(state.model_config, seed=state.train_config.seed)
    parent = state.warm_start_parent()
    if parent is not None:
        parent.start(state.model)  # a run whose weights do not fit is refused here, before the run folder is written
        if state.verbose:
            print(f"genkit: starting from the weights of {parent.path} (new optimizers, step 0)")
    # Checked before the run folder is written: a bad value leaves nothing behind.
    state.steps_per_epoch = steps_in_epoch(state.dataset(0), state.train_config.batch_size, state.data.name)


def open_run_folder(state: TrainingRun, lock) -> None:
    """The chief makes the run folder, takes its lock and writes config.json (the run is incomplete again)."""
    if not state.chief:
        return
    state.run.path.mkdir(parents=True, exist_ok=True)
    lock.acquire()
    state.run.metadata_path.unlink(missing_ok=True)  # in progress again: incomplete until finalized
    state.run.write_config(state.resolved)


def restore(state: TrainingRun) -> None:
    """The training checkpoint; a resumed run restores its newest one (none yet: it trains from the start)."""
    from genkit.atomic import temporary_directory
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    run = state.run
    directory = run.checkpoint_dir if state.chief else temporary_directory("genkit-worker-checkpoints-")
    state.checkpoint = TrainingCheckpoint(state.model, directory, state.train_config.checkpoints_to_keep, is_chief=state.chief)
    state.initial_position = state.checkpoint.restore_latest(run.checkpoint_dir) if state.resume else (0, 0)
    if state.resume and state.chief and state.checkpoint.latest is None:  # killed before its first checkpoint
        print(f"genkit: no checkpoint in {run.checkpoint_dir} yet; training {run.path} from the start", file=sys.stderr)
    elif state.verbose and state.resume:
        epoch, step = state.initial_position
        print(f"genkit: resuming {run.path} at epoch {epoch + 1}, step {step}")


def fit(state: TrainingRun) -> None:
    """Trains to the planned epochs (or a stop: the time limit, a signal); the checkpoint is closed after."""
    from genkit.runtime.trainer import Trainer

    config = state.train_config
    state.trainer = Trainer(
        state.model, state.strategy, state.checkpoint, jit=config.jit,
        autotune=not getattr(state.data, "in_memory", False),
        time_limit_seconds=config.time_limit * 60 if config.time_limit else None,
        checkpoint_every=config.checkpoint_every,
        checkpoint_seconds=config.checkpoint_minutes * 60 if config.checkpoint_minutes else None,
    )
    epoch, step = state.initial_position
    state.stop_reason = state.trainer.fit(
        state.dataset, config.epochs, state.steps_per_epoch, _callbacks(state),
        initial_epoch=epoch, initial_step=step, verbose=state.verbose,
        log_every_seconds=config.log_every_seconds, batch_size=config.batch_size,
    )
    state.checkpoint.close()


def _callbacks(state: TrainingRun) -> list:
    """What the chief writes while training: the model's own callbacks, history.json, the TensorBoard logs."""
    from genkit.runtime.callbacks import MetricsHistory
    from genkit.runtime.tensorboard_logs import TensorBoardLogs

    if not state.chief:  # only the chief writes the run folder, its logs included
        return []
    run, config = state.run, state.train_config
    return [
        *state.model.training_callbacks(run, config.num_sample_images, config.seed),
        MetricsHistory(run.history_path, config.batch_size),
        # Instead of keras.callbacks.TensorBoard (epoch scalars only); last, so that it finds the
        # epoch's samples the model's callbacks wrote.
        TensorBoardLogs(
            run.logs_dir, run.samples_dir, _hyperparameters(state.resolved), run.path.name, config.batch_size,
            log_every_steps=config.log_every_steps, histograms=config.histograms,
        ),
    ]


def _hyperparameters(resolved: dict) -> dict:
    """The run's settings as TensorBoard's HParams table shows them: the model's fields, ``train.FIELD``."""
    train_fields = {f"train.{name}": value for name, value in resolved["train"].items()}
    return {"model": resolved["model"], **resolved["config"], **train_fields}


def check_run_folder(state: TrainingRun) -> None:
    """A new run needs an empty --out; a resumed complete one epochs left to train."""
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    run = state.run
    if state.chief and not state.resume and run.path.exists() and any(run.path.iterdir()):
        raise UserError(f"--out {run.path}: the folder exists and is not empty; pass --resume or another --out")
    if state.resume:
        # No checkpoint yet (killed before its first save): the run starts again from the beginning. A run killed
        # after its last epoch, while writing its files (no genkit.json yet), is finished without more training.
        position = state.saved_position = TrainingCheckpoint.saved_position(run.checkpoint_dir)
        if position is not None and position[0] >= state.train_config.epochs and run.is_complete:
            raise UserError(
                f"--resume {run.path}: the run has already trained {position[0]} epochs; "
                f"pass --epochs N with N > {position[0]} to train further"
            )


def _training_record(state: TrainingRun) -> dict:
    """genkit.json's "training": where the run stopped and how fast this session trained (in the task's unit)."""
    from genkit.runtime.strategy import describe_strategy

    trainer, checkpoint, batch_size = state.trainer, state.checkpoint, state.train_config.batch_size
    epochs_done, step_in_epoch = int(checkpoint.epoch.numpy()), int(checkpoint.step_in_epoch.numpy())
    return {
        "stop_reason": state.stop_reason,
        "epochs_completed": epochs_done,
        "step_in_epoch": step_in_epoch,
        "global_steps": trainer.global_steps(epochs_done, step_in_epoch),
        "steps_this_session": trainer.steps_run,
        "seconds_this_session": round(trainer.seconds_training, 2),
        "examples_per_second": round(trainer.steps_run * batch_size / max(trainer.seconds_training, 1e-9), 1),
        "example_unit": state.model.example_unit,
        "strategy": describe_strategy(state.strategy),
    }


def finalize(state: TrainingRun) -> None:
    """Writes model.keras, the serving SavedModel, final samples and, last, genkit.json."""
    import keras

    from genkit.runtime.callbacks import training_metrics

    training = _training_record(state)
    entry, run, config = state.entry, state.run, state.train_config
    # A float32 copy on the default strategy: independent of how training ran.
    keras.mixed_precision.set_dtype_policy("float32")
    final = entry.model_class.from_hyperparameters(state.model_config)
    final.set_weights(state.model.get_weights())
    run.save_model(final)
    version = run.next_serving_version()
    serving_path = run.export_serving(final, version)
    samples_file = final.final_samples_file  # None: the model has no samples of its own (a classifier)
    if samples_file:
        final.write_samples(run.path / samples_file, final.generate_samples(config.num_sample_images, config.seed))

    records = json.loads(run.history_path.read_text()) if run.history_path.is_file() else []
    final_metrics = training_metrics(records[-1]) if records else {}
    resolved = state.resolved
    metadata = {
        "format": "genkit-run",
        "format_version": FORMAT_VERSION,
        "model": entry.name,
        "family": entry.family,
        "description": entry.description,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": resolved["config"],
        "train": resolved["train"],
        # A warm start's parent (its model is this one's: another is refused).
        **({"parent": {"path": config.init_from, "model": entry.name}} if config.init_from else {}),
        "data": {**state.data.spec(), **final.preprocessing_description()},
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
