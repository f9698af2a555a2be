"""FAISS vector index (flat → HNSW by size, tombstones, rebuilds) and atomic snapshots.

>>> import numpy as np, tempfile
>>> idx = VectorIndex(dim=3)
>>> idx.add([1, 2], np.eye(3, dtype=np.float32)[:2])
>>> d = tempfile.mkdtemp()
>>> info = idx.save(d, embedder_version="hashing-test", offsets={"products": {"0": 41}})
>>> snap = load_latest(d)
>>> snap.info.version, snap.info.offsets, len(snap.index), snap.index.search(np.eye(3)[1], 1)[0].tolist()
(1, {'products': {'0': 41}}, 2, [2])
"""

from models.index.snapshot import (
    Snapshot,
    SnapshotInfo,
    list_snapshots,
    load_latest,
    load_snapshot,
    prune_snapshots,
    save_snapshot,
)
from models.index.vector_index import IndexKind, VectorIndex

__all__ = [
    "IndexKind",
    "Snapshot",
    "SnapshotInfo",
    "VectorIndex",
    "list_snapshots",
    "load_latest",
    "load_snapshot",
    "prune_snapshots",
    "save_snapshot",
]
