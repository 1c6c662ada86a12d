"""Read a legacy (pre-zip) PyTorch state_dict file into numpy arrays, without torch.

The file is a run of pickles: a magic number, a protocol version, system info, the
state_dict itself (tensors refer to storages through persistent ids), the list of
storage keys, then each storage's raw bytes preceded by its element count.

A pickle can name any importable callable and have it run. The unpickler here knows
exactly the globals a state_dict needs (an OrderedDict, the tensor rebuild function and
the storage types) and refuses every other one, so a crafted file cannot execute code.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

STORAGE_DTYPES: dict[str, Any] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafeWeights(pickle.UnpicklingError):
    """The file asks for something a plain state_dict never needs."""


@dataclass
class _StorageType:
    dtype: Any


class _Storage:
    """A storage whose bytes come after the pickles; filled in by `load_state_dict`."""

    def __init__(self, dtype: Any, numel: int) -> None:
        self.dtype = np.dtype(dtype)
        self.numel = numel
        self.data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise UnsafeWeights("a tensor refers to a storage the file does not hold")
        if not self.size:
            return data[self.offset:self.offset + 1].reshape(()).copy()
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= data.size or min(self.stride) < 0:
            raise UnsafeWeights("a tensor reaches outside its storage")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size,
            strides=[s * data.itemsize for s in self.stride], writeable=False)
        return np.array(view)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_rest: Any) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise UnsafeWeights("a tensor must be built from a storage")
    if not (isinstance(offset, int) and all(isinstance(n, int) for n in (*size, *stride))):
        raise UnsafeWeights("tensor offset, size and stride must be integers")
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


def _empty_hooks() -> collections.OrderedDict[Any, Any]:
    return collections.OrderedDict()


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that builds OrderedDicts and tensor references, nothing else."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return _empty_hooks
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise UnsafeWeights(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        # ("storage", type, key, location, element count, view metadata); views of
        # storages are not written by state_dicts of this era.
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and pid[5] is None):
            raise UnsafeWeights(f"unexpected persistent id {pid!r:.80}")
        _, kind, key, _location, numel, _view = pid
        if not (isinstance(kind, _StorageType) and isinstance(key, str) and isinstance(numel, int)):
            raise UnsafeWeights("malformed storage reference")
        if key not in self.storages:
            self.storages[key] = _Storage(kind.dtype, numel)
        return self.storages[key]


def _plain(file: IO[bytes]) -> Any:
    """One of the header pickles, which hold only numbers, strings and dicts."""
    return _StateDictUnpickler(file, {}).load()


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """The name -> array mapping of a legacy torch state_dict file."""
    with open(path, "rb") as file:
        if _plain(file) != MAGIC_NUMBER:
            raise UnsafeWeights("not a legacy torch file (bad magic number)")
        _plain(file)  # protocol version
        info = _plain(file)
        if not isinstance(info, dict) or not info.get("little_endian", True):
            raise UnsafeWeights("only little-endian weight files are read")
        storages: dict[str, _Storage] = {}
        tree = _StateDictUnpickler(file, storages).load()
        keys = _plain(file)
        if not isinstance(tree, dict) or not isinstance(keys, list):
            raise UnsafeWeights("the file does not hold a state_dict")
        for key in keys:
            storage = storages.get(key)
            if storage is None:
                raise UnsafeWeights(f"storage {key!r} is not referenced")
            (count,) = struct.unpack("<q", file.read(8))
            if count != storage.numel:
                raise UnsafeWeights(f"storage {key!r} holds {count} elements, expected {storage.numel}")
            raw = file.read(count * storage.dtype.itemsize)
            if len(raw) != count * storage.dtype.itemsize:
                raise UnsafeWeights("the file ends inside a storage")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    out: dict[str, np.ndarray] = {}
    for name, value in tree.items():
        if not isinstance(value, _TensorRef):
            raise UnsafeWeights(f"{name} is not a tensor")
        out[str(name)] = value.array()
    return out
