//! URL query strings: percent-decoding (`+` is a space, as in forms and socket.io's
//! handshake query), one parameter, or all of them as a JSON object.

use serde_json::Value;

/// Decodes `%XX` escapes and `+`; a malformed escape stays as it is.
pub fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        );
        match (bytes[i], escape) {
            (b'+', _) => out.push(b' '),
            (b'%', (Some(h), Some(l))) => {
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of parameter `name` in `url`'s query, decoded.
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| decode(v))
    })
}

/// Every parameter as an object (a repeated name keeps its last value), as socket.io
/// shows `handshake.query`.
pub fn object(query: &str) -> Value {
    let mut out = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k), Value::String(decode(v)));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_like_socket_io() {
        assert_eq!(
            object("EIO=4&transport=polling&name=J%C3%BCrgen+B"),
            json!({"EIO": "4", "transport": "polling", "name": "Jürgen B"})
        );
        assert_eq!(
            param("/api/sockets?nsp=%2Fchat&room=a+b", "nsp").as_deref(),
            Some("/chat")
        );
        assert_eq!(
            param("/api/sockets?nsp=%2Fchat&room=a+b", "room").as_deref(),
            Some("a b")
        );
        assert_eq!(param("/api/sockets", "nsp"), None);
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
