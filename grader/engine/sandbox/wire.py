"""Move values between the trusted worker and a sandboxed child as JSON plus raw array bytes.

Never pickle, never np.load: a frame is a small JSON header followed by raw buffers, and the
decoder accepts only plain JSON values and arrays of whitelisted numeric dtypes within size caps.
Both sides import this module; only `read_value` and `decode` read bytes from student code.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC = b"CRW1"
HEADER_LENGTH = struct.Struct("<I")
HEADER_OPENING = b'{"value": '
FLOAT_NAMES = ("nan", "inf", "-inf")
BIGINT_PATTERN = re.compile(r"-?[0-9]{1,4000}")
ARRAY_KEYS = frozenset({"__array__", "dtype", "shape"})
ALLOWED_DTYPES = frozenset(
    [
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ]
)


@dataclass(frozen=True)
class WireLimits:
    """The caps a decoder enforces on one frame."""

    max_header_bytes: int = 4 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_array_elements: int = 16 * 1024 * 1024
    max_ndim: int = 8
    max_depth: int = 8
    max_items: int = 100_000
    max_string: int = 100_000
    max_buffers: int = 100_000


class WireError(ValueError):
    """The frame is malformed, uses a forbidden type, or exceeds a cap."""


class FrameTooLarge(WireError):
    """The frame exceeds a size cap."""


class Unsupported:
    """A value the wire cannot carry, remembered by its type name."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"Unsupported({self.type_name!r})"


def storable_text(text: str) -> str:
    """Return text with NUL and unpaired surrogates replaced by U+FFFD.

    Text the child chose reaches verdicts, which are saved as PostgreSQL jsonb: it refuses
    \\u0000 and a lone \\ud800, and a lone surrogate cannot even be encoded as UTF-8.
    Round-tripping through UTF-16 keeps a surrogate pair written as two code points as the one
    character it stands for.
    """
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", "\ufffd")


def encode(value: Any) -> bytes:
    """Return value as one frame; values the wire cannot carry become Unsupported markers."""
    buffers: list[bytes] = []
    header = _encode_value(value, buffers, depth=0)
    descriptors = []
    offset = 0
    for buffer in buffers:
        descriptors.append(len(buffer))
        offset += len(buffer)
    header_bytes = json.dumps({"value": header, "buffers": descriptors}).encode()
    return b"".join([MAGIC, HEADER_LENGTH.pack(len(header_bytes)), header_bytes, *buffers])


def _encode_value(value: Any, buffers: list[bytes], depth: int) -> Any:
    if depth > 32:
        return {"__unsupported__": "deeply nested value"}
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -(2**63) <= value < 2**64 else {"__bigint__": str(value)}
    if kind is float:
        return _encode_float(value)
    if kind is list or kind is tuple:
        items = [_encode_value(item, buffers, depth + 1) for item in value]
        return {"__tuple__": items} if kind is tuple else items
    if kind is dict and all(type(key) is str for key in value):
        return {
            "__dict__": {
                key: _encode_value(item, buffers, depth + 1) for key, item in value.items()
            }
        }
    if kind is np.ndarray or isinstance(value, np.generic):
        array = np.asarray(value)
        if type(array) is not np.ndarray or array.dtype.name not in ALLOWED_DTYPES:
            return {"__unsupported__": f"array of dtype {array.dtype.name}"}
        # np.ascontiguousarray would turn a 0-d array into shape (1,), so copy only when needed.
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        buffers.append(array.tobytes())
        encoded = {
            "__array__": len(buffers) - 1,
            "dtype": array.dtype.name,
            "shape": list(array.shape),
        }
        if isinstance(value, np.generic):
            encoded["scalar"] = True
        return encoded
    return {"__unsupported__": _type_name(value)}


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"__float__": repr(value)}


def _type_name(value: Any) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", "object")
    return name if module in ("builtins", "") else f"{module}.{name}"


def read_value(
    read: Callable[[int], bytes], limits: WireLimits | None = None, ended: Any = None
) -> Any:
    """Read exactly one frame through read(n), which returns n bytes or fewer at end of input.

    Return the frame's value, checked as decode() checks it, or ended when the input ends before
    a frame starts. The frame's own header says how long it is, so one stream carries several.
    """
    limits = limits or WireLimits()
    prefix = read(8)
    if not prefix:
        return ended
    if len(prefix) < 8 or prefix[:4] != MAGIC:
        raise WireError("bad frame magic")
    (header_length,) = HEADER_LENGTH.unpack_from(prefix, 4)
    # Every header encode() writes opens the same way: anything else is not a frame at all.
    opening = read(min(header_length, len(HEADER_OPENING)))
    if opening != HEADER_OPENING[: len(opening)] or len(opening) < len(HEADER_OPENING):
        raise WireError("bad header")
    if header_length > limits.max_header_bytes:
        raise FrameTooLarge("header too large")
    header = opening + read(header_length - len(opening))
    if len(header) < header_length:
        raise WireError("truncated header")
    value, lengths = _parse_header(header, limits)
    body_length = sum(lengths)
    if 8 + header_length + body_length > limits.max_total_bytes:
        raise FrameTooLarge("frame exceeds the byte cap")
    body = read(body_length)
    if len(body) < body_length:
        raise WireError("truncated frame")
    return _decode_body(value, lengths, memoryview(body), 0, limits)


def decode(frame: bytes, limits: WireLimits | None = None) -> Any:
    """Return the value carried by a frame, refusing anything outside the whitelist and caps."""
    limits = limits or WireLimits()
    if len(frame) > limits.max_total_bytes:
        raise FrameTooLarge(f"frame of {len(frame)} bytes exceeds {limits.max_total_bytes}")
    if frame[:4] != MAGIC or len(frame) < 8:
        raise WireError("bad frame magic")
    (header_length,) = HEADER_LENGTH.unpack_from(frame, 4)
    if header_length > len(frame) - 8:
        raise WireError("truncated header")
    value, lengths = _parse_header(frame[8 : 8 + header_length], limits)
    end = 8 + header_length + sum(lengths)
    if end > len(frame):
        raise WireError("bad buffer length")
    if end != len(frame):
        raise WireError("trailing bytes after the last buffer")
    return _decode_body(value, lengths, memoryview(frame), 8 + header_length, limits)


def _decode_body(
    value: Any, lengths: list[int], data: memoryview, offset: int, limits: WireLimits
) -> Any:
    """Return the header's value, its buffers laid end to end in data from offset on."""
    starts = []
    for length in lengths:
        starts.append(offset)
        offset += length
    state = _Decoding(data, starts, lengths, limits)
    try:
        decoded = _decode_value(value, state, 0)
    except WireError:
        raise
    except MemoryError:
        raise FrameTooLarge("the frame's values do not fit in memory") from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as error:
        # The checks in _decode_value should leave nothing for this to catch; should a frame
        # still trip int() or NumPy, it is malformed output, never a failure of the grader.
        raise WireError(f"malformed value ({type(error).__name__})") from None
    if len(state.used_buffers) != len(lengths):
        raise WireError("a buffer that no value refers to")
    return decoded


def _parse_header(data: bytes, limits: WireLimits) -> tuple[Any, list[int]]:
    """Return a header's value and buffer lengths, refusing what would blow up while parsing it."""
    if len(data) > limits.max_header_bytes:
        raise FrameTooLarge("header too large")
    # Each list or tagged object opens with [ or {, and a value opens at most two (an array's
    # object and its shape): this bounds what json.loads builds before it builds it. Brackets
    # inside strings count too, which only errs on the side of refusing.
    if data.count(b"[") + data.count(b"{") > 2 * limits.max_items + 2:
        raise FrameTooLarge("too many values")
    try:
        # ValueError also covers an integer literal beyond Python's digit limit.
        header = json.loads(data.decode())
    except MemoryError:
        raise FrameTooLarge("the header does not fit in memory") from None
    except (ValueError, RecursionError) as error:
        raise WireError(f"bad header: {error}") from None
    if not isinstance(header, dict) or set(header) != {"value", "buffers"}:
        raise WireError("bad header shape")
    buffers = header["buffers"]
    if not isinstance(buffers, list):
        raise WireError("bad buffer list")
    if len(buffers) > limits.max_buffers:
        raise FrameTooLarge("too many buffers")
    if not all(type(length) is int and length >= 0 for length in buffers):
        raise WireError("bad buffer length")
    return header["value"], buffers


class _Decoding:
    """What one decode has used so far: values, buffers (each at most once) and array bytes.

    A buffer referenced twice would let a small frame expand into many copies in the worker, so
    the arrays a frame yields never hold more bytes than the frame carried.
    """

    def __init__(
        self, body: memoryview, starts: list[int], lengths: list[int], limits: WireLimits
    ) -> None:
        # Buffers are sliced out of the frame only when an array names them.
        self.body = body
        self.starts = starts
        self.lengths = lengths
        self.limits = limits
        self.items = 0
        self.used_buffers: set[int] = set()
        self.array_bytes = 0


def _decode_value(value: Any, state: _Decoding, depth: int) -> Any:
    limits = state.limits
    state.items += 1
    if state.items > limits.max_items:
        raise FrameTooLarge("too many values")
    if depth > limits.max_depth:
        raise WireError("value nested too deeply")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if len(value) > limits.max_string:
            raise FrameTooLarge("string too long")
        return value
    if isinstance(value, list):
        return [_decode_value(item, state, depth + 1) for item in value]
    if not isinstance(value, dict):
        raise WireError("bad value")
    return _decode_tagged(value, state, depth)


def _decode_tagged(value: dict[str, Any], state: _Decoding, depth: int) -> Any:
    """Decode one of the tagged objects encode() writes, with exactly the keys it writes."""
    keys = set(value)
    tag = next(iter(keys)) if len(keys) == 1 else None
    content = value[tag] if tag is not None else None
    if tag == "__tuple__" and isinstance(content, list):
        return tuple(_decode_value(item, state, depth + 1) for item in content)
    if tag == "__dict__" and isinstance(content, dict):
        return {key: _decode_value(item, state, depth + 1) for key, item in content.items()}
    if tag == "__float__":
        if not isinstance(content, str) or content not in FLOAT_NAMES:
            raise WireError("bad float")
        return float(content)
    if tag == "__bigint__":
        # Strictly ASCII digits: str.isdigit() also accepts "²", which int() refuses.
        if not isinstance(content, str) or not BIGINT_PATTERN.fullmatch(content):
            raise WireError("bad integer")
        return int(content)
    if tag == "__unsupported__":
        if not isinstance(content, str):
            raise WireError("bad type name")
        return Unsupported(storable_text(content[:200]))
    if ARRAY_KEYS <= keys <= ARRAY_KEYS | {"scalar"}:
        return _decode_array(value, state)
    raise WireError("unknown tagged value")


def _decode_array(value: dict[str, Any], state: _Decoding) -> Any:
    limits = state.limits
    index, dtype_name, shape = value.get("__array__"), value.get("dtype"), value.get("shape")
    if type(index) is not int or not 0 <= index < len(state.lengths):
        raise WireError("bad array buffer index")
    if index in state.used_buffers:
        raise WireError("an array buffer is referenced more than once")
    state.used_buffers.add(index)
    if not isinstance(dtype_name, str) or dtype_name not in ALLOWED_DTYPES:
        shown = dtype_name[:40] if isinstance(dtype_name, str) else type(dtype_name).__name__
        raise WireError(f"dtype {shown!r} is not allowed")
    if type(value.get("scalar", False)) is not bool:
        raise WireError("bad scalar flag")
    if not isinstance(shape, list) or len(shape) > limits.max_ndim:
        raise WireError("bad array shape")
    if not all(type(size) is int and 0 <= size <= limits.max_array_elements for size in shape):
        raise WireError("bad array dimension")
    elements = math.prod(shape)
    if elements > limits.max_array_elements:
        raise FrameTooLarge("array has too many elements")
    dtype = np.dtype(dtype_name).newbyteorder("<")
    start = state.starts[index]
    view = state.body[start : start + state.lengths[index]]
    if len(view) != elements * dtype.itemsize:
        raise WireError("array buffer length does not match its shape")
    state.array_bytes += len(view)
    if state.array_bytes > limits.max_total_bytes:
        raise FrameTooLarge("the arrays exceed the byte cap")
    array = np.frombuffer(view, dtype=dtype).astype(dtype.newbyteorder("="), copy=True)
    array = array.reshape(shape)
    if value.get("scalar") is True and array.ndim == 0:
        return array[()]
    return array
