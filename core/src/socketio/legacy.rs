//! The Socket.IO protocol v4 rules socket.io applies to Engine.IO v3 clients
//! (socket.io-client 2.x, `allowEIO3`) where they differ from v5's.

use std::sync::Arc;

/// The socket id such a client computes for itself: the Engine.IO id on `/`,
/// `<nsp>#<engine id>` elsewhere.
pub(super) fn socket_id(nsp: &str, sid: &Arc<str>) -> Arc<str> {
    if nsp == "/" {
        sid.clone()
    } else {
        format!("{nsp}#{sid}").into()
    }
}

/// The CONNECT_ERROR data: the refusal's data, or its message, bare.
pub(super) fn connect_error(message: &str, data: Option<&str>) -> String {
    data.map_or_else(
        || serde_json::to_string(message).unwrap_or_else(|_| "\"\"".into()),
        str::to_string,
    )
}

/// A query string as a JSON object of strings (percent-decoded; a name given twice keeps
/// its last value), as socket.io hands a v2 client's namespace query to its middlewares.
pub(super) fn query_object(query: &str) -> String {
    let mut map = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(
            percent_decode(k),
            serde_json::Value::String(percent_decode(v)),
        );
    }
    serde_json::Value::Object(map).to_string()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_query_becomes_an_auth_object() {
        assert_eq!(
            query_object("token=a%20b+c&x=%zz&&flag&token2=%C3%A9"),
            r#"{"flag":"","token":"a b c","token2":"é","x":"%zz"}"#
        );
        assert_eq!(query_object(""), "{}");
    }

    #[test]
    fn ids_and_errors_as_2x_clients_expect_them() {
        let sid: Arc<str> = "abc".into();
        assert_eq!(&*socket_id("/", &sid), "abc");
        assert_eq!(&*socket_id("/admin", &sid), "/admin#abc");
        assert_eq!(connect_error("no", None), "\"no\"");
        assert_eq!(connect_error("no", Some("{\"why\":1}")), "{\"why\":1}");
    }
}
