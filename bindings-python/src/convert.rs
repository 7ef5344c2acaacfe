//! Payloads between Python values and rtio's [`Payload`] (a JSON array plus binary
//! attachments referenced by Socket.IO's `{"_placeholder":true,"num":N}` placeholders).
//!
//! Python → JSON is written directly into a byte buffer (no intermediate `serde_json::Value`);
//! `bytes`, `bytearray` and `memoryview` become attachments wherever they are nested. JSON →
//! Python goes through a serde visitor that builds the Python objects as it parses (dict key
//! order kept), turning placeholders back into `bytes`.

use std::fmt;

use bytes::Bytes;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};
use rtio::Payload;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serializer as _;

/// Deepest nesting accepted, the same bound the core applies to what clients send.
const MAX_DEPTH: usize = 128;

/// Arguments from python-socketio's `data` convention: `None` is no argument, a tuple is
/// several arguments, anything else is one argument.
pub fn encode_data(data: &Bound<'_, PyAny>) -> PyResult<Payload> {
    let mut w = Writer::default();
    w.out.push(b'[');
    if data.is_none() {
    } else if let Ok(t) = data.cast::<PyTuple>() {
        for (i, item) in t.iter().enumerate() {
            if i > 0 {
                w.out.push(b',');
            }
            w.value(&item, 0)?;
        }
    } else {
        w.value(data, 0)?;
    }
    w.out.push(b']');
    w.into_payload()
}

/// Arguments from a sequence of values (each one argument).
pub fn encode_args(args: &Bound<'_, PyAny>) -> PyResult<Payload> {
    let mut w = Writer::default();
    w.out.push(b'[');
    for (i, item) in args.try_iter()?.enumerate() {
        if i > 0 {
            w.out.push(b',');
        }
        w.value(&item?, 0)?;
    }
    w.out.push(b']');
    w.into_payload()
}

/// Encodes one value as JSON text; binary values are not allowed (there is nowhere to put
/// them), e.g. for the `data` of a connect refusal.
pub fn encode_json(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let mut w = Writer::default();
    w.value(value, 0)?;
    if !w.attachments.is_empty() {
        return Err(PyValueError::new_err("binary data is not allowed here"));
    }
    String::from_utf8(w.out).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// An `int`'s decimal digits by `int.__repr__`, as `json.dumps` writes them: a subclass's
/// own `__str__` or `__repr__` may say anything.
fn int_digits<'py>(v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
    let digits = v.py().get_type::<PyInt>().call_method1("__repr__", (v,))?;
    Ok(digits.cast_into::<PyString>()?)
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    attachments: Vec<Bytes>,
}

impl Writer {
    fn into_payload(self) -> PyResult<Payload> {
        let json = String::from_utf8(self.out).map_err(|e| PyValueError::new_err(e.to_string()))?;
        // Well-formed by construction: strings and floats are serde_json's, integers their
        // decimal digits (`int.__repr__`, whatever a subclass says), the rest literal.
        debug_assert!(Payload::from_json(json.as_str()).is_ok(), "{json}");
        Ok(Payload::from_json_trusted(json).with_attachments(self.attachments))
    }

    fn string(&mut self, s: &str) {
        // Room for the string unescaped at once, not a buffer doubled byte by byte.
        self.out.reserve(s.len() + 2);
        // serde_json's escaping; writing into a Vec cannot fail.
        let _ = serde_json::Serializer::new(&mut self.out).serialize_str(s);
    }

    fn float(&mut self, f: f64) {
        if f.is_finite() {
            let _ = serde_json::Serializer::new(&mut self.out).serialize_f64(f);
        } else {
            // As JavaScript's JSON.stringify: NaN and the infinities are not JSON.
            self.out.extend_from_slice(b"null");
        }
    }

    fn int(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(i) = v.extract::<i64>() {
            self.out.extend_from_slice(i.to_string().as_bytes());
        } else if let Ok(u) = v.extract::<u64>() {
            self.out.extend_from_slice(u.to_string().as_bytes());
        } else {
            // Larger than 64 bits: its decimal digits are still a JSON number. `int`'s own
            // `__repr__`: a subclass may print itself as anything.
            self.out
                .extend_from_slice(int_digits(v)?.to_cow()?.as_bytes());
        }
        Ok(())
    }

    fn attachment(&mut self, data: Bytes) {
        let n = self.attachments.len();
        self.attachments.push(data);
        self.out
            .extend_from_slice(format!("{{\"_placeholder\":true,\"num\":{n}}}").as_bytes());
    }

    fn key(&mut self, k: &Bound<'_, PyAny>) -> PyResult<()> {
        // The keys `json.dumps` accepts, converted as it converts them.
        if let Ok(s) = k.cast::<PyString>() {
            self.string(&s.to_cow()?);
        } else if k.is_none() {
            self.string("null");
        } else if let Ok(b) = k.cast::<PyBool>() {
            self.string(if b.is_true() { "true" } else { "false" });
        } else if k.cast::<PyInt>().is_ok() {
            self.string(&int_digits(k)?.to_cow()?);
        } else if let Ok(f) = k.cast::<PyFloat>() {
            let mut tmp = Writer::default();
            tmp.float(f.value());
            self.string(std::str::from_utf8(&tmp.out).unwrap_or("null"));
        } else {
            return Err(PyTypeError::new_err(format!(
                "keys must be str, int, float, bool or None, not {}",
                k.get_type().name()?
            )));
        }
        Ok(())
    }

    fn value(&mut self, v: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
        if depth > MAX_DEPTH {
            return Err(PyValueError::new_err(format!(
                "data nested deeper than {MAX_DEPTH} levels"
            )));
        }
        if v.is_none() {
            self.out.extend_from_slice(b"null");
        } else if let Ok(s) = v.cast::<PyString>() {
            self.string(&s.to_cow()?);
        } else if let Ok(b) = v.cast::<PyBool>() {
            self.out
                .extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        } else if v.cast::<PyInt>().is_ok() {
            self.int(v)?;
        } else if let Ok(f) = v.cast::<PyFloat>() {
            self.float(f.value());
        } else if let Ok(d) = v.cast::<PyDict>() {
            self.out.push(b'{');
            for (i, (k, item)) in d.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                self.key(&k)?;
                self.out.push(b':');
                self.value(&item, depth + 1)?;
            }
            self.out.push(b'}');
        } else if let Ok(l) = v.cast::<PyList>() {
            self.out.push(b'[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                self.value(&item, depth + 1)?;
            }
            self.out.push(b']');
        } else if let Ok(t) = v.cast::<PyTuple>() {
            self.out.push(b'[');
            for (i, item) in t.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                self.value(&item, depth + 1)?;
            }
            self.out.push(b']');
        } else if let Ok(b) = v.cast::<PyBytes>() {
            self.attachment(Bytes::copy_from_slice(b.as_bytes()));
        } else if let Ok(b) = v.cast::<PyByteArray>() {
            self.attachment(Bytes::from(b.to_vec()));
        } else if v.cast::<PyMemoryView>().is_ok() {
            let b = v.call_method0("tobytes")?;
            let b = b.cast::<PyBytes>()?;
            self.attachment(Bytes::copy_from_slice(b.as_bytes()));
        } else {
            return Err(PyTypeError::new_err(format!(
                "cannot send a value of type {}: use dict, list, tuple, str, int, float, bool, \
                 None or bytes",
                v.get_type().name()?
            )));
        }
        Ok(())
    }
}

/// The arguments of a payload as a Python list, placeholders replaced by `bytes`.
pub fn decode_args<'py>(py: Python<'py>, payload: &Payload) -> PyResult<Bound<'py, PyList>> {
    let value = decode_json(py, payload.json(), payload.attachments())?;
    value
        .cast_into::<PyList>()
        .map_err(|_| PyValueError::new_err("arguments are not a JSON array"))
}

/// One JSON text as a Python value, placeholders replaced by the given attachments.
pub fn decode_json<'py>(
    py: Python<'py>,
    json: &str,
    attachments: &[Bytes],
) -> PyResult<Bound<'py, PyAny>> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = Seed { py, attachments }
        .deserialize(&mut de)
        .map_err(|e| PyValueError::new_err(format!("invalid payload: {e}")))?;
    de.end()
        .map_err(|e| PyValueError::new_err(format!("invalid payload: {e}")))?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Seed<'a, 'py> {
    py: Python<'py>,
    attachments: &'a [Bytes],
}

fn py_err<E: serde::de::Error>(e: PyErr) -> E {
    E::custom(e.to_string())
}

impl<'de, 'py> DeserializeSeed<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Map keys: JSON keys are always strings.
struct KeySeed<'py>(Python<'py>);

impl<'de, 'py> DeserializeSeed<'de> for KeySeed<'py> {
    type Value = Bound<'py, PyString>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'py> Visitor<'de> for KeySeed<'py> {
    type Value = Bound<'py, PyString>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v))
    }
}

impl<'de, 'py> Visitor<'de> for Seed<'_, 'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.py, v).into_any())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.py);
        while let Some(item) = seq.next_element_seed(self)? {
            list.append(item).map_err(py_err)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.py);
        while let Some(key) = map.next_key_seed(KeySeed(self.py))? {
            let value = map.next_value_seed(self)?;
            dict.set_item(key, value).map_err(py_err)?;
        }
        // Socket.IO's placeholder for a binary attachment, as its own parser recognises it.
        if let Some(flag) = dict.get_item("_placeholder").map_err(py_err)? {
            if flag.is(PyBool::new(self.py, true)) {
                if let Some(num) = dict.get_item("num").map_err(py_err)? {
                    if let Ok(n) = num.extract::<usize>() {
                        if let Some(data) = self.attachments.get(n) {
                            return Ok(PyBytes::new(self.py, data).into_any());
                        }
                    }
                }
            }
        }
        Ok(dict.into_any())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(py: Python<'_>, src: &str) -> (String, usize, String) {
        let value = py
            .eval(&std::ffi::CString::new(src).unwrap(), None, None)
            .unwrap();
        let payload = encode_data(&value).unwrap();
        let back = decode_args(py, &payload).unwrap();
        (
            payload.json().to_string(),
            payload.attachments().len(),
            back.repr().unwrap().to_string(),
        )
    }

    #[test]
    fn python_values_roundtrip_with_binary_anywhere() {
        Python::initialize();
        Python::attach(|py| {
            let (json, n, back) = roundtrip(
                py,
                "({'b': b'\\x00\\x01', 'l': [1, 2.5, None, True, bytearray(b'z')]}, 'x')",
            );
            assert_eq!(
                json,
                "[{\"b\":{\"_placeholder\":true,\"num\":0},\"l\":[1,2.5,null,true,\
                 {\"_placeholder\":true,\"num\":1}]},\"x\"]"
            );
            assert_eq!(n, 2);
            assert_eq!(
                back,
                "[{'b': b'\\x00\\x01', 'l': [1, 2.5, None, True, b'z']}, 'x']"
            );
        });
    }

    #[test]
    fn data_convention_none_tuple_single() {
        Python::initialize();
        Python::attach(|py| {
            assert_eq!(roundtrip(py, "None").0, "[]");
            assert_eq!(roundtrip(py, "(1, 'a')").0, "[1,\"a\"]");
            assert_eq!(roundtrip(py, "[1, 'a']").0, "[[1,\"a\"]]");
            assert_eq!(
                roundtrip(py, "{1: 'i', None: 'n', False: 'f', 2**70: 'big'}").0,
                "[{\"1\":\"i\",\"null\":\"n\",\"false\":\"f\",\"1180591620717411303424\":\"big\"}]"
            );
            assert_eq!(roundtrip(py, "float('nan')").0, "[null]");
            assert_eq!(roundtrip(py, "'\\u00e9\"\\n'").0, "[\"\u{e9}\\\"\\n\"]");
        });
    }

    #[test]
    fn unsupported_values_are_type_errors() {
        Python::initialize();
        Python::attach(|py| {
            let v = py.eval(c"object()", None, None).unwrap();
            let err = encode_data(&v).unwrap_err();
            assert!(err.is_instance_of::<PyTypeError>(py));
            let v = py.eval(c"{(1, 2): 3}", None, None).unwrap();
            assert!(encode_data(&v).is_err());
        });
    }

    #[test]
    fn decoding_keeps_key_order_and_checks_placeholders() {
        Python::initialize();
        Python::attach(|py| {
            let atts = [Bytes::from_static(b"ab")];
            let v = decode_json(
                py,
                r#"{"z":1,"a":{"_placeholder":true,"num":0},"m":{"_placeholder":true,"num":5}}"#,
                &atts,
            )
            .unwrap();
            assert_eq!(
                v.repr().unwrap().to_string(),
                "{'z': 1, 'a': b'ab', 'm': {'_placeholder': True, 'num': 5}}"
            );
            assert!(decode_json(py, "[1,", &[]).is_err());
            assert!(decode_json(py, "[1] x", &[]).is_err());
        });
    }
}
