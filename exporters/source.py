"""What an export reads from a run folder: the model, its endpoints, its data, and example inputs.

Everything is found through the model's declared endpoints (``endpoints()``)
and hooks (``endpoint_inputs()``, ``export_metadata()``); nothing here knows
a family by name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from genkit.errors import UserError
from genkit.runtime.run_folder import RunFolder
from genkit.signatures import Endpoint


@dataclasses.dataclass
class ExportSource:
    """A loaded run: its folder and metadata, the Keras model, and (when it can be read) its training data."""

    run: RunFolder
    metadata: dict
    model: Any
    data: Any = None
    data_note: str | None = None

    @classmethod
    def load(cls, run_dir: str | Path) -> "ExportSource":
        run = RunFolder(run_dir)
        metadata = run.read_metadata()  # a clear error for a missing, incomplete or corrupt run
        model = run.load_model()
        data, note = _load_training_data(run, metadata)
        return cls(run=run, metadata=metadata, model=model, data=data, data_note=note)

    @property
    def model_name(self) -> str:
        return self.metadata["model"]

    def endpoints(self, kind: str, signature: str | None = None) -> list[Endpoint]:
        """The model's declared ``serving`` or ``edge`` endpoints (only ``signature`` when given)."""
        endpoints = [endpoint for endpoint in self.model.endpoints().values() if getattr(endpoint, kind)]
        if signature is not None:
            selected = [endpoint for endpoint in endpoints if endpoint.name == signature]
            if not selected:
                names = ", ".join(endpoint.name for endpoint in endpoints)
                raise UserError(
                    f"--signature {signature}: {self.model_name} has no {kind} signature of that name; "
                    f"allowed: {names}"
                )
            endpoints = selected
        return endpoints

    def example_inputs(self, endpoint: Endpoint, num_samples: int, seed: int) -> dict[str, np.ndarray]:
        """``num_samples`` example inputs of ``endpoint`` (from the run's data when the endpoint needs it)."""
        try:
            inputs = self.model.endpoint_inputs(endpoint.name, num_samples, seed, data=self.data)
        except NotImplementedError:
            raise UserError(
                f"{self.model_name}: no example inputs for signature '{endpoint.name}' "
                "(the model's endpoint_inputs() does not provide them), so its export cannot be checked"
            ) from None
        missing = [name for name in endpoint.input_names if name not in inputs]
        if missing:
            raise UserError(
                f"{self.model_name}: endpoint_inputs('{endpoint.name}') lacks input '{missing[0]}'"
            )
        from genkit.evaluation.export_cost import aligned_rows

        return aligned_rows({name: inputs[name] for name in endpoint.input_names})


def _load_training_data(run: RunFolder, metadata: dict):
    """The run's training data (for int8 calibration and quality metrics), or None and why not."""
    from genkit.config import TrainConfig
    from genkit.registry import get_model_entry

    entry = get_model_entry(metadata["model"])
    try:
        saved = run.read_config()
        model_config = entry.config_class.from_dict(saved["config"], str(run.config_path))
        train_config = TrainConfig.from_dict(saved["train"], f"{run.config_path} (train)")
        data, _ = entry.model_class.prepare_data(model_config, train_config)
    except (UserError, KeyError) as error:
        return None, f"training data not available here ({error})"
    return data, None
