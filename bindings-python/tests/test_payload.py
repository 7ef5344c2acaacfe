"""Python values <-> Socket.IO payloads (JSON + binary attachments), natively."""

import math

import pytest

from rtio import _native


def test_data_convention():
    assert _native.encode_payload(None) == ("[]", [])
    assert _native.encode_payload((1, "a")) == ('[1,"a"]', [])
    assert _native.encode_payload([1, "a"]) == ('[[1,"a"]]', [])
    assert _native.encode_payload("x") == ('["x"]', [])


def test_binary_becomes_placeholders_and_back():
    data = {"a": b"\x00", "b": [bytearray(b"\x01"), {"c": memoryview(b"\x02")}], "t": (1, 2)}
    text, atts = _native.encode_payload(data)
    assert text == ('[{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1},'
                    '{"c":{"_placeholder":true,"num":2}}],"t":[1,2]}]')
    assert atts == [b"\x00", b"\x01", b"\x02"]
    assert _native.decode_payload(text, atts) == [
        {"a": b"\x00", "b": [b"\x01", {"c": b"\x02"}], "t": [1, 2]}]


def test_scalars_unicode_and_big_numbers():
    values = ("é\u2713\n\"", -(2**63), 2**64 - 1, 1.5, True, False, None, 10**30)
    text, _ = _native.encode_payload(values)
    back = _native.decode_payload(text, [])
    assert back[:7] == list(values[:7])
    assert back[7] == pytest.approx(1e30)  # beyond 64 bits: a JSON number, read as float
    assert _native.encode_payload(math.inf) == ("[null]", [])


def test_int_subclasses_are_written_as_their_value():
    # as json.dumps writes them (int.__repr__), and the JSON text is trusted as it is
    # written: a subclass's own str/repr must not reach it
    class Odd(int):
        def __str__(self):
            return "not a number"

        __repr__ = __str__

    assert _native.encode_payload((Odd(5), Odd(10**30), {Odd(2): Odd(-(2**70))})) == (
        '[5,1000000000000000000000000000000,{"2":-1180591620717411303424}]', [])


def test_dict_order_and_keys_as_json_dumps_converts_them():
    text, _ = _native.encode_payload({"z": 1, 2: "two", None: 0, 1.5: "f"})
    assert text == '[{"z":1,"2":"two","null":0,"1.5":"f"}]'
    assert list(_native.decode_payload('[{"z":1,"a":2,"m":3}]', [])[0]) == ["z", "a", "m"]


def test_errors():
    with pytest.raises(TypeError):
        _native.encode_payload({"x": {1, 2}})
    with pytest.raises(TypeError):
        _native.encode_payload({(1,): 2})
    deep = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError):
        _native.encode_payload(deep)
    with pytest.raises(ValueError):
        _native.decode_payload("[1,", [])
    # a placeholder whose attachment is missing stays a dict
    assert _native.decode_payload('[{"_placeholder":true,"num":3}]', []) == [
        {"_placeholder": True, "num": 3}]
