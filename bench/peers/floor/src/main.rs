//! The floor of rtio-bench: a minimal WebSocket broadcaster on tokio + tokio-tungstenite, with
//! no Socket.IO (nor Engine.IO) layer. What a competent engineer writes in an afternoon: one
//! task per connection, an unbounded mpsc channel per client, a map of the clients' senders
//! behind a mutex, one WebSocket message per delivery; the messages waiting for a client
//! go out in one write (feed them all, flush once), and a connection's read buffer is sized
//! for small messages (tungstenite's default is 128 KiB per connection). Nothing else tuned.
//!
//!   floor-server [--port N] [--write-each]
//!
//! `--write-each`: each message is sent on its own (`send`: one write per message, as the
//! tokio-tungstenite examples do) instead of what waits for a client in one write: the
//! floor as issue 20 defines it, one write per message, which rtio's batching is to go
//! below (host `floor-unbatched` of rtio-bench).
//!
//! Protocol (text messages, any path, no subprotocol; shapes in bench/peers/README.md):
//! - once the client is registered (it gets every fan-out from then on), the server sends it
//!   `{"connected":ID}` (ID: the connection's number), its first message;
//! - `{"fanout": DATA}` → the JSON text of DATA, byte for byte as received, is sent as one text
//!   message to every connected client, the sender included;
//! - `{"echo": DATA}` → the JSON text of DATA is sent back to the sender alone.
//!
//! Anything else is ignored (reported on stderr). Prints `READY <port>` on stdout once
//! listening; logs go to stderr. SIGTERM or SIGINT: every client gets a close frame, exit 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// What a client may send. serde's externally tagged enum: `{"fanout": …}` or `{"echo": …}`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Request<'a> {
    #[serde(borrow)]
    Fanout(&'a RawValue),
    #[serde(borrow)]
    Echo(&'a RawValue),
}

/// Every connected client's outgoing queue, by connection number.
#[derive(Clone, Default)]
struct Clients {
    senders: Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>>,
    next_id: Arc<AtomicU64>,
}

impl Clients {
    /// Registers a client: from now on it gets every fan-out. Its first message is
    /// `{"connected":ID}`, queued before it can get any broadcast.
    fn add(&self, sender: mpsc::UnboundedSender<Message>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let _ = sender.send(Message::text(format!("{{\"connected\":{id}}}")));
        self.senders.lock().unwrap().insert(id, sender);
        id
    }

    fn remove(&self, id: u64) {
        self.senders.lock().unwrap().remove(&id);
    }

    /// Queues `message` to every client (cloning a `Message::Text` shares its bytes).
    fn broadcast(&self, message: Message) {
        for sender in self.senders.lock().unwrap().values() {
            // a client that is gone is removed by its own task
            let _ = sender.send(message.clone());
        }
    }
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, clients: Clients, write_each: bool) {
    stream.set_nodelay(true).ok();
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let mut ws = match tokio_tungstenite::accept_async_with_config(stream, Some(config)).await {
        Ok(ws) => ws,
        Err(err) => {
            eprintln!("{peer}: handshake failed: {err}");
            return;
        }
    };
    let (sender, mut queue) = mpsc::unbounded_channel();
    let id = clients.add(sender.clone());

    loop {
        tokio::select! {
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue, // pings are answered by tungstenite; binary ignored
                    Some(Err(err)) => {
                        eprintln!("{peer}: {err}");
                        break;
                    }
                };
                match serde_json::from_str::<Request>(text.as_str()) {
                    Ok(Request::Fanout(data)) => clients.broadcast(Message::text(data.get())),
                    Ok(Request::Echo(data)) => {
                        let _ = sender.send(Message::text(data.get()));
                    }
                    Err(err) => eprintln!("{peer}: ignored a message: {err}"),
                }
            }
            Some(outgoing) = queue.recv() => {
                if write_each {
                    let closing = matches!(outgoing, Message::Close(_));
                    if let Err(err) = ws.send(outgoing).await {
                        eprintln!("{peer}: {err}");
                        break;
                    }
                    if closing {
                        break;
                    }
                    continue;
                }
                // Everything waiting for this client goes out in one write.
                let mut closing = matches!(outgoing, Message::Close(_));
                let mut sent = ws.feed(outgoing).await;
                while let (Ok(()), false, Ok(more)) = (&sent, closing, queue.try_recv()) {
                    closing = matches!(more, Message::Close(_));
                    sent = ws.feed(more).await;
                }
                if let Err(err) = sent.and(ws.flush().await) {
                    eprintln!("{peer}: {err}");
                    break;
                }
                if closing {
                    break;
                }
            }
        }
    }
    clients.remove(id);
}

/// `--port N` (default 0: any free port) and `--write-each`.
fn parse_args() -> Result<(u16, bool), String> {
    let mut port = 0;
    let mut write_each = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--write-each" => write_each = true,
            "--port" => {
                let text = args.next().ok_or("--port: a value is missing")?;
                port = text
                    .parse()
                    .map_err(|_| format!("--port: expected a port number, got {text:?}"))?;
            }
            other => return Err(format!("{other}: not supported by the floor server")),
        }
    }
    Ok((port, write_each))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (port, write_each) = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("floor-server: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("floor-server: bind: {err}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|addr| addr.port()).unwrap_or(0);
    println!("READY {port}");
    eprintln!("floor server listening on ws://127.0.0.1:{port}/");

    let clients = Clients::default();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_connection(stream, peer, clients.clone(), write_each));
                }
                Err(err) => eprintln!("floor-server: accept: {err}"),
            },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    eprintln!("floor-server: closing every connection and exiting");
    clients.broadcast(Message::Close(None));
    tokio::time::sleep(Duration::from_millis(200)).await;
    ExitCode::SUCCESS
}
