//! `rtio`: the standalone real-time server. `rtio serve` serves Socket.IO clients and talks
//! to the app's backend over plain HTTP: a publish API, connect decisions (auth URL, JWT),
//! client events as webhooks, health and Prometheus metrics; Redis for several nodes.
//! See docs/serve.md.

mod admin;
mod api;
mod auth;
mod backend;
mod commands;
mod logging;
mod metrics;
mod namespaces;
mod pump;
mod query;
mod settings;
mod state;
mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use clap::{Parser, Subcommand};
use rtio::{Config, CorsOrigins, HttpRequest, RouteFuture, Routes, Server};

use crate::settings::{LogFormat, Overrides, Settings};
use crate::state::State;

/// rtio: a Socket.IO server for any backend.
#[derive(Parser)]
#[command(name = "rtio", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Socket.IO clients (and the HTTP API, webhooks, metrics).
    Serve(Box<ServeArgs>),
    /// Check a configuration file and print the settings it gives.
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print a bcrypt hash of a password (read from stdin), for `[admin] password`.
    HashPassword,
}

/// Every flag can also be set by its RTIO_* environment variable and in the file;
/// flags win over the environment, which wins over the file.
#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, short, env = "RTIO_CONFIG")]
    config: Option<PathBuf>,
    /// Address to bind [default: 0.0.0.0].
    #[arg(long, env = "RTIO_HOST")]
    host: Option<String>,
    /// Port to listen on [default: 3000; 0 = any free port].
    #[arg(long, env = "RTIO_PORT")]
    port: Option<u16>,
    /// Serve the files of this directory.
    #[arg(long = "static", env = "RTIO_STATIC")]
    static_dir: Option<PathBuf>,
    /// Enables the HTTP API: clients of /api/* send `Authorization: Bearer KEY`.
    #[arg(long, env = "RTIO_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Serve the API and /metrics on this address only (e.g. 127.0.0.1:3001).
    #[arg(long, env = "RTIO_API_LISTEN")]
    api_listen: Option<SocketAddr>,
    /// Join a cluster through Redis (redis://host:port/db).
    #[arg(long, env = "RTIO_REDIS")]
    redis: Option<String>,
    /// The cluster's channel prefix [default: socket.io].
    #[arg(long, env = "RTIO_REDIS_KEY")]
    redis_key: Option<String>,
    /// Ask this URL whether each namespace connect is accepted.
    #[arg(long, env = "RTIO_AUTH_URL")]
    auth_url: Option<String>,
    /// POST client events to this URL.
    #[arg(long, env = "RTIO_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Accept connects with a JWT signed with this HS256 secret in auth.token.
    #[arg(long, env = "RTIO_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Origins allowed cross-origin access ("*": any). Repeat for several.
    #[arg(long, env = "RTIO_CORS", value_delimiter = ',')]
    cors: Vec<String>,
    /// Namespaces clients may join: names, "*", or patterns like /team-*. Repeat for several.
    #[arg(long = "namespace", env = "RTIO_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Log format.
    #[arg(long, env = "RTIO_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Serve HTTPS and WSS with this PEM certificate chain (with --tls-key; SIGHUP re-reads both).
    #[arg(long, env = "RTIO_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "RTIO_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl ServeArgs {
    fn settings(self) -> Result<Settings, String> {
        let file = match &self.config {
            Some(path) => settings::read_file(path)?,
            None => Default::default(),
        };
        Settings::resolve(
            file,
            Overrides {
                host: self.host,
                port: self.port,
                static_dir: self.static_dir,
                cors: self.cors,
                namespaces: self.namespaces,
                api_key: self.api_key,
                api_listen: self.api_listen,
                redis: self.redis,
                redis_key: self.redis_key,
                auth_url: self.auth_url,
                webhook_url: self.webhook_url,
                jwt_secret: self.jwt_secret,
                log_format: self.log_format,
                tls_cert: self.tls_cert,
                tls_key: self.tls_key,
            },
        )
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig { file } => settings::read_file(&file)
            .and_then(|f| Settings::resolve(f, Overrides::default()))
            .map(|s| println!("{}: OK\n{s:#?}", file.display())),
        Command::Serve(args) => args.settings().and_then(serve),
        Command::HashPassword => hash_password(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rtio: {message}");
            ExitCode::from(2)
        }
    }
}

fn hash_password() -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err("no password on stdin".into());
    }
    let hash = bcrypt::hash(password, bcrypt::DEFAULT_COST).map_err(|e| e.to_string())?;
    println!("{hash}");
    Ok(())
}

/// The public port's routes beside Socket.IO; answered on rtio serve's runtime.
struct PublicRoutes(Arc<OnceLock<Arc<State>>>);

impl Routes for PublicRoutes {
    fn handle(&self, request: HttpRequest) -> RouteFuture {
        let state = self.0.get().cloned();
        Box::pin(async move {
            let state = state?;
            let rt = state.rt.clone();
            rt.spawn(api::handle(state, api::Listener::Public, request))
                .await
                .ok()
                .flatten()
        })
    }
}

fn core_config(settings: &Settings, routes: Arc<dyn Routes>) -> Result<Config, String> {
    let mut config = Config::default()
        .host(settings.host.clone())
        .port(settings.port)
        .path(settings.path.clone())
        .ping_interval(settings.ping_interval)
        .ping_timeout(settings.ping_timeout)
        .max_payload(settings.max_payload)
        .parser(settings.parser)
        .per_message_deflate(settings.per_message_deflate)
        .allow_eio3(settings.allow_eio3)
        .routes(routes);
    if !settings.http_compression {
        config = config.http_compression(None);
    }
    if let Some((cert, key)) = &settings.tls {
        config = config.tls(cert.clone(), key.clone());
    }
    if let Some(dir) = &settings.static_dir {
        if !dir.is_dir() {
            return Err(format!("static: {} is not a directory", dir.display()));
        }
        config = config.static_dir(dir.clone());
    }
    if settings.cors.iter().any(|o| o == "*") {
        config = config.cors(CorsOrigins::Any);
    } else if !settings.cors.is_empty() {
        config = config
            .cors(CorsOrigins::List(settings.cors.clone()))
            .cors_credentials(true);
    }
    let decided = settings.auth_url.is_some() || settings.jwt.is_some();
    let names = namespaces::Namespaces::new(&settings.namespaces);
    config.namespaces = names
        .fixed()
        .iter()
        .map(|name| rtio::NamespaceConfig {
            name: name.clone(),
            middleware: decided,
        })
        .collect();
    if let Some(admin) = &settings.admin {
        config.namespaces.push(rtio::NamespaceConfig {
            name: admin.namespace.clone(),
            middleware: true,
        });
    }
    config.dynamic_namespaces = names.dynamic();
    if let Some(url) = &settings.redis_url {
        let mut options = rtio_redis::adapter::RedisAdapterOptions::new(url.clone());
        if let Some(key) = &settings.redis_key {
            options.key = key.clone();
        }
        if settings.redis_sharded {
            options.variant = rtio_redis::adapter::Variant::Sharded;
        }
        let factory =
            rtio_redis::adapter::redis_adapter(options).map_err(|e| format!("redis: {e}"))?;
        config = config.adapter(factory);
    }
    Ok(config)
}

fn serve(settings: Settings) -> Result<(), String> {
    logging::init(settings.log_format, settings.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("rtio-serve")
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let shared = Arc::new(OnceLock::new());
    let config = core_config(&settings, Arc::new(PublicRoutes(shared.clone())))?;
    let server = Arc::new(Server::start(config).map_err(|e| e.to_string())?);
    let state = Arc::new(State::new(
        server.io(),
        settings.clone(),
        rt.handle().clone(),
    ));
    let _ = shared.set(state.clone());
    rt.spawn(pump::run(server.clone(), state.clone()));
    if let Some(admin) = &settings.admin {
        rt.spawn(admin::stats(state.clone(), admin.clone()));
    }
    if settings.tls.is_some() {
        rt.spawn(reload_tls_on_sighup(server.io()));
    }
    let addr = server.local_addr();
    if let Some(api_addr) = settings.api_listen {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(api_addr))
            .map_err(|e| format!("api listen {api_addr}: {e}"))?;
        log::info!(
            "API on http://{}/api/",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        rt.spawn(internal::serve(listener, state.clone()));
    }
    log::info!(
        "serving Socket.IO on http://{addr}{} (namespaces: {})",
        settings.path,
        settings.namespaces.join(", ")
    );
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "rtio serve: listening on {scheme}://{addr}{}",
        settings.path
    );
    rt.block_on(shutdown_signal());
    log::info!("stopping: disconnecting clients, finishing webhooks");
    let grace = settings.shutdown_grace;
    rt.block_on(async {
        let stopping = tokio::task::spawn_blocking({
            let server = server.clone();
            move || server.stop()
        });
        let _ = tokio::time::timeout(grace, stopping).await;
        let all = settings.webhook_concurrency as u32;
        let _ = tokio::time::timeout(grace, state.webhook_slots.acquire_many(all)).await;
    });
    log::info!("stopped");
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

/// SIGHUP re-reads the TLS files (a renewed certificate): new connections get it.
async fn reload_tls_on_sighup(io: rtio::Io) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match io.reload_tls() {
            Ok(()) => log::info!("SIGHUP: TLS certificate reloaded"),
            Err(e) => log::error!("SIGHUP: {e}; the certificate in use stays"),
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The API's own listener (`--api-listen`): plain HTTP/1.1 on rtio serve's runtime.
mod internal {
    use std::convert::Infallible;
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use rtio::HttpRequest;

    use crate::api::{self, Listener};
    use crate::state::State;

    pub async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
        loop {
            let Ok((stream, remote)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(answer(state, req, remote).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn answer(
        state: Arc<State>,
        req: Request<Incoming>,
        remote: std::net::SocketAddr,
    ) -> Response<Full<Bytes>> {
        let head_only = req.method() == hyper::Method::HEAD;
        let limit = state.settings.max_payload;
        let request = match HttpRequest::from_hyper(req, remote, limit).await {
            Ok(request) => request,
            Err(too_large) => return too_large,
        };
        match api::handle(state, Listener::Internal, request).await {
            Some(answer) => answer.into_hyper(head_only),
            None => Response::builder()
                .status(404)
                .body(Full::new(Bytes::new()))
                .unwrap_or_default(),
        }
    }
}
