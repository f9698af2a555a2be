"""The embedder interface and its pickle-free persistence (numpy ``.npz`` + JSON)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

__all__ = ["Embedder", "FloatMatrix", "l2_normalize"]

FloatMatrix = NDArray[np.float32]

#: Bumped when the layout of ``state`` changes.
FORMAT_VERSION = 1


def l2_normalize(x: NDArray[Any]) -> FloatMatrix:
    """Row-wise L2 normalisation to float32; all-zero rows stay zero.

    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


class Embedder(ABC):
    """Maps texts to L2-normalised float32 vectors of a fixed :attr:`dim`.

    Subclasses register a unique :attr:`kind` and implement ``fit``, ``transform``,
    ``to_arrays`` and ``from_arrays``.  Persistence is data only: a dict of numpy arrays
    (saved with ``np.savez``, loaded with ``allow_pickle=False``) plus a JSON-able dict.
    """

    kind: ClassVar[str]
    #: Whether ``fit`` learns from the catalogue (then a grown catalogue is worth a refit); a
    #: fixed, pretrained or data-independent embedder says False and is never refitted.
    learns_from_catalogue: ClassVar[bool] = False
    _registry: ClassVar[dict[str, type[Embedder]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if isinstance(kind, str):
            Embedder._registry[kind] = cls

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of every output vector."""

    @property
    @abstractmethod
    def version(self) -> str:
        """Identifies the model: kind, parameters and (for fitted models) a content hash."""

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`transform` can be called."""
        return True

    @abstractmethod
    def fit(self, texts: Sequence[str]) -> Self:
        """Learn from raw texts (analysed internally); returns ``self``."""

    @abstractmethod
    def transform(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed raw texts: array of shape ``(len(texts), dim)``, float32, rows L2-normalised
        (a text with no known term gives a zero row)."""

    def fit_transform(self, texts: Sequence[str]) -> FloatMatrix:
        return self.fit(texts).transform(texts)

    def transform_one(self, text: str) -> FloatMatrix:
        """Embed one text: a 1-D array of length :attr:`dim`."""
        return np.asarray(self.transform([text])[0], dtype=np.float32)

    @abstractmethod
    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """The model as ``(arrays, meta)``: numpy arrays (no object dtype) and JSON-able meta."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Self:
        """Rebuild a model from :meth:`to_arrays` output."""

    # --- parameters as data --------------------------------------------------------------------

    def state(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """``(arrays, meta)`` to store: numpy arrays (never object dtype, so no pickle is needed to
        read them back) and JSON-able meta naming the kind and version."""
        arrays, meta = self.to_arrays()
        for name, arr in arrays.items():
            if np.asarray(arr).dtype == object:
                raise TypeError(f"array {name!r} has object dtype; it would need pickle")
        return arrays, {"format_version": FORMAT_VERSION, "kind": self.kind, "version": self.version,
                        "dim": self.dim, **meta}

    @classmethod
    def from_state(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Embedder:
        """Rebuild what :meth:`state` returned, dispatching on the stored ``kind``; called on a
        subclass it also checks that the stored kind matches, and always that the version does."""
        kind = meta.get("kind")
        if not isinstance(kind, str) or kind not in Embedder._registry:
            raise ValueError(f"unknown embedder kind {kind!r}")
        target = Embedder._registry[kind]
        if cls is not Embedder and not issubclass(target, cls):
            raise ValueError(f"stored embedder is {kind!r}, not {cls.kind!r}")
        model = target.from_arrays(arrays, meta)
        stored = meta.get("version")
        if stored is not None and stored != model.version:
            raise ValueError(f"embedder version mismatch: stored {stored!r}, rebuilt {model.version!r}")
        return model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(version={self.version!r}, dim={self.dim})"
