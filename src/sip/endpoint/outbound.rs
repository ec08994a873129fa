//! Outbound registration to provider trunks (`[[sip.trunks]] register = true`): REGISTER, answer
//! 401/407 with the trunk's credentials, refresh at half the granted expiry, retry on failure.

use super::Endpoint;
use crate::config::TrunkSettings;
use crate::sip::auth::{pick_challenge, Credentials, Secret};
use crate::sip::message::{Method, Request, Response, Uri};
use crate::sip::transaction::Peer;
use std::time::Duration;

pub(super) fn spawn_trunk_registrations(ep: &Endpoint) {
    for trunk in ep.shared.settings.sip.trunks.iter().filter(|t| t.register) {
        tokio::spawn(register_loop(ep.clone(), trunk.clone()));
    }
}

async fn register_loop(ep: Endpoint, trunk: TrunkSettings) {
    let call_id = format!(
        "reg-{:016x}@{}",
        rand::random::<u64>(),
        ep.shared.settings.sip.advertised_host
    );
    let mut cseq = 1u32;
    loop {
        let wait = match register_once(&ep, &trunk, &call_id, &mut cseq).await {
            Ok(expires) => {
                tracing::info!(trunk = %trunk.name, expires, "registered with trunk");
                Duration::from_secs(u64::from(expires / 2).max(5))
            }
            Err(why) => {
                tracing::warn!(trunk = %trunk.name, %why, "trunk registration failed; retrying in 30 s");
                Duration::from_secs(30)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// One REGISTER exchange (with up to two challenges). Ok(granted expiry in seconds).
async fn register_once(
    ep: &Endpoint,
    trunk: &TrunkSettings,
    call_id: &str,
    cseq: &mut u32,
) -> Result<u32, String> {
    let creds = match (&trunk.username, &trunk.password) {
        (Some(u), Some(p)) => Some(Credentials {
            username: u.clone(),
            secret: Secret::Password(p.clone()),
        }),
        _ => None,
    };
    let mut authorization: Option<(&'static str, String)> = None;
    for _ in 0..3 {
        let req = build(ep, trunk, call_id, *cseq, authorization.take())?;
        *cseq += 1;
        let mut rx = ep.send_request(req, Peer::udp(trunk.proxy));
        let resp = loop {
            match rx.recv().await {
                Some(Ok(r)) if r.status >= 200 => break r,
                Some(Ok(_)) => continue,
                Some(Err(timeout)) => {
                    return Err(if timeout {
                        "timeout".into()
                    } else {
                        "transport error".into()
                    })
                }
                None => return Err("endpoint stopped".into()),
            }
        };
        match resp.status {
            200..=299 => return Ok(granted(&resp, trunk.register_expires)),
            401 | 407 => {
                let c = creds
                    .as_ref()
                    .ok_or("trunk asks for credentials but none are configured")?;
                let name = if resp.status == 401 {
                    "www-authenticate"
                } else {
                    "proxy-authenticate"
                };
                let ch = pick_challenge(resp.headers.get_all(name)).ok_or("unusable challenge")?;
                let cnonce = format!("{:016x}", rand::random::<u64>());
                let uri = format!("sip:{}", trunk.domain);
                let d = c
                    .authorize(&ch, "REGISTER", &uri, b"", &cnonce, 1)
                    .map_err(|e| format!("{e:?}"))?;
                let header = if resp.status == 401 {
                    "authorization"
                } else {
                    "proxy-authorization"
                };
                authorization = Some((header, d.to_header_value()));
            }
            s => return Err(format!("trunk answered {s}")),
        }
    }
    Err("credentials refused".into())
}

fn granted(resp: &Response, asked: u32) -> u32 {
    resp.headers
        .contacts()
        .ok()
        .and_then(|cs| {
            cs.iter().find_map(|c| match c {
                crate::sip::message::Contact::Addr(na) => {
                    na.params.value("expires").and_then(|v| v.parse().ok())
                }
                _ => None,
            })
        })
        .or_else(|| resp.headers.expires().ok().flatten())
        .unwrap_or(asked)
}

fn build(
    ep: &Endpoint,
    trunk: &TrunkSettings,
    call_id: &str,
    cseq: u32,
    auth: Option<(&'static str, String)>,
) -> Result<Request, String> {
    let s = &ep.shared.settings.sip;
    let user = trunk.username.clone().unwrap_or_else(|| "helpline".into());
    let uri = Uri::parse(&format!("sip:{}", trunk.domain)).map_err(|e| format!("{e:?}"))?;
    let mut r = Request::new(Method::Register, uri);
    let branch = format!("z9hG4bK{:016x}", rand::random::<u64>());
    r.headers.push(
        "via",
        format!(
            "SIP/2.0/UDP {}:{};branch={branch};rport",
            s.advertised_host,
            s.udp.port()
        ),
    );
    r.headers.push("max-forwards", "70");
    r.headers.push(
        "from",
        format!(
            "<sip:{user}@{}>;tag={:08x}",
            trunk.domain,
            rand::random::<u32>()
        ),
    );
    r.headers
        .push("to", format!("<sip:{user}@{}>", trunk.domain));
    r.headers.push("call-id", call_id);
    r.headers.push("cseq", format!("{cseq} REGISTER"));
    r.headers.push(
        "contact",
        format!("<sip:{user}@{}:{}>", s.advertised_host, s.udp.port()),
    );
    r.headers
        .push("expires", trunk.register_expires.to_string());
    if let Some((name, value)) = auth {
        r.headers.push(name, value);
    }
    Ok(r)
}
