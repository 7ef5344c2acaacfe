//! The settings of `rtio serve`: defaults, then the TOML file, then `RTIO_*` environment
//! variables, then flags (each later source wins). The environment and the flags are both
//! clap's (every flag has its `RTIO_*` variable); the file is read here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The configuration file (`--config rtio.toml`). Unknown keys are errors, naming the key
/// and its line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to bind (default `0.0.0.0`).
    pub host: Option<String>,
    /// Port (default 3000; 0 picks a free one).
    pub port: Option<u16>,
    /// The Engine.IO path (default `/socket.io/`).
    pub path: Option<String>,
    /// A directory served as static files.
    #[serde(rename = "static")]
    pub static_dir: Option<PathBuf>,
    /// Origins allowed cross-origin access (`["*"]`: any).
    pub cors: Option<Vec<String>>,
    /// Namespaces clients may join: names, `*` (any), or patterns with `*` (`/team-*`).
    pub namespaces: Option<Vec<String>>,
    /// Seconds between pings (default 25).
    pub ping_interval: Option<f64>,
    /// Seconds to wait for a pong (default 20).
    pub ping_timeout: Option<f64>,
    /// Largest message a client may send, in bytes (default 1 000 000).
    pub max_payload: Option<usize>,
    /// Seconds a SIGTERM waits for clients and webhooks to finish (default 10).
    pub shutdown_grace: Option<f64>,
    /// `text` (default) or `json`.
    pub log_format: Option<LogFormat>,
    /// `error`, `warn`, `info` (default), `debug`.
    pub log_level: Option<String>,
    /// HTTPS and WSS on the public port.
    #[serde(default)]
    pub tls: TlsConfig,
    /// The HTTP publish API.
    #[serde(default)]
    pub api: ApiConfig,
    /// The Redis cluster.
    #[serde(default)]
    pub redis: RedisConfig,
    /// The backend's connect decision.
    #[serde(default)]
    pub auth: AuthConfig,
    /// JWT in the handshake's `auth.token`.
    #[serde(default)]
    pub jwt: JwtConfig,
    /// Client events posted to the backend.
    #[serde(default)]
    pub webhook: WebhookConfig,
    /// The `@socket.io/admin-ui` dashboard.
    #[serde(default)]
    pub admin: AdminConfig,
    /// `[protocol]`
    #[serde(default)]
    pub protocol: ProtocolConfig,
}

/// `[admin]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve the dashboard's namespace.
    pub enabled: Option<bool>,
    /// The namespace (default `/admin`).
    pub namespace: Option<String>,
    /// Basic auth: the user name...
    pub username: Option<String>,
    /// ...and a bcrypt hash of the password (as `instrument()` takes it).
    pub password: Option<String>,
    /// `false` to serve it without authentication (as `instrument({auth: false})`).
    pub auth: Option<bool>,
    /// No emit, join, leave or disconnect from the dashboard.
    pub readonly: Option<bool>,
}

/// `[tls]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The PEM certificate chain (leaf first); SIGHUP re-reads it.
    pub cert: Option<PathBuf>,
    /// The PEM private key.
    pub key: Option<PathBuf>,
}

/// `[api]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The bearer key; the API is off without one.
    pub key: Option<String>,
    /// Serve the API (and /metrics) on this address only, not on the public port.
    pub listen: Option<SocketAddr>,
}

/// `[redis]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: Option<String>,
    /// The channel prefix (socket.io's `key`, default `socket.io`).
    pub key: Option<String>,
    /// Sharded Pub/Sub (Redis 7), as `@socket.io/redis-adapter`'s `createShardedAdapter`.
    pub sharded: Option<bool>,
}

/// `[auth]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The URL rtio POSTs each namespace connect to.
    pub url: Option<String>,
    /// Seconds to wait for its answer (default 5).
    pub timeout: Option<f64>,
}

/// `[jwt]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// HS256 secret.
    pub secret: Option<String>,
    /// RS256 or ES256 public key (PEM file).
    pub public_key: Option<PathBuf>,
    /// `HS256` (with `secret`), `RS256` or `ES256` (with `public_key`).
    pub algorithm: Option<String>,
}

/// `[webhook]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL client events are POSTed to.
    pub url: Option<String>,
    /// Which events (names, or patterns with `*`); default every event.
    pub events: Option<Vec<String>>,
    /// Seconds to wait for an answer (default 5).
    pub timeout: Option<f64>,
    /// Most webhook calls in flight (default 64); beyond it calls wait, up to `queue` more.
    pub concurrency: Option<usize>,
    /// Most calls waiting for a slot (default 1024); beyond it an event is refused at once.
    pub queue: Option<usize>,
}

/// `[protocol]`: Socket.IO and Engine.IO options of socket.io's own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolConfig {
    /// `"default"` or `"msgpack"` (socket.io-msgpack-parser's encoding).
    pub parser: Option<String>,
    /// WebSocket permessage-deflate (default false).
    pub per_message_deflate: Option<bool>,
    /// Smallest message compressed with it, bytes (default 1024).
    pub deflate_threshold: Option<usize>,
    /// Compress polling responses (default true).
    pub http_compression: Option<bool>,
    /// Accept socket.io-client 2.x (Engine.IO v3) clients too (default false).
    pub allow_eio3: Option<bool>,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per record.
    Text,
    /// One JSON object per line.
    Json,
}

/// Reads and checks a configuration file. The error names the file, and for TOML or
/// unknown keys the key and line.
pub fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Everything `rtio serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub static_dir: Option<PathBuf>,
    pub cors: Vec<String>,
    pub namespaces: Vec<String>,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub max_payload: usize,
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    pub log_level: log::LevelFilter,
    pub api_key: Option<String>,
    pub api_listen: Option<SocketAddr>,
    pub redis_url: Option<String>,
    pub redis_key: Option<String>,
    pub redis_sharded: bool,
    pub auth_url: Option<String>,
    pub auth_timeout: Duration,
    pub jwt: Option<Jwt>,
    pub webhook_url: Option<String>,
    pub webhook_events: Vec<String>,
    pub webhook_timeout: Duration,
    pub webhook_concurrency: usize,
    pub webhook_queue: usize,
    pub admin: Option<crate::admin::Admin>,
    /// The certificate chain and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub parser: rtio::Parser,
    /// The permessage-deflate threshold, when on.
    pub per_message_deflate: Option<usize>,
    pub http_compression: bool,
    pub allow_eio3: bool,
}

/// How a JWT is checked.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub algorithm: jsonwebtoken::Algorithm,
    /// The secret (HS256) or the PEM public key.
    pub key: Vec<u8>,
}

/// The values given by flags or environment variables (`None`: not given).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub static_dir: Option<PathBuf>,
    pub cors: Vec<String>,
    pub namespaces: Vec<String>,
    pub api_key: Option<String>,
    pub api_listen: Option<SocketAddr>,
    pub redis: Option<String>,
    pub redis_key: Option<String>,
    pub auth_url: Option<String>,
    pub webhook_url: Option<String>,
    pub jwt_secret: Option<String>,
    pub log_format: Option<LogFormat>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

fn seconds(what: &str, value: Option<f64>, default: f64) -> Result<Duration, String> {
    let s = value.unwrap_or(default);
    if !(s.is_finite() && s > 0.0 && s < 86_400.0 * 365.0) {
        return Err(format!(
            "{what} must be a positive number of seconds, not {s}"
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

fn check_url(what: &str, url: Option<String>) -> Result<Option<String>, String> {
    match url {
        Some(u) if !u.starts_with("http://") => Err(format!(
            "{what} must be an http:// URL (got {u:?}); put a TLS-terminating proxy in front of an https backend"
        )),
        other => Ok(other),
    }
}

impl Settings {
    /// Resolves the file (if any) and the overrides into settings, checking every value.
    pub fn resolve(file: FileConfig, over: Overrides) -> Result<Settings, String> {
        let path = file.path.unwrap_or_else(|| "/socket.io/".into());
        if !path.starts_with('/') {
            return Err(format!("path must start with '/' (got {path:?})"));
        }
        let namespaces = if !over.namespaces.is_empty() {
            over.namespaces
        } else {
            file.namespaces.unwrap_or_else(|| vec!["/".into()])
        };
        for ns in &namespaces {
            if ns != "*" && !ns.starts_with('/') {
                return Err(format!(
                    "namespaces: {ns:?} must start with '/' (or be \"*\")"
                ));
            }
        }
        let log_level = match file.log_level.as_deref().unwrap_or("info") {
            "error" => log::LevelFilter::Error,
            "warn" => log::LevelFilter::Warn,
            "info" => log::LevelFilter::Info,
            "debug" => log::LevelFilter::Debug,
            other => {
                return Err(format!(
                    "log_level must be error, warn, info or debug (got {other:?})"
                ))
            }
        };
        let jwt = jwt_settings(file.jwt, over.jwt_secret)?;
        let api_key = over.api_key.or(file.api.key);
        if api_key.as_deref() == Some("") {
            return Err("api key must not be empty".into());
        }
        let api_listen = over.api_listen.or(file.api.listen);
        if api_listen.is_some() && api_key.is_none() {
            return Err("api listen is set but no api key: the API needs --api-key".into());
        }
        let parser = match file.protocol.parser.as_deref().unwrap_or("default") {
            "default" => rtio::Parser::Default,
            "msgpack" => rtio::Parser::Msgpack,
            other => {
                return Err(format!(
                    "protocol.parser must be \"default\" or \"msgpack\" (got {other:?})"
                ))
            }
        };
        let deflate_threshold = file.protocol.deflate_threshold.unwrap_or(1024);
        let max_payload = file.max_payload.unwrap_or(1_000_000);
        if max_payload == 0 {
            return Err("max_payload must be at least 1".into());
        }
        Ok(Settings {
            host: over.host.or(file.host).unwrap_or_else(|| "0.0.0.0".into()),
            port: over.port.or(file.port).unwrap_or(3000),
            path,
            static_dir: over.static_dir.or(file.static_dir),
            cors: if over.cors.is_empty() {
                file.cors.unwrap_or_default()
            } else {
                over.cors
            },
            namespaces,
            ping_interval: seconds("ping_interval", file.ping_interval, 25.0)?,
            ping_timeout: seconds("ping_timeout", file.ping_timeout, 20.0)?,
            max_payload,
            shutdown_grace: seconds("shutdown_grace", file.shutdown_grace, 10.0)?,
            log_format: over
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            log_level,
            api_key,
            api_listen,
            redis_url: over.redis.or(file.redis.url),
            redis_key: over.redis_key.or(file.redis.key),
            redis_sharded: file.redis.sharded.unwrap_or(false),
            auth_url: check_url("auth url", over.auth_url.or(file.auth.url))?,
            auth_timeout: seconds("auth timeout", file.auth.timeout, 5.0)?,
            jwt,
            webhook_url: check_url("webhook url", over.webhook_url.or(file.webhook.url))?,
            webhook_events: file.webhook.events.unwrap_or_else(|| vec!["*".into()]),
            webhook_timeout: seconds("webhook timeout", file.webhook.timeout, 5.0)?,
            webhook_concurrency: file.webhook.concurrency.unwrap_or(64).max(1),
            webhook_queue: file.webhook.queue.unwrap_or(1024),
            admin: admin_settings(file.admin)?,
            parser,
            per_message_deflate: file
                .protocol
                .per_message_deflate
                .unwrap_or(false)
                .then_some(deflate_threshold),
            http_compression: file.protocol.http_compression.unwrap_or(true),
            allow_eio3: file.protocol.allow_eio3.unwrap_or(false),
            tls: match (
                over.tls_cert.or(file.tls.cert),
                over.tls_key.or(file.tls.key),
            ) {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => return Err("tls: cert and key go together".into()),
            },
        })
    }
}

fn admin_settings(file: AdminConfig) -> Result<Option<crate::admin::Admin>, String> {
    if !file.enabled.unwrap_or(false) {
        return Ok(None);
    }
    let namespace = file.namespace.unwrap_or_else(|| "/admin".into());
    if !namespace.starts_with('/') || namespace == "/" {
        return Err(format!(
            "admin namespace must start with '/' and not be \"/\" (got {namespace:?})"
        ));
    }
    let credentials = match (file.auth, file.username, file.password) {
        (Some(false), None, None) => None,
        (Some(false), _, _) => {
            return Err("admin: auth = false takes no username or password".into())
        }
        (_, Some(user), Some(hash)) => {
            if bcrypt::verify("", &hash).is_err() {
                return Err(
                    "admin password must be a bcrypt hash ($2b$...), as instrument() takes it"
                        .into(),
                );
            }
            Some((user, hash))
        }
        _ => {
            return Err("admin: give username and password (a bcrypt hash), or auth = false".into())
        }
    };
    Ok(Some(crate::admin::Admin {
        namespace,
        credentials,
        readonly: file.readonly.unwrap_or(false),
    }))
}

fn jwt_settings(file: JwtConfig, secret_flag: Option<String>) -> Result<Option<Jwt>, String> {
    use jsonwebtoken::Algorithm;
    let secret = secret_flag.or(file.secret);
    let algorithm = match file.algorithm.as_deref() {
        None if file.public_key.is_some() => {
            return Err("jwt: public_key needs algorithm = \"RS256\" or \"ES256\"".into())
        }
        None | Some("HS256") => Algorithm::HS256,
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        Some(other) => {
            return Err(format!(
                "jwt algorithm must be HS256, RS256 or ES256 (got {other:?})"
            ))
        }
    };
    match (algorithm, secret, file.public_key) {
        (Algorithm::HS256, Some(secret), None) if !secret.is_empty() => Ok(Some(Jwt {
            algorithm,
            key: secret.into_bytes(),
        })),
        (Algorithm::HS256, None, None) => Ok(None),
        (Algorithm::HS256, _, _) => {
            Err("jwt: HS256 takes a non-empty secret and no public_key".into())
        }
        (_, None, Some(path)) => {
            let key = std::fs::read(&path)
                .map_err(|e| format!("jwt public_key {}: {e}", path.display()))?;
            let parsed = match algorithm {
                Algorithm::RS256 => jsonwebtoken::DecodingKey::from_rsa_pem(&key).map(|_| ()),
                _ => jsonwebtoken::DecodingKey::from_ec_pem(&key).map(|_| ()),
            };
            parsed.map_err(|e| format!("jwt public_key {}: {e}", path.display()))?;
            Ok(Some(Jwt { algorithm, key }))
        }
        _ => Err("jwt: RS256 and ES256 take a public_key (PEM file) and no secret".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_name_the_key_and_the_line() {
        let err = toml::from_str::<FileConfig>("port = 3000\nprot = 4\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("prot"), "{text}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let file: FileConfig = toml::from_str("port = 3000\nhost = \"127.0.0.1\"\n").unwrap();
        let s = Settings::resolve(
            file,
            Overrides {
                port: Some(4000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 4000));
    }

    #[test]
    fn bad_values_are_named() {
        let file: FileConfig = toml::from_str("[webhook]\nurl = \"ftp://x\"\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err();
        assert!(err.contains("webhook url"), "{err}");
        let file: FileConfig = toml::from_str("namespaces = [\"chat\"]\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err();
        assert!(err.contains("namespaces"), "{err}");
    }

    #[test]
    fn protocol_options_map_to_the_core() {
        let file: FileConfig = toml::from_str(
            "[protocol]\nparser = \"msgpack\"\nper_message_deflate = true\ndeflate_threshold = 64\nhttp_compression = false\nallow_eio3 = true\n",
        )
        .unwrap();
        let s = Settings::resolve(file, Overrides::default()).unwrap();
        assert_eq!(s.parser, rtio::Parser::Msgpack);
        assert_eq!(s.per_message_deflate, Some(64));
        assert!(!s.http_compression && s.allow_eio3);
        let file: FileConfig = toml::from_str("[protocol]\nparser = \"pickle\"\n").unwrap();
        let err = Settings::resolve(file, Overrides::default()).unwrap_err();
        assert!(err.contains("protocol.parser"), "{err}");
    }
}
