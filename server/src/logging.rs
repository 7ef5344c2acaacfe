//! Logs on stderr, one record per line: readable text, or JSON objects for log shippers.
//! The core and the Redis adapter log through the same `log` facade.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::settings::LogFormat;

struct Logger {
    format: LogFormat,
    level: log::LevelFilter,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let line = match self.format {
            LogFormat::Json => serde_json::json!({
                "ts": now,
                "level": record.level().as_str().to_lowercase(),
                "target": record.target(),
                "msg": record.args().to_string(),
            })
            .to_string(),
            LogFormat::Text => format!(
                "{now:.3} {:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            ),
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn flush(&self) {}
}

/// Installs the logger (once).
pub fn init(format: LogFormat, level: log::LevelFilter) {
    if log::set_boxed_logger(Box::new(Logger { format, level })).is_ok() {
        log::set_max_level(level);
    }
}
