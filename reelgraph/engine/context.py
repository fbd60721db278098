"""What a running node may touch: progress, previews, cancellation, RNG, folders."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import Cancelled


class CancelToken:
    """Shared by a run and its nodes; `cancel()` from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class Context:
    """Handed to a node that declares a `ctx` parameter. Nodes never print; they report here."""

    __slots__ = (
        "_emit",
        "_item",
        "_rng",
        "_torch_gen",
        "cache",
        "cancel",
        "files",
        "node_id",
        "node_type",
        "out_dir",
        "params",
        "run_id",
        "seed",
        "segment_runner",
        "temp_dir",
        "workflow",
    )

    def __init__(
        self,
        *,
        run_id: str,
        node_id: str,
        node_type: str,
        seed: int,
        out_dir: Path,
        temp_dir: Path,
        cancel: CancelToken,
        emit: Callable[[str, dict[str, Any]], None],
        item: int | None = None,
        workflow: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        cache: Any = None,
        segment_runner: Any = None,
    ) -> None:
        self.run_id = run_id
        self.node_id = node_id
        self.node_type = node_type
        self.seed = seed
        self.out_dir = out_dir
        self.temp_dir = temp_dir
        self.cancel = cancel
        self._emit = emit
        self._item = item
        # The workflow document being run, for outputs that embed it (provenance).
        self.workflow = workflow
        # The run's workflow param values (name -> value); nodes declared with
        # uses_params=True may read them (their cache keys include them).
        self.params = dict(params or {})
        # The run's value cache, for nodes that keep sub-results of their own under
        # content keys (the encoder's segments); None outside a scheduler.
        self.cache = cache
        # Renders an encoder's missing segments elsewhere, in parallel (Ray workers for
        # `run --executor ray`): `runner(video, ranges, settings)`; None renders here.
        self.segment_runner = segment_runner
        # Paths handed out by output_path(): the files this node writes.
        self.files: list[str] = []
        self._rng: random.Random | None = None
        self._torch_gen: Any = None

    @property
    def cancelled(self) -> bool:
        return self.cancel.cancelled

    def check_cancelled(self) -> None:
        """Raise `Cancelled` if the run was cancelled; call it in long loops."""
        if self.cancel.cancelled:
            raise Cancelled(f"run {self.run_id} cancelled")

    def progress(self, done: float, total: float, text: str = "") -> None:
        """Report progress; also a cancellation point."""
        self.check_cancelled()
        data: dict[str, Any] = {"value": done, "max": total}
        if text:
            data["text"] = text
        if self._item is not None:
            data["item"] = self._item
        self._emit("node.progress", data)

    def preview(self, value: Any, kind: str = "") -> None:
        """Offer an image / video / audio value for display; listeners decide how to encode it."""
        self._emit("node.preview", {"value": value, "kind": kind, "item": self._item})

    @property
    def rng(self) -> random.Random:
        """A Python RNG seeded from the node's inputs: same inputs, same numbers."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng

    def torch_generator(self, device: str = "cpu") -> Any:
        import torch

        if self._torch_gen is None:
            self._torch_gen = torch.Generator(device=device).manual_seed(self.seed)
        return self._torch_gen

    def output_path(self, name: str) -> Path:
        """A path in the run's output folder (created on demand)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = (self.out_dir / name).resolve()
        if self.out_dir.resolve() not in path.parents:
            raise ValueError(f"output name {name!r} leaves the output folder")
        self.files.append(str(path))
        return path
