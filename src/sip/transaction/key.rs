//! Transaction keys (RFC 3261 §17.1.3 client matching, §17.2.3 server matching with
//! the RFC 2543 fallback) and the generator for branches, tags and Call-IDs.

use crate::sip::message::{Method, Request, Response, Via};

/// Why a message cannot be matched to a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub &'static str);

/// The key of one transaction in the layer's map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TxKey {
    /// Our request: the branch we generated and the CSeq method.
    Client { branch: String, method: Method },
    /// RFC 3261 request (branch has the magic cookie): branch, sent-by, method
    /// (ACK is folded into INVITE so it finds the INVITE transaction).
    Server {
        branch: String,
        sent_by: String,
        method: Method,
    },
    /// RFC 2543 request (no magic cookie). The To tag is checked after lookup.
    Legacy(Box<LegacyKey>),
}

/// §17.2.3 fallback: Request-URI, From tag, Call-ID, CSeq number, top Via, method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegacyKey {
    pub request_uri: String,
    pub from_tag: String,
    pub call_id: String,
    pub cseq: u32,
    pub top_via: String,
    pub method: Method,
}

impl TxKey {
    /// Key of a client transaction for a request we send with `branch`.
    pub fn client(branch: &str, method: Method) -> TxKey {
        TxKey::Client {
            branch: branch.to_string(),
            method,
        }
    }

    /// Key of the client transaction a response belongs to (top Via branch + CSeq method).
    pub fn for_response(resp: &Response, via: &Via) -> Result<TxKey, KeyError> {
        let branch = via
            .branch
            .as_deref()
            .ok_or(KeyError("response Via has no branch"))?;
        let cseq = resp
            .cseq()
            .map_err(|_| KeyError("response has no valid CSeq"))?;
        Ok(TxKey::client(branch, cseq.method))
    }

    /// Key of the server transaction an incoming request belongs to. ACK maps to the
    /// INVITE transaction (for ACKs of non-2xx responses).
    pub fn for_request(req: &Request, via: &Via) -> Result<TxKey, KeyError> {
        let method = match req.method {
            Method::Ack => Method::Invite,
            ref m => m.clone(),
        };
        Self::server(req, via, method)
    }

    /// Key of the INVITE server transaction a CANCEL refers to (§9.2).
    pub fn invite_for_cancel(cancel: &Request, via: &Via) -> Result<TxKey, KeyError> {
        Self::server(cancel, via, Method::Invite)
    }

    fn server(req: &Request, via: &Via, method: Method) -> Result<TxKey, KeyError> {
        if via.has_rfc3261_branch() {
            let branch = via.branch.clone().unwrap_or_default();
            return Ok(TxKey::Server {
                branch,
                sent_by: via.sent_by().to_ascii_lowercase(),
                method,
            });
        }
        let call_id = req.call_id().map_err(|_| KeyError("no valid Call-ID"))?;
        let cseq = req.cseq().map_err(|_| KeyError("no valid CSeq"))?;
        let from = req.from().map_err(|_| KeyError("no valid From"))?;
        let top_via = req.headers.get("via").ok_or(KeyError("no Via"))?;
        let top_via = top_via.split(',').next().unwrap_or(top_via).trim();
        Ok(TxKey::Legacy(Box::new(LegacyKey {
            request_uri: req.uri.to_string(),
            from_tag: from.tag().unwrap_or("").to_string(),
            call_id: call_id.to_string(),
            cseq: cseq.seq,
            top_via: top_via.to_string(),
            method,
        })))
    }

    /// True for RFC 2543 keys, whose ACK matching also compares To tags.
    pub fn is_legacy(&self) -> bool {
        matches!(self, TxKey::Legacy(_))
    }
}

/// Generates unique branches, tags and Call-IDs from a seed (give the edge's random
/// seed in production, a constant in tests) and a counter. Outputs never repeat for
/// one seed: splitmix64 is a bijection.
#[derive(Debug, Clone)]
pub struct IdGen {
    seed: u64,
    counter: u64,
}

impl IdGen {
    pub fn new(seed: u64) -> IdGen {
        IdGen { seed, counter: 0 }
    }

    fn next(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        splitmix64(self.seed ^ self.counter)
    }

    /// `z9hG4bK` + 16 hex digits.
    pub fn branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.next())
    }

    /// A From/To tag.
    pub fn tag(&mut self) -> String {
        format!("{:016x}", self.next())
    }

    /// A Call-ID (`<random>@<host>`).
    pub fn call_id(&mut self, host: &str) -> String {
        format!("{:016x}{:08x}@{host}", self.next(), self.seed as u32)
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Uri;

    fn req(method: Method, via: &str) -> Request {
        let mut r = Request::new(method, Uri::parse("sip:bob@example.com").unwrap());
        r.headers.push("via", via);
        r.headers.push("from", "<sip:alice@example.com>;tag=a1");
        r.headers.push("to", "<sip:bob@example.com>");
        r.headers.push("call-id", "c1");
        r.headers.push("cseq", "1 INVITE");
        r
    }

    fn key(r: &Request) -> TxKey {
        TxKey::for_request(r, &r.top_via().unwrap()).unwrap()
    }

    #[test]
    fn ack_and_invite_share_a_server_key_cancel_does_not() {
        let via = "SIP/2.0/UDP Host.example:5060;branch=z9hG4bK1";
        let invite = req(Method::Invite, via);
        let ack = req(Method::Ack, via);
        let cancel = req(Method::Cancel, via);
        assert_eq!(key(&invite), key(&ack));
        assert_ne!(key(&invite), key(&cancel));
        let v = cancel.top_via().unwrap();
        assert_eq!(TxKey::invite_for_cancel(&cancel, &v).unwrap(), key(&invite));
    }

    #[test]
    fn different_sent_by_is_a_different_transaction() {
        let a = req(Method::Invite, "SIP/2.0/UDP a.example;branch=z9hG4bK1");
        let b = req(Method::Invite, "SIP/2.0/UDP b.example;branch=z9hG4bK1");
        assert_ne!(key(&a), key(&b));
    }

    #[test]
    fn rfc2543_requests_use_the_fallback_key() {
        let a = req(Method::Invite, "SIP/2.0/UDP a.example;branch=old1");
        let ack = req(Method::Ack, "SIP/2.0/UDP a.example;branch=old1");
        assert!(key(&a).is_legacy());
        assert_eq!(key(&a), key(&ack));
        let mut other = req(Method::Invite, "SIP/2.0/UDP a.example;branch=old1");
        other.headers.set("cseq", "2 INVITE");
        assert_ne!(key(&a), key(&other));
    }

    #[test]
    fn ids_are_unique_and_branches_carry_the_cookie() {
        let mut g = IdGen::new(42);
        let a = g.branch();
        let b = g.branch();
        assert!(a.starts_with("z9hG4bK"));
        assert_ne!(a, b);
        assert_ne!(g.tag(), g.tag());
        assert!(g.call_id("h.example").ends_with("@h.example"));
    }
}
