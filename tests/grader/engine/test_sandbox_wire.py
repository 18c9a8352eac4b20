"""The wire between sandbox and worker: JSON plus raw bytes, whitelisted dtypes, size caps."""

from __future__ import annotations

import json
import pickle
import struct
import tracemalloc

import numpy as np
import pytest

from grader.engine.sandbox import wire as sandbox_wire
from grader.engine.sandbox.wire import (
    MAGIC,
    FrameTooLarge,
    Unsupported,
    WireError,
    WireLimits,
    decode,
    encode,
    storable_text,
)


def _frame(value: object, buffers: list[bytes]) -> bytes:
    header = json.dumps({"value": value, "buffers": [len(b) for b in buffers]}).encode()
    return MAGIC + struct.pack("<I", len(header)) + header + b"".join(buffers)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -(2**70),
        2.5,
        float("inf"),
        "text",
        [1, 2.0, "x"],
        (1, (2, 3)),
        {"a": [1, 2]},
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.array([[1.5, np.nan], [np.inf, -0.0]]),
        np.zeros((0, 3)),
        np.array([True, False]),
        np.complex128(1 + 2j),
        np.float64(2.5),
        [np.float64(1.0), np.float64(2.0)],
        np.arange(12.0).reshape(3, 4).T,
    ],
)
def test_it_round_trips_plain_values(value: object) -> None:
    decoded = decode(encode(value))
    if isinstance(value, np.ndarray | np.generic):
        np.testing.assert_array_equal(decoded, value)
        assert np.asarray(decoded).dtype == np.asarray(value).dtype
        assert np.shape(decoded) == np.shape(value)
    else:
        assert decoded == value


def test_it_keeps_nan_floats() -> None:
    assert np.isnan(decode(encode(float("nan"))))


def test_it_turns_foreign_objects_into_markers() -> None:
    class FakeEqual:
        def __eq__(self, other: object) -> bool:
            return True

    decoded = decode(encode([FakeEqual(), np.array([object()], dtype=object), {1: 2}]))
    assert all(isinstance(item, Unsupported) for item in decoded)
    assert "object" in decoded[1].type_name


def test_it_refuses_dtypes_outside_the_whitelist() -> None:
    frame = _frame({"__array__": 0, "dtype": "object", "shape": [1]}, [b"\0" * 8])
    with pytest.raises(WireError, match="not allowed"):
        decode(frame)


def test_it_refuses_a_buffer_that_does_not_match_the_shape() -> None:
    frame = _frame({"__array__": 0, "dtype": "float64", "shape": [3]}, [b"\0" * 16])
    with pytest.raises(WireError, match="does not match"):
        decode(frame)


def test_it_refuses_arrays_beyond_the_element_cap() -> None:
    frame = _frame({"__array__": 0, "dtype": "uint8", "shape": [1000, 1000]}, [b"\0" * 1_000_000])
    with pytest.raises(FrameTooLarge):
        decode(frame, WireLimits(max_array_elements=10_000))


def test_it_refuses_frames_beyond_the_byte_cap() -> None:
    with pytest.raises(FrameTooLarge):
        decode(encode(np.zeros(1000)), WireLimits(max_total_bytes=1000))


def test_it_refuses_a_buffer_referenced_twice() -> None:
    # One 1 MiB buffer named by many arrays would make the worker allocate a copy for each.
    reference = {"__array__": 0, "dtype": "float64", "shape": [1 << 17]}
    frame = _frame([reference, reference], [b"\0" * (1 << 20)])
    with pytest.raises(WireError, match="more than once"):
        decode(frame)


def test_it_refuses_pickle_bytes() -> None:
    with pytest.raises(WireError):
        decode(pickle.dumps(np.zeros(3)))


def test_it_refuses_unknown_tags_and_trailing_bytes() -> None:
    with pytest.raises(WireError):
        decode(_frame({"__reduce__": "os.system"}, []))
    with pytest.raises(WireError, match="trailing"):
        decode(encode(1) + b"junk")


def test_it_refuses_deep_nesting() -> None:
    value: object = 1
    for _ in range(20):
        value = [value]
    with pytest.raises(WireError, match="deeply"):
        decode(_frame(value, []))


ARRAY = {"__array__": 0, "dtype": "float64", "shape": [1]}


@pytest.mark.parametrize(
    ("value", "buffers"),
    [
        ({"__bigint__": "--5"}, []),  # passes a test of lstrip("-").isdigit(), fails int()
        ({"__bigint__": "\u00b2"}, []),  # "²" is a digit to str.isdigit()
        ({"__bigint__": "1_000"}, []),
        ({"__bigint__": " 5"}, []),
        ({"__bigint__": "5\n"}, []),
        ({"__bigint__": 5}, []),
        ({"__bigint__": "9" * 4001}, []),
        ({"__float__": ["nan"]}, []),
        ({"__float__": "NaN"}, []),
        ({"__unsupported__": ["a list"]}, []),
        ({"__tuple__": "not a list"}, []),
        ({"__dict__": [1]}, []),
        ({"__tuple__": [], "__dict__": {}}, []),
        ({}, []),
        ({**ARRAY, "dtype": []}, [b"\0" * 8]),  # unhashable: `in ALLOWED_DTYPES` raised TypeError
        ({**ARRAY, "dtype": {"float64": 1}}, [b"\0" * 8]),
        ({**ARRAY, "shape": [True]}, [b"\0" * 8]),
        ({**ARRAY, "shape": "1"}, [b"\0" * 8]),
        ({**ARRAY, "__array__": 0.0}, [b"\0" * 8]),
        ({**ARRAY, "scalar": "yes"}, [b"\0" * 8]),
        ({**ARRAY, "extra": 1}, [b"\0" * 8]),
        ({"dtype": "float64", "shape": [1]}, [b"\0" * 8]),
    ],
)
def test_every_malformed_value_is_a_wire_error(value: object, buffers: list[bytes]) -> None:
    # Anything else (ValueError from int(), TypeError from a set lookup) escaped as a grader failure.
    with pytest.raises(WireError):
        decode(_frame(value, buffers))


def test_a_json_integer_beyond_pythons_digit_limit_is_a_wire_error() -> None:
    header = b'{"value": ' + b"7" * 5000 + b', "buffers": []}'
    with pytest.raises(WireError):
        decode(MAGIC + struct.pack("<I", len(header)) + header)


def _raw_frame(header: bytes) -> bytes:
    return MAGIC + struct.pack("<I", len(header)) + header


def test_it_refuses_more_buffers_than_the_cap() -> None:
    # 1.9 million empty buffers in a 3.8 MB header once became 434 MB of memoryviews.
    header = json.dumps({"value": None, "buffers": [0] * 200_001}).encode()
    with pytest.raises(FrameTooLarge, match="buffers"):
        decode(_raw_frame(header))


def test_it_refuses_a_buffer_no_value_refers_to() -> None:
    with pytest.raises(WireError, match="no value"):
        decode(_frame(None, [b"\0" * 8]))


def test_it_refuses_a_header_of_many_containers_before_parsing_it() -> None:
    header = b'{"value": [' + b",".join([b"[]"] * 1_000_000) + b'], "buffers": []}'
    tracemalloc.start()
    try:
        with pytest.raises(FrameTooLarge, match="too many values"):
            decode(_raw_frame(header))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # json.loads would have built a million lists: about 80 MB


def test_running_out_of_memory_while_decoding_is_a_frame_too_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exhausted(*_: object, **__: object) -> object:
        raise MemoryError

    monkeypatch.setattr(sandbox_wire.json, "loads", exhausted)
    with pytest.raises(FrameTooLarge):
        decode(encode([1, 2, 3]))


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("plain", "plain"),
        ("a\x00b", "a\ufffdb"),
        ("\ud800", "\ufffd"),
        ("x\udfffy\ud800", "x\ufffdy\ufffd"),
        ("\ud83d\ude00", "\U0001f600"),  # a pair written as two code points is one character
        ("\U0001f600 ok", "\U0001f600 ok"),
    ],
)
def test_storable_text_replaces_nul_and_unpaired_surrogates(text: str, stored: str) -> None:
    assert storable_text(text) == stored
    storable_text(text).encode("utf-8")


def test_an_unsupported_type_name_is_decoded_storable() -> None:
    decoded = decode(_frame({"__unsupported__": "Odd\x00\ud800"}, []))
    assert decoded.type_name == "Odd\ufffd\ufffd"
