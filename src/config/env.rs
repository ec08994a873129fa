//! `HELPLINE_*` environment overrides for what differs between machines: ports and the database.
//!
//! | variable | effect |
//! |---|---|
//! | `HELPLINE_SIP_PORT` | UDP and TCP SIP port |
//! | `HELPLINE_SIP_UDP`, `HELPLINE_SIP_TCP` | full bind address for one transport |
//! | `HELPLINE_SIP_HOST` | advertised host in Via/Contact |
//! | `HELPLINE_HTTP_PORT` | HTTP port |
//! | `HELPLINE_HTTP_LISTEN` | full HTTP bind address |
//! | `HELPLINE_DATABASE_URL` | database URL (`sqlite://…` or `postgres://…`) |
//! | `HELPLINE_NODE_ID` | `[server] node_id` |
//! | `HELPLINE_RTP_PORTS` | RTP range as `min-max` |

use super::model::Settings;

pub(super) fn process_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("HELPLINE_"))
        .collect()
}

pub(super) fn apply(s: &mut Settings, vars: &[(String, String)]) -> Result<(), String> {
    for (key, value) in vars {
        let bad = |what: &str| format!("environment {key}={value}: {what}");
        match key.as_str() {
            "HELPLINE_SIP_PORT" => {
                let port: u16 = value.parse().map_err(|_| bad("not a port number"))?;
                s.sip.udp.set_port(port);
                s.sip.tcp.set_port(port);
            }
            "HELPLINE_SIP_UDP" => s.sip.udp = value.parse().map_err(|_| bad("not address:port"))?,
            "HELPLINE_SIP_TCP" => s.sip.tcp = value.parse().map_err(|_| bad("not address:port"))?,
            "HELPLINE_SIP_HOST" => s.sip.advertised_host = value.clone(),
            "HELPLINE_HTTP_PORT" => {
                let port: u16 = value.parse().map_err(|_| bad("not a port number"))?;
                s.http.listen.set_port(port);
            }
            "HELPLINE_HTTP_LISTEN" => {
                s.http.listen = value.parse().map_err(|_| bad("not address:port"))?
            }
            "HELPLINE_DATABASE_URL" => s.database.url = value.clone(),
            "HELPLINE_NODE_ID" => {
                s.server.node_id = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("not a node id (1 or more)"))?
            }
            "HELPLINE_RTP_PORTS" => {
                let (lo, hi) = value
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                    .ok_or_else(|| bad("write the range as min-max, e.g. 30000-30999"))?;
                if lo >= hi {
                    return Err(bad("min must be below max"));
                }
                s.media.rtp_port_min = lo;
                s.media.rtp_port_max = hi;
            }
            _ => {}
        }
    }
    Ok(())
}
