//! Calls to the app's backend (the auth URL, the webhook): JSON POSTs over HTTP/1.1 with
//! keep-alive, each bounded by a timeout. Runs on rtio serve's own runtime, never on rtio's.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// Largest answer read from the backend.
const MAX_ANSWER: usize = 4 << 20;

/// What a call to the backend gave.
#[derive(Debug)]
pub enum Answer {
    /// An HTTP answer: its status and body, parsed as JSON (`Null` when empty or not JSON).
    Http {
        status: u16,
        body: serde_json::Value,
    },
    /// No answer within the timeout.
    TimedOut,
    /// The call failed (connection refused, bad URL, …): why.
    Failed(String),
}

/// A pooled HTTP client for the backend.
#[derive(Clone)]
pub struct Backend {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Backend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend {
    pub fn new() -> Backend {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Backend {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
        }
    }

    /// POSTs `body` as JSON to `url`, waiting at most `timeout` for the whole answer.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Answer {
        match tokio::time::timeout(timeout, self.post(url, body)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(why)) => Answer::Failed(why),
            Err(_) => Answer::TimedOut,
        }
    }

    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<Answer, String> {
        let request = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("rtio/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("bad URL {url:?}: {e}"))?;
        let response = self.client.request(request).await.map_err(|e| {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why = format!("{why}: {s}");
                source = s.source();
            }
            why
        })?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(Answer::Http { status, body })
    }
}
