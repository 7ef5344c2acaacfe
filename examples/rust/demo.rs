//! `make demo`: the seed apps (online visitor counter and chat) served by a Rust host at
//! http://127.0.0.1:3000 (set PORT to change it), with the page in `examples/web`.

use rtio::{Config, Event, Io, Payload, Server};
use serde_json::Value;

fn main() -> Result<(), rtio::Error> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let config = Config::default()
        .host("127.0.0.1")
        .port(port)
        .static_dir(format!("{root}/web"))
        .client_bundle(format!(
            "{root}/../tests/interop/node_modules/socket.io-client/dist/socket.io.js"
        ));
    let server = Server::start(config)?;
    let io = server.io();
    println!("rtio demo on http://{}/", server.local_addr());
    while let Ok(event) = server.events().recv() {
        // A socket may leave between its event and our answer: report it and carry on.
        if let Err(e) = on_event(&io, event) {
            eprintln!("demo: {e}");
        }
    }
    Ok(())
}

fn on_event(io: &Io, event: Event) -> Result<(), rtio::Error> {
    match event {
        Event::Connect { sid, .. } => {
            // The newcomer gets the count, then everyone else.
            let visits = Payload::one(io.stats("/")?.sockets);
            io.emit(&sid, "visits", &visits)?;
            io.broadcast("/").skip(&*sid).emit("visits", &visits)?;
        }
        Event::Disconnect { .. } => {
            let visits = Payload::one(io.stats("/")?.sockets);
            io.broadcast("/").emit("visits", &visits)?;
        }
        Event::Message {
            sid,
            event,
            payload,
            ..
        } if event == "toServer" => {
            let data = payload.first();
            let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let line = Payload::one(format!("{}:{}", field("nome"), field("msg")));
            io.emit(&sid, "toClient", &line)?;
            io.broadcast("/").skip(&*sid).emit("toClient", &line)?;
        }
        _ => {}
    }
    Ok(())
}
