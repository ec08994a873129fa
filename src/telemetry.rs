//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG` (default `info`).

/// Quietened unless `RUST_LOG` names the target itself: the `rtc` WebRTC core warns
/// "IceHandler.handle_read got error: password is empty" for every STUN check a browser sends
/// before our answer has set its credentials (about 16 a second while a browser call rings).
/// Those checks are expected and retried by the browser; the warnings buried real ones.
const QUIET: &str = "rtc::peer_connection::handler=error";

pub fn init() {
    let env = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if !env.contains("rtc") {
        if let Ok(d) = QUIET.parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
