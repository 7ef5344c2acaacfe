//! Who may join a namespace: a JWT in the handshake's `auth.token`, checked here, or the
//! backend's answer to a POST of the connect (`[auth] url`). An accepted socket gets the
//! data and rooms the token or the backend gave before its client hears it is connected.

use std::sync::Arc;

use rtio::engineio::Handshake;
use serde_json::{json, Value};

use crate::backend::Answer;
use crate::state::State;

/// One connect to decide.
pub struct Connect {
    pub request: u64,
    pub sid: Arc<str>,
    pub nsp: Arc<str>,
    /// The handshake's auth object (JSON text).
    pub auth: String,
    pub handshake: Arc<Handshake>,
}

/// The decision.
enum Decision {
    Accept {
        data: Option<Value>,
        rooms: Vec<String>,
    },
    Refuse {
        message: String,
        data: Option<Value>,
    },
}

fn refuse(message: impl Into<String>) -> Decision {
    Decision::Refuse {
        message: message.into(),
        data: None,
    }
}

/// Decides a connect and answers the core (on rtio serve's runtime).
pub async fn decide(state: Arc<State>, connect: Connect) {
    let decision = if !state.namespaces.allows(&connect.nsp) {
        refuse("Invalid namespace")
    } else {
        ask(&state, &connect).await
    };
    let io = &state.io;
    let outcome = match decision {
        Decision::Accept { data, rooms } => {
            if let Some(data) = data.filter(|d| !d.is_null()) {
                let _ = io.set_socket_data(&connect.sid, Some(&data.to_string()));
            }
            for room in rooms.iter().filter(|r| !r.is_empty()) {
                let _ = io.join(&connect.sid, room);
            }
            let _ = io.accept(connect.request);
            "accepted"
        }
        Decision::Refuse { message, data } => {
            let data = data.map(|d| d.to_string());
            let _ = io.reject(connect.request, &message, data.as_deref());
            "refused"
        }
    };
    log::debug!("connect {} to {}: {outcome}", connect.sid, connect.nsp);
}

async fn ask(state: &State, connect: &Connect) -> Decision {
    let auth: Value = serde_json::from_str(&connect.auth).unwrap_or(json!({}));
    if let Some(jwt) = &state.settings.jwt {
        match auth.get("token") {
            Some(Value::String(token)) => {
                let decision = check_jwt(jwt, token);
                state.metrics.inc(
                    "rtio_auth_requests_total",
                    &[("method", "jwt"), ("outcome", outcome(&decision))],
                );
                return decision;
            }
            Some(_) => return refuse("auth.token must be a string"),
            None if state.settings.auth_url.is_none() => {
                return refuse("authentication required: no auth.token")
            }
            None => {}
        }
    }
    let Some(url) = &state.settings.auth_url else {
        return Decision::Accept {
            data: None,
            rooms: Vec::new(),
        };
    };
    let body = json!({
        "sid": &*connect.sid,
        "nsp": &*connect.nsp,
        "auth": auth,
        "query": crate::query::object(&connect.handshake.query),
        "headers": headers_object(&connect.handshake),
        "address": connect.handshake.remote_addr.ip().to_string(),
        "secure": connect.handshake.secure,
    });
    let answer = state
        .backend
        .post_json(url, &body, state.settings.auth_timeout)
        .await;
    let decision = match answer {
        Answer::Http {
            status: 200..=299,
            body,
        } => Decision::Accept {
            data: body.get("data").cloned(),
            rooms: string_list(body.get("rooms")),
        },
        Answer::Http {
            status: 401 | 403,
            body,
        } => Decision::Refuse {
            message: body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unauthorized")
                .to_string(),
            data: body.get("data").cloned(),
        },
        Answer::Http { status, .. } => {
            log::warn!("auth: {url} answered {status}");
            refuse(format!(
                "authentication unavailable (the backend answered {status})"
            ))
        }
        Answer::TimedOut => {
            log::warn!("auth: {url} did not answer in time");
            refuse("authentication unavailable (the backend did not answer in time)")
        }
        Answer::Failed(why) => {
            log::warn!("auth: {url}: {why}");
            refuse("authentication unavailable (the backend cannot be reached)")
        }
    };
    state.metrics.inc(
        "rtio_auth_requests_total",
        &[("method", "url"), ("outcome", outcome(&decision))],
    );
    decision
}

fn outcome(decision: &Decision) -> &'static str {
    match decision {
        Decision::Accept { .. } => "accepted",
        Decision::Refuse { .. } => "refused",
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn check_jwt(jwt: &crate::settings::Jwt, token: &str) -> Decision {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let key = match jwt.algorithm {
        Algorithm::HS256 => Ok(DecodingKey::from_secret(&jwt.key)),
        Algorithm::RS256 => DecodingKey::from_rsa_pem(&jwt.key),
        _ => DecodingKey::from_ec_pem(&jwt.key),
    };
    let Ok(key) = key else {
        return refuse("authentication unavailable (bad public key)");
    };
    let mut validation = Validation::new(jwt.algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = true;
    validation.leeway = 0;
    match decode::<Value>(token, &key, &validation) {
        Ok(data) => {
            let claims = data.claims;
            Decision::Accept {
                rooms: string_list(claims.get("rooms")),
                data: Some(claims),
            }
        }
        Err(e) => match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => refuse("token expired"),
            _ => refuse(format!("invalid token ({e})")),
        },
    }
}

/// The handshake's headers as an object (repeated ones joined with `, `).
pub fn headers_object(handshake: &Handshake) -> Value {
    let mut out = serde_json::Map::new();
    for (name, value) in handshake.headers.iter() {
        let value = String::from_utf8_lossy(value);
        match out.get_mut(name) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&value);
            }
            _ => {
                out.insert(name.to_string(), Value::String(value.into_owned()));
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwts_are_checked_for_signature_and_expiry() {
        use jsonwebtoken::{encode, EncodingKey, Header};
        let jwt = crate::settings::Jwt {
            algorithm: jsonwebtoken::Algorithm::HS256,
            key: b"s3cret".to_vec(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let sign = |claims: Value, key: &[u8]| {
            encode(&Header::default(), &claims, &EncodingKey::from_secret(key)).unwrap()
        };
        match check_jwt(
            &jwt,
            &sign(
                json!({"sub": "u1", "rooms": ["a"], "exp": now + 60}),
                b"s3cret",
            ),
        ) {
            Decision::Accept { data, rooms } => {
                assert_eq!(rooms, ["a"]);
                assert_eq!(data.unwrap()["sub"], "u1");
            }
            Decision::Refuse { message, .. } => panic!("{message}"),
        }
        let expired = sign(json!({"sub": "u1", "exp": now - 5}), b"s3cret");
        assert!(
            matches!(check_jwt(&jwt, &expired), Decision::Refuse { message, .. } if message == "token expired")
        );
        let forged = sign(json!({"sub": "u1"}), b"other");
        assert!(matches!(check_jwt(&jwt, &forged), Decision::Refuse { .. }));
    }
}
