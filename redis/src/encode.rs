//! One description of each message's layout, written to msgpack or to JSON text.
//!
//! The typed messages write their fields straight into a [`Sink`] instead of first building
//! a [`Value`] tree, so an event's arguments are never cloned on the way to Redis, and the
//! key order (which byte compatibility with Node depends on) is written down once per
//! message for both encodings.

use bytes::Bytes;

use crate::value::Value;

pub(crate) trait Sink {
    /// Starts a map of `len` entries (msgpack needs the count up front; JSON ignores it).
    fn map(&mut self, len: usize);
    fn end_map(&mut self);
    fn array(&mut self, len: usize);
    fn end_array(&mut self);
    /// Writes a key; the next call writes its value.
    fn key(&mut self, key: &str);
    fn str(&mut self, s: &str);
    fn int(&mut self, i: i64);
    fn uint(&mut self, u: u64);
    fn bool(&mut self, b: bool);
    fn null(&mut self);
    fn float(&mut self, f: f64);
    fn bin(&mut self, b: &Bytes);

    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.null(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.int(*i),
            Value::UInt(u) => self.uint(*u),
            Value::Float(f) => self.float(*f),
            Value::Str(s) => self.str(s),
            Value::Bin(b) => self.bin(b),
            Value::Array(a) => self.values(a),
            Value::Map(m) => {
                self.map(m.len());
                for (k, v) in m {
                    self.key(k);
                    self.value(v);
                }
                self.end_map();
            }
        }
    }

    fn values(&mut self, a: &[Value]) {
        self.array(a.len());
        for v in a {
            self.value(v);
        }
        self.end_array();
    }

    fn strs(&mut self, a: &[String]) {
        self.array(a.len());
        for s in a {
            self.str(s);
        }
        self.end_array();
    }
}
