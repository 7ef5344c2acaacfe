//! The publish commands of the HTTP API and of webhook answers: parsed strictly (an unknown
//! field or a wrong type is an error naming the field), checked whole before anything is
//! applied, then applied through the core (cluster-wide with the Redis adapter).

use rtio::{Io, Payload, Selector};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::namespaces::Namespaces;

fn root() -> String {
    "/".into()
}

/// `POST /api/emit`: an event to every socket of a namespace, or to rooms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emit {
    pub event: String,
    #[serde(default)]
    pub args: Vec<Value>,
    #[serde(default = "root")]
    pub nsp: String,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub except: Vec<String>,
}

/// `POST /api/join` and `/api/leave`: the sockets of rooms (`in`), or one (`sid`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rooms {
    #[serde(default = "root")]
    pub nsp: String,
    #[serde(rename = "in")]
    pub within: Option<Vec<String>>,
    pub sid: Option<String>,
    pub room: String,
}

/// `POST /api/disconnect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    #[serde(default = "root")]
    pub nsp: String,
    #[serde(rename = "in")]
    pub within: Option<Vec<String>>,
    pub sid: Option<String>,
    /// Close the whole connection too (socket.io's `disconnect(true)`).
    #[serde(default)]
    pub close: bool,
}

/// One element of `POST /api/batch`: `{"op": "emit" | "join" | "leave" | "disconnect",
/// ...that command's fields}`.
#[derive(Debug, Clone)]
pub enum Command {
    Emit(Emit),
    Join(Rooms),
    Leave(Rooms),
    Disconnect(Disconnect),
}

/// Parses JSON into `T`; the error names the field (`args[2]`, `to`, …) and what was wrong.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            format!("{inner}")
        } else {
            format!("{path}: {inner}")
        }
    })?;
    de.end().map_err(|e| format!("{e}"))?;
    Ok(value)
}

/// Parses a batch: an array of commands, each error prefixed with its index (`[1] room: …`).
pub fn parse_batch(body: &[u8]) -> Result<Vec<Command>, String> {
    let items: Vec<Value> = parse(body)?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| command(item).map_err(|e| format!("[{i}] {e}")))
        .collect()
}

fn command(mut item: Value) -> Result<Command, String> {
    let op = match item.as_object_mut().map(|o| o.remove("op")) {
        None => return Err("a command is an object with an op".into()),
        Some(Some(Value::String(op))) => op,
        Some(_) => return Err("op: must be emit, join, leave or disconnect".into()),
    };
    fn fields<T: DeserializeOwned>(item: Value) -> Result<T, String> {
        serde_path_to_error::deserialize(item).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })
    }
    match op.as_str() {
        "emit" => fields(item).map(Command::Emit),
        "join" => fields(item).map(Command::Join),
        "leave" => fields(item).map(Command::Leave),
        "disconnect" => fields(item).map(Command::Disconnect),
        other => Err(format!(
            "op: {other:?} is not emit, join, leave or disconnect"
        )),
    }
}

fn check_nsp(nsp: &str, namespaces: &Namespaces) -> Result<(), String> {
    if !nsp.starts_with('/') {
        return Err(format!("nsp: {nsp:?} must start with '/'"));
    }
    if !namespaces.allows(nsp) {
        return Err(format!(
            "nsp: {nsp:?} is not a namespace this server serves"
        ));
    }
    Ok(())
}

fn check_rooms(field: &str, rooms: &[String]) -> Result<(), String> {
    match rooms.iter().position(String::is_empty) {
        Some(i) => Err(format!("{field}[{i}]: a room name is not empty")),
        None => Ok(()),
    }
}

/// The sockets a command is for: `sid` or the rooms `in`, exactly one of them.
fn target(within: &Option<Vec<String>>, sid: &Option<String>) -> Result<Vec<String>, String> {
    match (within, sid) {
        (Some(_), Some(_)) => Err("give either in or sid, not both".into()),
        (None, None) => Err("in (rooms) or sid is required".into()),
        (Some(rooms), None) if rooms.is_empty() => Err("in: name at least one room".into()),
        (Some(rooms), None) => {
            check_rooms("in", rooms)?;
            Ok(rooms.clone())
        }
        (None, Some(sid)) if sid.is_empty() => Err("sid: must not be empty".into()),
        // A socket's id is the name of the room that holds it alone.
        (None, Some(sid)) => Ok(vec![sid.clone()]),
    }
}

impl Emit {
    pub fn check(&self, namespaces: &Namespaces) -> Result<(), String> {
        if self.event.is_empty() {
            return Err("event: must not be empty".into());
        }
        if rtio::socketio::packet::RESERVED_EVENTS.contains(&self.event.as_str()) {
            return Err(format!("event: {:?} is a reserved event name", self.event));
        }
        check_nsp(&self.nsp, namespaces)?;
        check_rooms("to", &self.to)?;
        check_rooms("except", &self.except)
    }

    /// Emits it; the number of sockets of this server it reached.
    pub fn apply(&self, io: &Io) -> Result<usize, rtio::Error> {
        let mut broadcast = io.broadcast(&self.nsp);
        for room in &self.to {
            broadcast = broadcast.to(room.clone());
        }
        for room in &self.except {
            broadcast = broadcast.except(room.clone());
        }
        broadcast.emit(&self.event, &Payload::from_values(&self.args))
    }
}

impl Rooms {
    pub fn check(&self, namespaces: &Namespaces) -> Result<(), String> {
        check_nsp(&self.nsp, namespaces)?;
        target(&self.within, &self.sid)?;
        if self.room.is_empty() {
            return Err("room: must not be empty".into());
        }
        Ok(())
    }

    pub fn apply(&self, io: &Io, join: bool) -> Result<(), rtio::Error> {
        let to = target(&self.within, &self.sid).unwrap_or_default();
        let sel = Selector {
            to: &to,
            ..Default::default()
        };
        if join {
            io.sockets_join(&self.nsp, &sel, [self.room.clone()])
        } else {
            io.sockets_leave(&self.nsp, &sel, [self.room.clone()])
        }
    }
}

impl Disconnect {
    pub fn check(&self, namespaces: &Namespaces) -> Result<(), String> {
        check_nsp(&self.nsp, namespaces)?;
        target(&self.within, &self.sid).map(|_| ())
    }

    pub fn apply(&self, io: &Io) -> Result<(), rtio::Error> {
        let to = target(&self.within, &self.sid).unwrap_or_default();
        let sel = Selector {
            to: &to,
            ..Default::default()
        };
        io.disconnect_sockets(&self.nsp, &sel, self.close)
    }
}

impl Command {
    pub fn check(&self, namespaces: &Namespaces) -> Result<(), String> {
        match self {
            Command::Emit(c) => c.check(namespaces),
            Command::Join(c) | Command::Leave(c) => c.check(namespaces),
            Command::Disconnect(c) => c.check(namespaces),
        }
    }

    pub fn nsp(&self) -> &str {
        match self {
            Command::Emit(c) => &c.nsp,
            Command::Join(c) | Command::Leave(c) => &c.nsp,
            Command::Disconnect(c) => &c.nsp,
        }
    }

    pub fn apply(&self, io: &Io) -> Result<(), rtio::Error> {
        match self {
            Command::Emit(c) => c.apply(io).map(|_| ()),
            Command::Join(c) => c.apply(io, true),
            Command::Leave(c) => c.apply(io, false),
            Command::Disconnect(c) => c.apply(io),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any() -> Namespaces {
        Namespaces::new(&["*".to_string()])
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_the_field() {
        let err = parse::<Emit>(br#"{"event":"x","argz":[]}"#).unwrap_err();
        assert!(err.contains("argz"), "{err}");
        let err = parse::<Emit>(br#"{"event":"x","to":"room"}"#).unwrap_err();
        assert!(err.starts_with("to:"), "{err}");
        let err = parse_batch(br#"[{"op":"emit","event":"a"},{"op":"join","sid":"s","room":3}]"#)
            .unwrap_err();
        assert!(err.starts_with("[1] room:"), "{err}");
        let err = parse_batch(br#"[{"op":"fly"}]"#).unwrap_err();
        assert!(err.contains("fly"), "{err}");
        let err = parse_batch(br#"[{"op":"emit","event":"a","extra":1}]"#).unwrap_err();
        assert!(err.contains("extra"), "{err}");
        assert!(parse::<Emit>(b"{\"event\":\"x\"} trailing").is_err());
    }

    #[test]
    fn commands_are_checked_before_anything_is_applied() {
        let e: Emit = parse(br#"{"event":"disconnect"}"#).unwrap();
        assert!(e.check(&any()).unwrap_err().contains("reserved"));
        let e: Emit = parse(br#"{"event":"x","nsp":"chat"}"#).unwrap();
        assert!(e.check(&any()).unwrap_err().starts_with("nsp:"));
        let r: Rooms = parse(br#"{"room":"a"}"#).unwrap();
        assert!(r.check(&any()).unwrap_err().contains("sid"));
        let r: Rooms = parse(br#"{"room":"a","sid":"x","in":["b"]}"#).unwrap();
        assert!(r.check(&any()).is_err());
        let only_root = Namespaces::new(&["/".to_string()]);
        let e: Emit = parse(br#"{"event":"x","nsp":"/admin"}"#).unwrap();
        assert!(e.check(&only_root).is_err());
    }
}
