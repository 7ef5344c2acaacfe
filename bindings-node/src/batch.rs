//! Core events -> what the JS thread gets: one flat argument list per batch (see
//! [`EventBatch`]), with the connection's handshake as an external value whose fields become
//! JS values only when asked (see [`crate::opening`]).

use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, JsValuesTupleIntoVec, ToNapiValue, TypeName, ValueType};
use napi::{check_status, sys};
use napi_derive::napi;
use rtio::engineio::{Handshake, Transport};
use rtio::{ClusterError, Event, Payload, RequestInfo, SocketInfo};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::opening;

/// Event kind (an event's first field): a client asks to join a namespace that has middleware.
#[napi]
pub const KIND_CONNECT_REQUEST: u32 = 0;
/// Event kind (an event's first field): a socket joined a namespace.
#[napi]
pub const KIND_CONNECT: u32 = 1;
/// Event kind (an event's first field): a client emitted an event.
#[napi]
pub const KIND_MESSAGE: u32 = 2;
/// Event kind (an event's first field): a socket left its namespace.
#[napi]
pub const KIND_DISCONNECT: u32 = 3;
/// Event kind (an event's first field): the answer (or timeout) of `emitWithAck`.
#[napi]
pub const KIND_ACK: u32 = 4;
/// Event kind (an event's first field): the server stopped; no event follows.
#[napi]
pub const KIND_CLOSED: u32 = 5;
/// Event kind (an event's first field): an HTTP request waits for JS to let it through
/// (`answerRequest`): a handshake when the request gate is on (socket.io's `allowRequest`),
/// any request without a session id (CORS preflights too) with the `"host"` CORS mode. Its
/// `id` is the request, its last field the request as a [`NativeRequest`] object.
#[napi]
pub const KIND_REQUEST: u32 = 6;

/// One event from the core, as plain values. Which fields are set depends on `kind`. It
/// reaches JS flattened into an [`EventBatch`], its fields in this order.
pub struct NativeEvent {
    /// One of the `KIND_*` numbers.
    pub kind: u32,
    /// The socket (connect, message, disconnect, ack).
    pub sid: Option<Arc<str>>,
    /// The namespace (connect request, connect, disconnect; a message's socket knows its own).
    pub nsp: Option<Arc<str>>,
    /// The event name (message).
    pub name: Option<String>,
    /// JSON text: the auth object (connect request, connect) or the arguments array
    /// (message, ack), with `{"_placeholder":true,"num":N}` where binary attachments go;
    /// the array of the rooms a disconnected socket left, when it was in more than its own.
    pub data: Option<String>,
    /// The binary attachments (message, ack).
    pub bins: Option<Vec<Buffer>>,
    /// The client's ack id (message), the request id (connect request), the token (ack).
    pub id: Option<f64>,
    /// The disconnect reason, or the ack error; `recovered` on the connect of a socket that
    /// came back with connection state recovery.
    pub reason: Option<String>,
    /// The connection's handshake, handed to JS as an external (see [`crate::opening`]):
    /// a connect request's, and a disconnected socket's (a connected socket's id names it).
    pub handshake: Option<Arc<Handshake>>,
    /// The request of a `KIND_REQUEST` event, handed to JS as a [`NativeRequest`] in the
    /// handshake's place.
    pub request: Option<Arc<RequestInfo>>,
    /// The handshakes of the sockets of a `KIND_FETCH_SOCKETS` answer, handed to JS as an
    /// array of externals in the handshake's place.
    pub handshakes: Option<Vec<Arc<Handshake>>>,
}

/// What JS gets of a request waiting for its answer (`KIND_REQUEST`).
#[napi(object, object_from_js = false)]
pub struct NativeRequest {
    /// The HTTP method (`GET` for handshakes, `OPTIONS` for CORS preflights).
    pub method: String,
    /// Path and query, e.g. `/socket.io/?EIO=4&transport=polling`.
    pub url: String,
    /// The headers: names in lower case, repeated headers joined as Node joins them.
    pub headers: std::collections::HashMap<String, String>,
    /// The peer's IP address.
    pub remote_address: String,
    /// The peer's port.
    pub remote_port: u32,
    /// The transport asked for: `"polling"` or `"websocket"`.
    pub transport: String,
}

impl NativeRequest {
    fn from_info(info: &RequestInfo) -> NativeRequest {
        NativeRequest {
            method: info.method.clone(),
            url: info.url.clone(),
            headers: opening::header_map(&info.headers),
            remote_address: info.remote_addr.ip().to_string(),
            remote_port: u32::from(info.remote_addr.port()),
            transport: transport_name(info.transport).to_string(),
        }
    }
}

/// socket.io's name of a transport.
pub(crate) fn transport_name(transport: Transport) -> &'static str {
    match transport {
        Transport::Polling => "polling",
        Transport::WebSocket => "websocket",
    }
}

impl NativeEvent {
    pub(crate) fn new(kind: u32) -> NativeEvent {
        NativeEvent {
            kind,
            sid: None,
            nsp: None,
            name: None,
            data: None,
            bins: None,
            id: None,
            reason: None,
            handshake: None,
            request: None,
            handshakes: None,
        }
    }
}

/// Event kind (an event's first field): the answers of a broadcast with acks (`id` the token,
/// `data` the JSON array of each socket's first ack argument, `bins` their attachments,
/// `reason` the error when not every socket answered).
#[napi]
pub const KIND_BROADCAST_ACK: u32 = 7;
/// Event kind (an event's first field): the answer to `fetchSockets` (`id` the token, `data` the
/// JSON array of the sockets, each `{"id","nsp","rooms":[..],"auth":{..},"data":..,"local"}`,
/// the last field the array of their handshakes (externals, as a connect request's), in the
/// same order; `reason` the error when a server did not answer). One event however many
/// sockets: a batch's values are the arguments of one call, which V8 bounds.
#[napi]
pub const KIND_FETCH_SOCKETS: u32 = 8;
/// Event kind (an event's first field): another server's `serverSideEmit` (`nsp`, `name`,
/// `data` and `bins` the arguments, `id` the ack to answer with `serverSideAck`, if asked).
#[napi]
pub const KIND_SERVER_SIDE_EMIT: u32 = 9;
/// Event kind (an event's first field): the answers to `serverSideEmitWithAck` (`id` the token,
/// `data` the JSON array of each server's first answer argument, `bins`, `reason` the error).
#[napi]
pub const KIND_SERVER_SIDE_ACK: u32 = 10;
/// Event kind (an event's first field): the answer to `serverCount` (`id` the token, `data` the
/// count as JSON text, or `reason` the error).
#[napi]
pub const KIND_SERVER_COUNT: u32 = 11;

/// Event kind (an event's first field): rtio's answer to a request handed over with
/// `handleRequest` (`id` the token it returned, `data` the JSON text
/// `{"status":200,"headers":[["name","value"],...]}`, `bins` one Buffer, the body), for JS to
/// write on the request's response.
#[napi]
pub const KIND_HTTP_RESPONSE: u32 = 12;

/// Event kind (an event's first field): rtio's answer to a WebSocket opened with
/// `openWebSocket` (`id` its id, `data` `{"status":101,"headers":[...]}` as JSON text, `bins`
/// the body): 101 accepts it (the host completes the handshake), another status refuses it.
#[napi]
pub const KIND_WS_ANSWER: u32 = 13;
/// Event kind (an event's first field): a message for the client of WebSocket `id`, in order:
/// `data` the text, or `bins` one Buffer for a binary message.
#[napi]
pub const KIND_WS_SEND: u32 = 14;
/// Event kind (an event's first field): rtio ended WebSocket `id`; the host closes it with the
/// close code in `data` (decimal text: 1000 normal, 1009 message too big, 1002 / 1007 protocol
/// violation, 1011 when rtio's end broke off).
#[napi]
pub const KIND_WS_CLOSE: u32 = 15;

/// Values per event in a batch handed to JS: `NativeEvent`'s fields in order (kind, sid,
/// nsp, name, data, bins, id, reason, handshake); absent ones are `undefined`.
#[napi]
pub const EVENT_FIELDS: u32 = 9;

/// Events handed to JS as one flat list of [`EVENT_FIELDS`] values per event, the arguments of
/// one call: far cheaper in V8 than an object per event built property by property (each
/// named property is a string to intern and a hidden-class transition).
pub struct EventBatch(pub Vec<NativeEvent>);

impl TypeName for EventBatch {
    fn type_name() -> &'static str {
        "Array<unknown>"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// The JS value of `value`, or `undefined` (the handle given) when there is none.
///
/// # Safety
/// `env` must be the env of the current JS call.
unsafe fn value_or<T: ToNapiValue>(
    env: sys::napi_env,
    value: Option<T>,
    undefined: sys::napi_value,
) -> napi::Result<sys::napi_value> {
    match value {
        Some(value) => T::to_napi_value(env, value),
        None => Ok(undefined),
    }
}

/// A batch reaches JS as the arguments of one call (`onEvents(...fields)`), not as an array
/// filled element by element: each `napi_set_element` is a generic property store in V8
/// (~100 ns, 20% of the JS thread's time per echoed event in perf), while V8 makes a rest
/// parameter's array from the arguments at once.
impl JsValuesTupleIntoVec for EventBatch {
    fn into_vec(self, env: sys::napi_env) -> napi::Result<Vec<sys::napi_value>> {
        let mut fields = Vec::with_capacity(self.0.len() * EVENT_FIELDS as usize);
        let mut undefined = ptr::null_mut();
        // SAFETY: called by napi-rs on the JS thread with the env of the call it makes.
        check_status!(unsafe { sys::napi_get_undefined(env, &mut undefined) })?;
        for ev in self.0 {
            // SAFETY: called by napi-rs on the JS thread with the env of the call it makes.
            unsafe {
                fields.push(u32::to_napi_value(env, ev.kind)?);
                fields.push(value_or(env, ev.sid.as_deref(), undefined)?);
                fields.push(value_or(env, ev.nsp.as_deref(), undefined)?);
                fields.push(value_or(env, ev.name, undefined)?);
                // the arguments of messages and acks go as values when all are plain (see
                // `plain_values`); auth objects and arguments with binaries go as JSON text
                let args = matches!(ev.kind, KIND_MESSAGE | KIND_ACK) && ev.bins.is_none();
                fields.push(match ev.data {
                    Some(json) if args => match plain_values(env, &json)? {
                        Some(values) => values,
                        None => String::to_napi_value(env, json)?,
                    },
                    data => value_or(env, data, undefined)?,
                });
                fields.push(value_or(env, ev.bins, undefined)?);
                fields.push(value_or(env, ev.id, undefined)?);
                fields.push(value_or(env, ev.reason, undefined)?);
                fields.push(match (ev.handshake, ev.request, ev.handshakes) {
                    (Some(handshake), _, _) => opening::to_js(env, handshake)?,
                    (None, Some(request), _) => {
                        NativeRequest::to_napi_value(env, NativeRequest::from_info(&request))?
                    }
                    (None, None, Some(handshakes)) => {
                        let mut array = ptr::null_mut();
                        check_status!(sys::napi_create_array_with_length(
                            env,
                            handshakes.len(),
                            &mut array
                        ))?;
                        for (i, handshake) in handshakes.into_iter().enumerate() {
                            let value = opening::to_js(env, handshake)?;
                            check_status!(sys::napi_set_element(env, array, i as u32, value))?;
                        }
                        array
                    }
                    (None, None, None) => undefined,
                });
            }
        }
        Ok(fields)
    }
}

/// The JS values of a JSON arguments array when every element is a string without escapes,
/// a number, a boolean or null (what most events carry); `None` otherwise, and JS parses the
/// text. Creating the values here costs less than a JS string of the text and `JSON.parse`
/// of it: the core checked the text already, and a string without escapes is its bytes.
///
/// # Safety
/// `env` must be a valid handle of the current JS call.
unsafe fn plain_values(env: sys::napi_env, json: &str) -> napi::Result<Option<sys::napi_value>> {
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(json) else {
        return Ok(None);
    };
    let plain = items.iter().all(|item| match item.get().as_bytes() {
        [b'"', inner @ .., b'"'] => !inner.contains(&b'\\'),
        [b't' | b'f' | b'n', ..] | [b'-' | b'0'..=b'9', ..] => true,
        _ => false,
    });
    if !plain {
        return Ok(None);
    }
    let mut array = ptr::null_mut();
    check_status!(sys::napi_create_array_with_length(
        env,
        items.len(),
        &mut array
    ))?;
    for (i, item) in items.iter().enumerate() {
        let text = item.get();
        let mut value = ptr::null_mut();
        match text.as_bytes()[0] {
            b'"' => {
                let inner = &text[1..text.len() - 1];
                check_status!(sys::napi_create_string_utf8(
                    env,
                    inner.as_ptr().cast(),
                    inner.len() as isize,
                    &mut value
                ))?
            }
            b't' | b'f' => check_status!(sys::napi_get_boolean(env, text == "true", &mut value))?,
            b'n' => check_status!(sys::napi_get_null(env, &mut value))?,
            // JSON numbers parse to the nearest double, as JSON.parse does
            _ => check_status!(sys::napi_create_double(
                env,
                text.parse::<f64>().unwrap_or(f64::NAN),
                &mut value
            ))?,
        }
        check_status!(sys::napi_set_element(env, array, i as u32, value))?;
    }
    Ok(Some(array))
}

fn payload_parts(payload: Payload) -> (String, Option<Vec<Buffer>>) {
    let (json, attachments) = payload.into_parts();
    let bins = if attachments.is_empty() {
        None
    } else {
        Some(
            attachments
                .into_iter()
                .map(|b| Buffer::from(b.to_vec()))
                .collect(),
        )
    };
    (json, bins)
}

/// Renumbers the binary placeholders of `value` by `offset` (the attachments of the answers
/// before it in a merged list).
fn shift_placeholders(value: &mut Value, offset: usize) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| shift_placeholders(v, offset)),
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                if let Some(n) = map.get("num").and_then(Value::as_u64) {
                    map.insert("num".into(), Value::from(n + offset as u64));
                    return;
                }
            }
            map.values_mut().for_each(|v| shift_placeholders(v, offset));
        }
        _ => {}
    }
}

/// The first argument of each answer (what socket.io hands its callbacks, as its Redis
/// adapter forwards only that), as one JSON array with the attachments of all of them.
pub(crate) fn firsts<'a>(
    answers: impl IntoIterator<Item = &'a Payload>,
) -> (String, Option<Vec<Buffer>>) {
    let mut values = Vec::new();
    let mut bins: Vec<Buffer> = Vec::new();
    for answer in answers {
        let mut first = answer.first();
        if !answer.attachments().is_empty() {
            shift_placeholders(&mut first, bins.len());
            bins.extend(
                answer
                    .attachments()
                    .iter()
                    .map(|b| Buffer::from(b.to_vec())),
            );
        }
        values.push(first);
    }
    let json = Value::Array(values).to_string();
    (json, if bins.is_empty() { None } else { Some(bins) })
}

fn error_text(error: Option<ClusterError>) -> Option<String> {
    error.map(|e| e.to_string())
}

/// What JS gets of one socket of a `fetchSockets` answer besides its handshake.
fn socket_fields(info: &SocketInfo) -> Value {
    let raw = |text: &str| -> Value { serde_json::from_str(text).unwrap_or(Value::Null) };
    serde_json::json!({
        "id": &*info.id,
        "nsp": &*info.nsp,
        "rooms": info.rooms,
        "auth": raw(&info.auth),
        "data": info.data.as_deref().map(raw).unwrap_or(Value::Null),
        "local": info.local,
    })
}

/// Converts a core event into what JS gets (on the JS thread, as its batch is taken).
pub(crate) fn convert(event: Event, out: &mut Vec<NativeEvent>) {
    let last = match event {
        Event::BroadcastAckResponse {
            token,
            answers,
            error,
        } => {
            let (json, bins) = firsts(answers.iter().map(|a| &a.payload));
            NativeEvent {
                id: Some(token as f64),
                data: Some(json),
                bins,
                reason: error_text(error),
                ..NativeEvent::new(KIND_BROADCAST_ACK)
            }
        }
        Event::FetchSocketsResponse {
            token,
            sockets,
            error,
        } => NativeEvent {
            id: Some(token as f64),
            data: Some(Value::Array(sockets.iter().map(socket_fields).collect()).to_string()),
            handshakes: Some(sockets.into_iter().map(|s| s.handshake).collect()),
            reason: error_text(error),
            ..NativeEvent::new(KIND_FETCH_SOCKETS)
        },
        Event::ServerSideEmit {
            nsp,
            event,
            payload,
            ack,
        } => {
            let (json, bins) = payload_parts(payload);
            NativeEvent {
                nsp: Some(nsp),
                name: Some(event),
                data: Some(json),
                bins,
                id: ack.map(|a| a as f64),
                ..NativeEvent::new(KIND_SERVER_SIDE_EMIT)
            }
        }
        Event::ServerSideAckResponse {
            token,
            answers,
            error,
        } => {
            let (json, bins) = firsts(&answers);
            NativeEvent {
                id: Some(token as f64),
                data: Some(json),
                bins,
                reason: error_text(error),
                ..NativeEvent::new(KIND_SERVER_SIDE_ACK)
            }
        }
        Event::ServerCountResponse { token, result } => {
            let mut ev = NativeEvent {
                id: Some(token as f64),
                ..NativeEvent::new(KIND_SERVER_COUNT)
            };
            match result {
                Ok(n) => ev.data = Some(n.to_string()),
                Err(e) => ev.reason = Some(e.to_string()),
            }
            ev
        }
        Event::HttpResponse { token, response } => NativeEvent {
            id: Some(token as f64),
            data: Some(
                serde_json::json!({ "status": response.status, "headers": response.headers })
                    .to_string(),
            ),
            bins: Some(vec![Buffer::from(response.body.to_vec())]),
            ..NativeEvent::new(KIND_HTTP_RESPONSE)
        },
        Event::Request { request, info } => NativeEvent {
            id: Some(request as f64),
            request: Some(info),
            ..NativeEvent::new(KIND_REQUEST)
        },
        Event::ConnectRequest {
            request,
            sid,
            nsp,
            auth,
            handshake: h,
        } => NativeEvent {
            sid: Some(sid),
            nsp: Some(nsp),
            data: Some(auth),
            id: Some(request as f64),
            handshake: Some(h),
            ..NativeEvent::new(KIND_CONNECT_REQUEST)
        },
        Event::Connect {
            sid,
            nsp,
            auth,
            handshake: h,
            recovered,
        } => {
            // JS names a connected socket's opening by its id (see `opening`)
            opening::connected(sid.clone(), h);
            NativeEvent {
                sid: Some(sid),
                nsp: Some(nsp),
                data: Some(auth),
                reason: recovered.then(|| "recovered".to_string()),
                ..NativeEvent::new(KIND_CONNECT)
            }
        }
        Event::Message {
            sid,
            // JS finds the socket by its id, and the socket knows its namespace
            nsp: _,
            event,
            payload,
            ack,
        } => {
            let (json, bins) = payload_parts(payload);
            NativeEvent {
                sid: Some(sid),
                name: Some(event),
                data: Some(json),
                bins,
                id: ack.map(|a| a as f64),
                ..NativeEvent::new(KIND_MESSAGE)
            }
        }
        Event::Disconnect {
            sid,
            nsp,
            reason,
            rooms,
        } => NativeEvent {
            handshake: opening::disconnected(&sid),
            // For `disconnecting`; most sockets are in their own room only, and carry nothing.
            data: (rooms.len() > 1).then(|| serde_json::to_string(&rooms).unwrap_or_default()),
            sid: Some(sid),
            nsp: Some(nsp),
            reason: Some(reason.as_str().to_string()),
            ..NativeEvent::new(KIND_DISCONNECT)
        },
        Event::AckResponse { token, sid, result } => {
            let mut ev = NativeEvent {
                sid: Some(sid),
                id: Some(token as f64),
                ..NativeEvent::new(KIND_ACK)
            };
            match result {
                Ok(payload) => {
                    let (json, bins) = payload_parts(payload);
                    ev.data = Some(json);
                    ev.bins = bins;
                }
                Err(e) => ev.reason = Some(e.to_string()),
            }
            ev
        }
        Event::WebSocketAnswer { id, response } => NativeEvent {
            id: Some(id as f64),
            data: Some(
                serde_json::json!({ "status": response.status, "headers": response.headers })
                    .to_string(),
            ),
            bins: Some(vec![Buffer::from(response.body.to_vec())]),
            ..NativeEvent::new(KIND_WS_ANSWER)
        },
        Event::WebSocketSend { id, message } => {
            let mut ev = NativeEvent {
                id: Some(id as f64),
                ..NativeEvent::new(KIND_WS_SEND)
            };
            match message {
                rtio::WsMessage::Text(text) => ev.data = Some(text),
                rtio::WsMessage::Binary(bytes) => {
                    ev.bins = Some(vec![Buffer::from(bytes.to_vec())])
                }
            }
            ev
        }
        Event::WebSocketClose { id, code } => NativeEvent {
            id: Some(id as f64),
            data: Some(code.to_string()),
            ..NativeEvent::new(KIND_WS_CLOSE)
        },
    };
    out.push(last);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn converts_http_responses() {
        let mut out = Vec::new();
        convert(
            Event::HttpResponse {
                token: 4,
                response: rtio::HttpResponse {
                    status: 200,
                    headers: vec![("content-type".into(), "text/plain".into())],
                    body: Bytes::from_static(b"0{}"),
                },
            },
            &mut out,
        );
        let ev = &out[0];
        assert_eq!((ev.kind, ev.id), (KIND_HTTP_RESPONSE, Some(4.0)));
        assert_eq!(
            ev.data.as_deref(),
            Some(r#"{"headers":[["content-type","text/plain"]],"status":200}"#)
        );
        assert_eq!(&ev.bins.as_ref().unwrap()[0][..], b"0{}");
    }

    #[test]
    fn converts_bridged_websocket_events() {
        let mut out = Vec::new();
        convert(
            Event::WebSocketSend {
                id: 2,
                message: rtio::WsMessage::Text("40".into()),
            },
            &mut out,
        );
        convert(
            Event::WebSocketSend {
                id: 2,
                message: rtio::WsMessage::Binary(Bytes::from_static(&[1, 2])),
            },
            &mut out,
        );
        convert(Event::WebSocketClose { id: 2, code: 1009 }, &mut out);
        assert_eq!((out[0].kind, out[0].id), (KIND_WS_SEND, Some(2.0)));
        assert_eq!(out[0].data.as_deref(), Some("40"));
        assert!(out[1].data.is_none());
        assert_eq!(&out[1].bins.as_ref().unwrap()[0][..], &[1, 2]);
        assert_eq!((out[2].kind, out[2].id), (KIND_WS_CLOSE, Some(2.0)));
        assert_eq!(out[2].data.as_deref(), Some("1009"));
    }

    #[test]
    fn converts_events() {
        let one = |e: Event| {
            let mut out = Vec::new();
            convert(e, &mut out);
            assert_eq!(out.len(), 1);
            out.pop()
        };
        let ev = one(Event::Disconnect {
            sid: "abc".into(),
            nsp: "/".into(),
            reason: rtio::DisconnectReason::PingTimeout,
            rooms: vec!["abc".into(), "r".into()],
        })
        .unwrap();
        assert_eq!(ev.kind, KIND_DISCONNECT);
        assert_eq!(ev.reason.as_deref(), Some("ping timeout"));
        assert_eq!(ev.data.as_deref(), Some(r#"["abc","r"]"#));
        let ev = one(Event::AckResponse {
            token: 7,
            sid: "abc".into(),
            result: Err(rtio::AckError::Timeout),
        })
        .unwrap();
        assert_eq!((ev.kind, ev.id), (KIND_ACK, Some(7.0)));
        assert_eq!(ev.reason.as_deref(), Some("operation has timed out"));
        assert!(ev.data.is_none());
    }

    #[test]
    fn a_fetch_answer_is_one_event_however_many_sockets() {
        let handshake = Arc::new(Handshake {
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            headers: Default::default(),
            query: "EIO=4".into(),
            issued_ms: 0,
            secure: false,
        });
        let info = |id: &str, local: bool, data: Option<&str>| SocketInfo {
            id: id.into(),
            nsp: "/".into(),
            rooms: vec![id.into(), "r".into()],
            handshake: handshake.clone(),
            auth: r#"{"a":1}"#.into(),
            data: data.map(Into::into),
            local,
        };
        let mut out = Vec::new();
        convert(
            Event::FetchSocketsResponse {
                token: 3,
                sockets: (0..1000)
                    .map(|i| info(&format!("s{i}"), i == 0, Some(r#"{"n":1}"#)))
                    .collect(),
                error: Some(ClusterError::Timeout),
            },
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let ev = &out[0];
        assert_eq!((ev.kind, ev.id), (KIND_FETCH_SOCKETS, Some(3.0)));
        assert_eq!(ev.reason.as_deref(), Some("operation has timed out"));
        assert_eq!(ev.handshakes.as_ref().map(Vec::len), Some(1000));
        let sockets: Vec<Value> = serde_json::from_str(ev.data.as_deref().unwrap()).unwrap();
        assert_eq!(
            sockets[0],
            serde_json::json!({"id": "s0", "nsp": "/", "rooms": ["s0", "r"], "auth": {"a": 1},
                "data": {"n": 1}, "local": true})
        );
        assert_eq!(sockets[999]["local"], false);
    }

    #[test]
    fn merges_the_attachments_of_answers() {
        let a = Payload::from_json(r#"[{"_placeholder":true,"num":0},"x"]"#)
            .unwrap()
            .with_attachments(vec![Bytes::from_static(b"a")]);
        let b = Payload::from_json(r#"[[1,{"_placeholder":true,"num":0}]]"#)
            .unwrap()
            .with_attachments(vec![Bytes::from_static(b"b")]);
        let (json, bins) = firsts([&a, &Payload::from_json("[]").unwrap(), &b]);
        assert_eq!(
            json,
            r#"[{"_placeholder":true,"num":0},null,[1,{"_placeholder":true,"num":1}]]"#
        );
        let bins = bins.unwrap();
        assert_eq!((&bins[0][..], &bins[1][..]), (&b"a"[..], &b"b"[..]));
    }

    #[test]
    fn converts_requests() {
        let info = Arc::new(RequestInfo {
            method: "GET".into(),
            url: "/socket.io/?EIO=4&transport=websocket".into(),
            headers: Default::default(),
            remote_addr: "127.0.0.1:4321".parse().unwrap(),
            transport: Transport::WebSocket,
        });
        let mut out = Vec::new();
        convert(
            Event::Request {
                request: 9,
                info: info.clone(),
            },
            &mut out,
        );
        let ev = out.pop().unwrap();
        assert_eq!((ev.kind, ev.id), (KIND_REQUEST, Some(9.0)));
        let request = NativeRequest::from_info(ev.request.as_deref().unwrap());
        assert_eq!(request.transport, "websocket");
        assert_eq!(
            (request.remote_address.as_str(), request.remote_port),
            ("127.0.0.1", 4321)
        );
        assert_eq!(request.url, info.url);
        assert!(request.headers.is_empty());
    }
}
