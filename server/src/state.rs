//! What every part of `rtio serve` shares: the core's handle, the settings, the metrics,
//! the backend client, and the answers of the core that API calls wait for.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rtio::{Event, Io};
use tokio::sync::{oneshot, Semaphore};

use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::namespaces::Namespaces;
use crate::settings::Settings;

/// Shared by the event pump, the API and the webhooks.
pub struct State {
    pub io: Io,
    pub settings: Settings,
    pub namespaces: Namespaces,
    pub metrics: Metrics,
    pub backend: Backend,
    /// rtio serve's own runtime (backend calls, API work): never rtio's.
    pub rt: tokio::runtime::Handle,
    /// Webhook calls in flight.
    pub webhook_slots: Arc<Semaphore>,
    /// Webhook calls waiting for a slot.
    pub webhook_waiting: AtomicUsize,
    pub started: Instant,
    /// Sessions of the admin dashboards that logged in.
    pub admin_sessions: crate::admin::Sessions,
    /// Core answers (fetch_sockets, server_count) by token, for the calls awaiting them.
    waiting: Mutex<HashMap<u64, oneshot::Sender<Event>>>,
}

impl State {
    pub fn new(io: Io, settings: Settings, rt: tokio::runtime::Handle) -> State {
        State {
            io,
            namespaces: Namespaces::new(&settings.namespaces),
            webhook_slots: Arc::new(Semaphore::new(settings.webhook_concurrency)),
            settings,
            metrics: Metrics::default(),
            backend: Backend::new(),
            rt,
            webhook_waiting: AtomicUsize::new(0),
            started: Instant::now(),
            waiting: Mutex::new(HashMap::new()),
            admin_sessions: Default::default(),
        }
    }

    /// Starts a core operation that answers with an event carrying a token, and waits for
    /// that event (`None` after `timeout`). The token is registered before the pump can see
    /// the answer: the lock is held across the call.
    pub async fn ask(
        &self,
        start: impl FnOnce() -> Result<u64, rtio::Error>,
        timeout: Duration,
    ) -> Result<Option<Event>, rtio::Error> {
        let (tx, rx) = oneshot::channel();
        let token = {
            let mut waiting = self.waiting.lock();
            let token = start()?;
            waiting.insert(token, tx);
            token
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(event)) => Ok(Some(event)),
            _ => {
                self.waiting.lock().remove(&token);
                Ok(None)
            }
        }
    }

    /// Gives an answer to the call waiting for `token` (false when none waits).
    pub fn answered(&self, token: u64, event: Event) -> bool {
        match self.waiting.lock().remove(&token) {
            Some(tx) => tx.send(event).is_ok(),
            None => false,
        }
    }

    /// Makes sure a namespace the settings allow exists on this server (a pattern's are
    /// made on first use), so that emits to it reach the cluster.
    pub fn ensure_namespace(&self, nsp: &str) {
        if self.namespaces.dynamic() && self.io.stats(nsp).is_err() {
            let _ = self.io.add_namespace(nsp, self.needs_auth());
        }
    }

    /// The data attached to a socket (its auth's or the API's), as JSON; `None` when it has
    /// none or is not connected.
    pub fn socket_data(&self, sid: &str) -> Option<serde_json::Value> {
        let text = self.io.socket_data(sid).ok().flatten()?;
        serde_json::from_str(&text).ok()
    }

    /// True when connects are decided (auth URL or JWT).
    pub fn needs_auth(&self) -> bool {
        self.settings.auth_url.is_some() || self.settings.jwt.is_some()
    }
}
