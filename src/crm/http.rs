//! An external CRM spoken to over HTTP/JSON (`[crm] provider = "http"`, settings in
//! `[crm.http]`).
//!
//! Plain `http://` only (no TLS): the CRM is expected on the internal network or behind a local
//! TLS-terminating proxy/sidecar. Paths are relative to `base_url` (which may carry a path
//! prefix, e.g. `http://crm.internal:9000/api`); query values and path segments are
//! percent-encoded (`+` in a phone number is sent as `%2B`). JSON bodies have the shapes of
//! [`super::model`].
//!
//! | request | answer |
//! |---|---|
//! | `GET /contacts?phone=%2B442079460000` | `[Contact]` (several for a shared line; `[]` or 404: none) |
//! | `GET /contacts?account=ACME-1` | `[Contact]` (the first is used; `[]` or 404: none) |
//! | `GET /contacts/{id}` | `Contact`, or 404 |
//! | `GET /tickets/{number}` | `Ticket`, or 404 (the number as typed: `T-1001`, or `1001` from a keypad) |
//! | `GET /contacts/{id}/tickets?status=open` | `[Ticket]` still needing work (open and pending) |
//! | `GET /contacts/{id}/interactions?limit=5` | `[InteractionSummary]`, newest first |
//! | `POST /interactions` | the outcome, see below; any 2xx (or 409: already have it) = delivered |
//!
//! `POST /interactions` carries `Idempotency-Key: <interaction id>` and the body
//! `{"interaction_id", "interaction": Interaction, "wrapup": WrapUp|null, "ticket": Ticket|null}`;
//! it is sent from the outbox ([`super::outbox`]) until the CRM accepts it, so the CRM must
//! treat a repeated key as the same outcome (a retry after a lost answer).
//!
//! Every request has `timeout_ms` (connect + answer + body), sends `Authorization: Bearer
//! <token>` when `token_env` names a set environment variable, and goes through one
//! [`Breaker`] shared by all requests: after `breaker_failures` consecutive failures (no answer,
//! timeout, 5xx, 429, or a request abandoned by its caller) requests fail at once for
//! `breaker_cooldown_ms`. Lookups are retried `retries` more times on such failures (never
//! while the breaker is open); outcomes are not retried here, the outbox does that.
//! Nothing from the network is trusted: bodies are capped at 4 MiB and anything that is not
//! the expected JSON is an error, never a panic.

use super::breaker::{Admit, Breaker, BreakerState};
use super::model::{Contact, InteractionSummary, Ticket};
use crate::config::CrmHttpSettings;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Largest answer body we read.
const MAX_BODY: usize = 4 << 20;

/// Why a request to the external CRM failed. `what` names the endpoint (`GET /contacts/{id}`),
/// never the values (no phone numbers in logs).
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("CRM circuit breaker open (CRM failing); next try in {0:?}")]
    BreakerOpen(Duration),
    #[error("CRM {what}: no answer within {after:?}")]
    Timeout { what: &'static str, after: Duration },
    #[error("CRM {what}: {why}")]
    Transport { what: &'static str, why: String },
    #[error("CRM {what}: answered HTTP {status}")]
    Status { what: &'static str, status: u16 },
    #[error("CRM {what}: answer is not the expected JSON: {why}")]
    Body { what: &'static str, why: String },
    #[error("CRM base_url `{0}` does not make a valid http:// URL")]
    Url(String),
}

impl HttpError {
    /// The CRM looks unhealthy (counts against the breaker, worth retrying later).
    pub fn is_outage(&self) -> bool {
        match self {
            HttpError::Timeout { .. } | HttpError::Transport { .. } => true,
            HttpError::Status { status, .. } => *status >= 500 || *status == 429,
            HttpError::BreakerOpen(_) | HttpError::Body { .. } | HttpError::Url(_) => false,
        }
    }

    pub fn is_breaker_open(&self) -> bool {
        matches!(self, HttpError::BreakerOpen(_))
    }
}

/// The HTTP CRM client. Cheap to clone; clones share the connection pool and the breaker.
#[derive(Clone)]
pub struct HttpCrm {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
    retries: u32,
    breaker: Mutex<Breaker>,
    token: Option<HeaderValue>,
}

impl HttpCrm {
    /// A client for `settings` (validated by the config check: `base_url` starts with
    /// `http://`). Reads the bearer token from the environment variable `token_env` now.
    pub fn new(settings: &CrmHttpSettings) -> HttpCrm {
        let token = settings.token_env.as_deref().and_then(|var| {
            let Ok(t) = std::env::var(var) else {
                tracing::warn!(
                    var,
                    "[crm.http] token_env names an unset variable; no token sent"
                );
                return None;
            };
            match HeaderValue::from_str(&format!("Bearer {}", t.trim())) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    Some(v)
                }
                Err(_) => {
                    tracing::warn!(var, "CRM token is not a valid header value; no token sent");
                    None
                }
            }
        });
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(settings.timeout_ms.max(1))));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        HttpCrm {
            inner: Arc::new(Inner {
                client,
                base: settings.base_url.trim_end_matches('/').to_string(),
                timeout: Duration::from_millis(settings.timeout_ms.max(1)),
                retries: settings.retries,
                breaker: Mutex::new(Breaker::new(
                    settings.breaker_failures,
                    Duration::from_millis(settings.breaker_cooldown_ms),
                )),
                token,
            }),
        }
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker().state()
    }

    /// How long until the breaker lets a request through (zero: now).
    pub fn breaker_wait(&self, now: Instant) -> Duration {
        self.breaker().wait(now)
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        // A panic while holding this lock cannot leave the breaker inconsistent (every
        // transition is one assignment), so a poisoned lock is still usable.
        self.inner
            .breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Contacts owning this E.164 number.
    pub async fn contacts_by_phone(&self, number: &str) -> Result<Vec<Contact>, HttpError> {
        let pq = format!("/contacts?phone={}", enc(number));
        Ok(self
            .get_json::<Vec<Contact>>("GET /contacts?phone", &pq)
            .await?
            .unwrap_or_default())
    }

    pub async fn contact_by_account(&self, account: &str) -> Result<Option<Contact>, HttpError> {
        let pq = format!("/contacts?account={}", enc(account));
        let found = self
            .get_json::<Vec<Contact>>("GET /contacts?account", &pq)
            .await?;
        Ok(found.and_then(|v| v.into_iter().next()))
    }

    pub async fn contact(&self, id: &str) -> Result<Option<Contact>, HttpError> {
        let pq = format!("/contacts/{}", enc(id));
        self.get_json("GET /contacts/{id}", &pq).await
    }

    pub async fn ticket_by_number(&self, number: &str) -> Result<Option<Ticket>, HttpError> {
        let pq = format!("/tickets/{}", enc(number));
        self.get_json("GET /tickets/{number}", &pq).await
    }

    /// A contact's open and pending tickets (at most `limit`; the pop orders them).
    pub async fn open_tickets(
        &self,
        contact_id: &str,
        limit: i64,
    ) -> Result<Vec<Ticket>, HttpError> {
        let pq = format!("/contacts/{}/tickets?status=open", enc(contact_id));
        let mut v: Vec<Ticket> = self
            .get_json("GET /contacts/{id}/tickets", &pq)
            .await?
            .unwrap_or_default();
        v.retain(|t| t.status.is_open());
        super::pop::order_tickets(&mut v);
        v.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(v)
    }

    /// A contact's latest calls, newest first.
    pub async fn recent_interactions(
        &self,
        contact_id: &str,
        limit: i64,
    ) -> Result<Vec<InteractionSummary>, HttpError> {
        let pq = format!(
            "/contacts/{}/interactions?limit={}",
            enc(contact_id),
            limit.max(0)
        );
        let mut v: Vec<InteractionSummary> = self
            .get_json("GET /contacts/{id}/interactions", &pq)
            .await?
            .unwrap_or_default();
        v.sort_by_key(|i| std::cmp::Reverse(i.at_ms));
        v.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(v)
    }

    /// Deliver one outcome (`payload` is the outbox row's JSON). One attempt: the outbox
    /// retries. 2xx or 409 (the CRM already has this key) count as delivered.
    pub async fn post_interaction(
        &self,
        interaction_id: &str,
        payload: &str,
    ) -> Result<(), HttpError> {
        const WHAT: &str = "POST /interactions";
        let key = HeaderValue::from_str(interaction_id).map_err(|_| HttpError::Body {
            what: WHAT,
            why: "interaction id is not a valid header value".into(),
        })?;
        let (status, _) = self
            .send(
                Method::POST,
                WHAT,
                "/interactions",
                Some((Bytes::from(payload.to_owned()), key)),
            )
            .await?;
        if status.is_success() || status == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(HttpError::Status {
                what: WHAT,
                status: status.as_u16(),
            })
        }
    }

    /// GET with retries; 404 → `None`.
    async fn get_json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        pq: &str,
    ) -> Result<Option<T>, HttpError> {
        let mut attempt = 0;
        loop {
            let err = match self.send(Method::GET, what, pq, None).await {
                Ok((StatusCode::NOT_FOUND, _)) => return Ok(None),
                Ok((s, body)) if s.is_success() => {
                    return serde_json::from_slice(&body)
                        .map(Some)
                        .map_err(|e| HttpError::Body {
                            what,
                            why: e.to_string(),
                        })
                }
                Ok((s, _)) => HttpError::Status {
                    what,
                    status: s.as_u16(),
                },
                Err(e) => e,
            };
            if !err.is_outage() || attempt >= self.inner.retries {
                return Err(err);
            }
            attempt += 1;
            tracing::debug!(error = %err, attempt, "CRM lookup failed; retrying");
        }
    }

    /// One request through the breaker, with the timeout. 5xx and 429 come back as
    /// `Err(Status)`; any other status is the caller's to judge.
    async fn send(
        &self,
        method: Method,
        what: &'static str,
        pq: &str,
        body: Option<(Bytes, HeaderValue)>,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        let uri: Uri = format!("{}{pq}", self.inner.base)
            .parse()
            .map_err(|_| HttpError::Url(self.inner.base.clone()))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::ACCEPT, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("helpline/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(t) = &self.inner.token {
            builder = builder.header(AUTHORIZATION, t.clone());
        }
        let body = match body {
            Some((bytes, key)) => {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .header("idempotency-key", key);
                Full::new(bytes)
            }
            None => Full::new(Bytes::new()),
        };
        let req = builder.body(body).map_err(|e| HttpError::Transport {
            what,
            why: format!("building the request: {e}"),
        })?;
        if let Admit::No { retry_in } = self.breaker().admit(Instant::now()) {
            return Err(HttpError::BreakerOpen(retry_in));
        }
        // Reports the outcome to the breaker, and a failure if this future is dropped first
        // (the pop's deadline gave up on a slow CRM: that must count, or a hanging CRM would
        // never open the breaker).
        let mut verdict = Verdict {
            crm: self,
            healthy: None,
        };
        let exchange = async {
            let resp = self
                .inner
                .client
                .request(req)
                .await
                .map_err(|e| HttpError::Transport {
                    what,
                    why: error_chain(&e),
                })?;
            let status = resp.status();
            let bytes = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| HttpError::Transport {
                    what,
                    why: format!("reading the answer: {e}"),
                })?
                .to_bytes();
            Ok((status, bytes))
        };
        let result = match tokio::time::timeout(self.inner.timeout, exchange).await {
            Ok(Ok((status, _)))
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS =>
            {
                Err(HttpError::Status {
                    what,
                    status: status.as_u16(),
                })
            }
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout {
                what,
                after: self.inner.timeout,
            }),
        };
        verdict.healthy = Some(match &result {
            Ok(_) => true,
            Err(e) => !e.is_outage(),
        });
        result
    }
}

struct Verdict<'a> {
    crm: &'a HttpCrm,
    healthy: Option<bool>,
}

impl Drop for Verdict<'_> {
    fn drop(&mut self) {
        let mut b = self.crm.breaker();
        let before = b.state();
        match self.healthy {
            Some(true) => b.success(),
            Some(false) | None => b.failure(Instant::now()),
        }
        let after = b.state();
        drop(b);
        if before != after {
            match after {
                BreakerState::Open => tracing::warn!(
                    from = before.as_str(),
                    "CRM circuit breaker open: CRM requests fail fast for a while"
                ),
                _ => tracing::info!(
                    from = before.as_str(),
                    to = after.as_str(),
                    "CRM circuit breaker"
                ),
            }
        }
    }
}

/// An error and its causes on one line ("client error (Connect): tcp connect error: ...").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Percent-encode everything but RFC 3986 unreserved characters (for a query value or a path
/// segment).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(enc("+442079460000"), "%2B442079460000");
        assert_eq!(enc("T-1001"), "T-1001");
        assert_eq!(enc("a/b c&d=é"), "a%2Fb%20c%26d%3D%C3%A9");
    }

    #[test]
    fn outages_are_told_apart_from_answers() {
        let s = |status| HttpError::Status { what: "x", status };
        assert!(s(503).is_outage());
        assert!(s(429).is_outage());
        assert!(!s(400).is_outage());
        assert!(!HttpError::BreakerOpen(Duration::ZERO).is_outage());
        assert!(HttpError::Timeout {
            what: "x",
            after: Duration::ZERO
        }
        .is_outage());
    }
}
