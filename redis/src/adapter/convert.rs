//! Between the core's forms (payloads as JSON text plus attachments, sockets as
//! `SocketInfo`, selections as `Selector`) and the wire's (values with binary inline,
//! `RemoteSocket`, `Opts`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rtio::adapter::{OutPacket, Selector};
use rtio::engineio::{Handshake, Headers};
use rtio::{Payload, SocketInfo};

use crate::error::Result;
use crate::json::{decode_json, encode_json};
use crate::socketio::{from_socketio, to_socketio};
use crate::types::{Opts, RemoteSocket};
use crate::value::Value;

/// `[event, ...args]` with the binary attachments put back in place, as the wire carries an
/// event.
pub(crate) fn event_data(event: &str, payload: &Payload) -> Result<Vec<Value>> {
    let args = from_socketio(payload.json(), payload.attachments())?;
    let mut data = match args {
        Value::Array(a) => a,
        other => vec![other],
    };
    data.insert(0, Value::from(event));
    Ok(data)
}

/// The event name and its arguments (binary as attachments) of `[event, ...args]`; `None`
/// when the first element is not a string (no Socket.IO event has such a name).
pub(crate) fn split_event(mut data: Vec<Value>) -> Option<(String, Payload)> {
    if data.is_empty() {
        return None;
    }
    let Value::Str(event) = data.remove(0) else {
        return None;
    };
    Some((event, payload_of(data)))
}

/// Values as a core payload (binary values become attachments).
pub(crate) fn payload_of(args: Vec<Value>) -> Payload {
    let (json, attachments) = to_socketio(&Value::Array(args));
    Payload::from_json_trusted(json).with_attachments(attachments)
}

/// The one answer a peer relays (`data` / `packet`: the first ack argument; absent when
/// it was `undefined`) as a payload: one argument, or none.
pub(crate) fn answer_payload(answer: Option<Value>) -> Payload {
    match answer {
        Some(v) => payload_of(vec![v]),
        None => Payload::empty(),
    }
}

/// The first argument of an answer, as peers relay it (the rest is dropped, as Node's
/// adapter does); `None` for no argument.
pub(crate) fn first_arg(payload: &Payload) -> Option<Value> {
    match from_socketio(payload.json(), payload.attachments()) {
        Ok(Value::Array(a)) => a.into_iter().next(),
        _ => None,
    }
}

/// The options of a broadcast of `packet` (its `volatile` flag and a `compress(false)`
/// cross the cluster).
pub(crate) fn broadcast_opts(packet: &OutPacket<'_>, sel: &Selector<'_>) -> Opts {
    let mut opts = opts_of(sel);
    opts.flags.volatile = packet.is_volatile();
    opts.flags.compress = (!packet.compresses()).then_some(false);
    opts
}

/// The wire's `{rooms, except}` of a selector (the skipped sender is one more exclusion,
/// as `socket.broadcast` puts it in `except`).
pub(crate) fn opts_of(sel: &Selector<'_>) -> Opts {
    let mut except = sel.except.to_vec();
    if let Some(skip) = sel.skip {
        except.push(skip.to_string());
    }
    Opts {
        rooms: sel.to.to_vec(),
        except,
        ..Opts::default()
    }
}

/// The selector of received options (applied to this server only).
pub(crate) fn selector_of(opts: &Opts) -> Selector<'_> {
    Selector {
        to: &opts.rooms,
        except: &opts.except,
        skip: None,
        local: true,
    }
}

/// One of this server's sockets as Node's `fetchSockets` reports it to other nodes:
/// `{id, handshake:{headers, time, address, xdomain, secure, issued, url, query, auth},
/// rooms, data}`. `data` is what the host attached (`Io::set_socket_data`), else `{}`
/// (Node's default); `url` is rebuilt with socket.io's default path, since the handshake keeps the query only.
pub(crate) fn to_remote(info: &SocketInfo) -> RemoteSocket {
    let hs = &info.handshake;
    let mut headers: Vec<(String, Value)> = Vec::new();
    for (name, value) in hs.headers.iter() {
        let value = String::from_utf8_lossy(value);
        match headers.iter_mut().find(|(n, _)| n == name) {
            Some((_, Value::Str(prev))) => {
                prev.push_str(", ");
                prev.push_str(&value);
            }
            _ => headers.push((name.to_string(), Value::Str(value.into_owned()))),
        }
    }
    let xdomain = hs.headers.get("origin").is_some();
    let url = if hs.query.is_empty() {
        "/socket.io/".to_string()
    } else {
        format!("/socket.io/?{}", hs.query)
    };
    let auth = decode_json(info.auth.as_bytes())
        .ok()
        .filter(|v| matches!(v, Value::Map(_)))
        .unwrap_or_else(|| Value::Map(Vec::new()));
    let handshake = crate::types::Handshake {
        headers,
        time: js_date(hs.issued_ms),
        address: hs.remote_addr.ip().to_string(),
        xdomain,
        secure: hs.secure,
        issued: hs.issued_ms,
        url,
        query: parse_query(&hs.query),
        auth,
    }
    .into_value();
    let data = match &info.data {
        Some(json) => decode_json(json.as_bytes()).unwrap_or(Value::Null),
        None => Value::Map(Vec::new()),
    };
    RemoteSocket {
        id: info.id.to_string(),
        handshake,
        rooms: info.rooms.clone(),
        data: Some(data),
    }
}

/// A socket another node reported, as the core's `SocketInfo` (`local: false`).
pub(crate) fn from_remote(socket: RemoteSocket, nsp: &Arc<str>) -> SocketInfo {
    let hs = &socket.handshake;
    let headers = match hs.get("headers") {
        Some(Value::Map(m)) => Headers::from_pairs(m.iter().map(|(n, v)| (n, header_value(v)))),
        _ => Headers::default(),
    };
    let remote_addr = hs
        .get("address")
        .and_then(Value::as_str)
        .and_then(parse_addr)
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    let query = match hs.get("url").and_then(Value::as_str) {
        Some(url) => url.split_once('?').map(|(_, q)| q.to_string()),
        None => None,
    }
    .unwrap_or_else(|| match hs.get("query") {
        Some(Value::Map(m)) => write_query(m),
        _ => String::new(),
    });
    let issued_ms = hs
        .get("issued")
        .and_then(Value::as_f64)
        .filter(|f| *f >= 0.0)
        .map_or(0, |f| f as u64);
    let secure = matches!(hs.get("secure"), Some(Value::Bool(true)));
    let auth = match hs.get("auth") {
        Some(v) if !v.is_null() => encode_json(v),
        _ => "{}".to_string(),
    };
    SocketInfo {
        id: socket.id.into(),
        nsp: nsp.clone(),
        rooms: socket.rooms,
        handshake: Arc::new(Handshake {
            remote_addr,
            headers,
            query,
            issued_ms,
            secure,
        }),
        auth,
        data: socket.data.as_ref().map(encode_json),
        local: false,
    }
}

fn header_value(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Array(a) => a.iter().map(header_value).collect::<Vec<_>>().join(", "),
        other => encode_json(other),
    }
}

/// An address as Node reports it (`127.0.0.1`, `::ffff:127.0.0.1`, or with a port).
fn parse_addr(s: &str) -> Option<SocketAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    s.parse().ok()
}

/// Node's `new Date(ms).toString()` in UTC (how the handshake's `time` reads on a server
/// whose zone is UTC): `Mon Nov 23 2026 17:43:32 GMT+0000 (Coordinated Universal Time)`.
pub(crate) fn js_date(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{} {} {:02} {} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month (1-12), day of the days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A query string as Node's `querystring.parse` reads it: `+` is a space, `%XX` decoded,
/// a repeated key gives an array.
pub(crate) fn parse_query(q: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (unescape(k), unescape(v));
        match out.iter_mut().find(|(n, _)| *n == k) {
            Some((_, Value::Array(a))) => a.push(Value::Str(v)),
            Some((_, prev)) => {
                let first = std::mem::take(prev);
                *prev = Value::Array(vec![first, Value::Str(v)]);
            }
            None => out.push((k, Value::Str(v))),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A query string from a parsed query (values that are not strings as their JSON).
fn write_query(m: &[(String, Value)]) -> String {
    let mut out = String::new();
    let mut pair = |k: &str, v: &Value| {
        if !out.is_empty() {
            out.push('&');
        }
        escape(k, &mut out);
        out.push('=');
        match v {
            Value::Str(s) => escape(s, &mut out),
            other => escape(&encode_json(other), &mut out),
        }
    };
    for (k, v) in m {
        match v {
            Value::Array(a) => a.iter().for_each(|v| pair(k, v)),
            v => pair(k, v),
        }
    }
    out
}

/// `encodeURIComponent`.
fn escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_node_writes_them() {
        assert_eq!(
            js_date(1_795_455_812_431),
            "Mon Nov 23 2026 17:43:32 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn queries_parse_as_querystring_does() {
        let q = parse_query("EIO=4&transport=polling&a=1&a=2&s=x+y%21&bad=%zz&k");
        assert_eq!(
            q,
            vec![
                ("EIO".to_string(), Value::from("4")),
                ("transport".to_string(), Value::from("polling")),
                (
                    "a".to_string(),
                    Value::Array(vec![Value::from("1"), Value::from("2")])
                ),
                ("s".to_string(), Value::from("x y!")),
                ("bad".to_string(), Value::from("%zz")),
                ("k".to_string(), Value::from("")),
            ]
        );
        assert_eq!(unescape("%4"), "%4");
        assert_eq!(unescape("%"), "%");
        assert_eq!(write_query(&q[..3]), "EIO=4&transport=polling&a=1&a=2");
    }

    #[test]
    fn events_cross_with_binary_in_place() {
        let payload =
            Payload::from_json_trusted(r#"[1,{"_placeholder":true,"num":0}]"#.to_string())
                .with_attachments(vec![bytes::Bytes::from_static(&[7, 8])]);
        let data = event_data("ev", &payload).unwrap();
        assert_eq!(data[2], Value::Bin(bytes::Bytes::from_static(&[7, 8])));
        let (event, back) = split_event(data).unwrap();
        assert_eq!(event, "ev");
        assert_eq!(back, payload);
        assert!(split_event(vec![Value::from(1)]).is_none());
        assert!(split_event(vec![]).is_none());
        assert_eq!(first_arg(&Payload::one("a")), Some(Value::from("a")));
        assert_eq!(first_arg(&Payload::empty()), None);
        assert_eq!(answer_payload(None), Payload::empty());
    }
}
