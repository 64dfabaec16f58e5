"""Plain data (``nnbook/plaindata.py``): exact arrays across the bridge, and a decoder whose memory is bounded.

The text an answer arrives as is written by the student's kernel. Arrays cross
as their bytes, exactly (NaN, infinities, every dtype); what is not plain data
is refused or becomes a description; and decoding keeps the grader's memory
within a small multiple of the text: an answer of 24 MiB of nested lists, which
would take 1.3 GiB as Python objects, is refused before it is parsed.
"""

import json
import time
import tracemalloc

import numpy as np
import pytest

from nnbook.autograder import plaindata

MiB = 2**20


@pytest.mark.parametrize("dtype", sorted(plaindata.ALLOWED_DTYPES))
def test_arrays_cross_bit_for_bit_as_fresh_writable_ndarrays(dtype):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4)) * 50).astype(dtype)
    if array.dtype.kind == "f":
        array[0, :3] = [np.nan, np.inf, -np.inf]
    back = plaindata.loads(plaindata.dumps(array))
    assert type(back) is np.ndarray and back.dtype == array.dtype and back.shape == (3, 4)
    assert back.tobytes() == array.tobytes() and back.flags.writeable and back.flags.c_contiguous


@pytest.mark.parametrize("array", [
    np.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
    np.arange(6, dtype=">i4").reshape(2, 3),  # big-endian
    np.zeros((0, 5)),
    np.array(2.5),  # zero-dimensional
], ids=["strided", "big-endian", "empty", "0-d"])
def test_any_layout_crosses_as_the_same_values(array):
    back = plaindata.loads(plaindata.dumps(array))
    assert back.shape == array.shape and back.dtype.name == array.dtype.name
    assert np.array_equal(back, array)


def test_scalars_tuples_dicts_and_descriptions_cross():
    value = {"J": np.float32(0.25), "pair": (1, -2.5, None, "s", True), "nan": float("nan"), "odd": 1 + 2j}
    back = plaindata.loads(plaindata.dumps(value))
    assert type(back["J"]) is np.float32 and back["J"] == np.float32(0.25)
    assert back["pair"] == (1, -2.5, None, "s", True) and np.isnan(back["nan"])
    assert isinstance(back["odd"], plaindata.StudentObject) and "complex" in back["odd"].description


def array_text(dtype="float64", shape=(2,), data=None):
    if data is None:
        data = plaindata.encode(np.zeros(shape, dtype=dtype))["__ndarray__"]["data"]
    return json.dumps({"__ndarray__": {"dtype": dtype, "shape": list(shape), "data": data}})


@pytest.mark.parametrize("text, message", [
    (array_text(data="AAAA"), "wrong length"),
    (array_text(data="!" * 24), "not base64"),
    (array_text(data=[0.0, 1.0]), "bad array"),  # the old form, a list of numbers: refused
    (array_text("bool", (3,), "AAIB"), "byte other than 0 and 1"),
    (array_text("object", (1,), "AA=="), "bad array"),
    (array_text(shape=(10**6, 10**6), data=""), "too big to grade"),
    (array_text(shape=(-1,), data=""), "bad shape"),
    ('{"__tuple__": [' * 20 + "]}" * 20, "nested more than 16"),
    ('{"__pickle__": "gASV"}', "unknown tag"),
], ids=["short", "not-base64", "list-data", "bool-2", "object", "huge-shape", "negative", "deep", "pickle"])
def test_what_is_not_plain_data_is_refused_with_its_reason(text, message):
    with pytest.raises(plaindata.PlainDataError, match=message):
        plaindata.loads(text)


def test_a_24_mib_nested_list_is_refused_before_it_is_parsed():
    text = "[" + ", ".join(["[]"] * 6_300_000) + "]"  # 24 MiB; json.loads alone would build 6 million lists
    assert len(text) > 24 * MiB
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(plaindata.PlainDataError, match="too big to grade: more than 100,000 values"):
            plaindata.loads(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 * MiB and time.monotonic() - started < 2


@pytest.mark.parametrize("shape", [
    lambda n: [[0.5, [1, "x"], {"k": []}]] * (n // 8),  # numbers, strings, lists and dicts, nested
    lambda n: [[]] * n,  # empty lists: the most objects per byte of text
], ids=["mixed", "empty-lists"])
def test_decoding_within_the_budget_stays_within_a_bounded_memory(shape):
    text = plaindata.dumps(shape(plaindata.MAX_VALUES // 3))
    tracemalloc.start()
    try:
        plaindata.loads(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * MiB  # 100,000 values at most: a few tens of bytes each, twice (parsed, then decoded)


def test_an_array_answer_costs_a_small_multiple_of_its_text():
    array = np.random.default_rng(1).standard_normal(5 * MiB // 8 * 8)  # 40 MiB of float64
    text = plaindata.dumps({"result": array, "args": [array[:10]], "kwargs": {}})
    tracemalloc.start()
    try:
        back = plaindata.loads(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(back["result"], array)
    assert peak < 3 * len(text)
