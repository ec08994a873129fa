//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760):
//! parsing challenges (WWW-/Proxy-Authenticate) and credentials (Authorization /
//! Proxy-Authorization), HA1 and response computation for MD5 and SHA-256 (and their
//! `-sess` forms) with qop=auth / auth-int, and the client side: answering a 401/407
//! from stored credentials. Server-side nonces live in `auth_server`.

use std::fmt;

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::params::{split_quoted, trim_lws};

/// Digest algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
    /// An algorithm we cannot compute (e.g. SHA-512-256); such challenges are skipped.
    Other(String),
}

impl Algorithm {
    /// Parses the `algorithm=` token (case-insensitive). Absent means MD5.
    pub fn parse(s: &str) -> Algorithm {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Algorithm::Md5,
            "MD5-SESS" => Algorithm::Md5Sess,
            "SHA-256" => Algorithm::Sha256,
            "SHA-256-SESS" => Algorithm::Sha256Sess,
            _ => Algorithm::Other(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Other(s) => s,
        }
    }

    /// The base algorithm whose HA1 a registrar stores (`-sess` maps to its base).
    pub fn base(&self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
            Algorithm::Other(s) => Algorithm::Other(s.clone()),
        }
    }

    fn is_sess(&self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Hex digest of `data`; None for algorithms we cannot compute.
    pub fn hash(&self, data: &[u8]) -> Option<String> {
        match self.base() {
            Algorithm::Md5 => Some(hex(&Md5::digest(data))),
            Algorithm::Sha256 => Some(hex(&Sha256::digest(data))),
            _ => None,
        }
    }

    /// Preference when several challenges are offered (higher is stronger).
    fn strength(&self) -> u8 {
        match self {
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Other(_) => 0,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Authentication problems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Not a `Digest` header (e.g. `NoOneKnowsThisScheme`).
    UnsupportedScheme(String),
    /// A required parameter is absent or malformed.
    Malformed(&'static str),
    /// We cannot compute this algorithm.
    UnsupportedAlgorithm(String),
    /// Stored credentials do not cover this realm/algorithm.
    NoCredentials,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::UnsupportedScheme(s) => write!(f, "unsupported auth scheme {s}"),
            AuthError::Malformed(w) => write!(f, "malformed digest header: {w}"),
            AuthError::UnsupportedAlgorithm(a) => write!(f, "unsupported digest algorithm {a}"),
            AuthError::NoCredentials => f.write_str("no credentials for this realm/algorithm"),
        }
    }
}

impl std::error::Error for AuthError {}

/// `(lowercase name, unquoted value)` pairs of a Digest header.
type AuthParams = Vec<(String, String)>;

/// Splits `Digest a=b, c="d"` into (scheme, params).
fn parse_auth_params(value: &str) -> Result<(&str, AuthParams), AuthError> {
    let value = trim_lws(value);
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::UnsupportedScheme(scheme.to_string()));
    }
    let mut out = Vec::new();
    for item in split_quoted(rest, b',') {
        let item = trim_lws(item);
        if item.is_empty() {
            continue;
        }
        let (n, v) = item
            .split_once('=')
            .ok_or(AuthError::Malformed("parameter without ="))?;
        let v = trim_lws(v);
        let v = match v.strip_prefix('"') {
            Some(q) => unquote(
                q.strip_suffix('"')
                    .ok_or(AuthError::Malformed("unterminated quote"))?,
            ),
            None => v.to_string(),
        };
        out.push((trim_lws(n).to_ascii_lowercase(), v));
    }
    Ok((scheme, out))
}

fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn get<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A Digest challenge from WWW-Authenticate or Proxy-Authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    /// Offered qop values (`auth`, `auth-int`); empty for RFC 2069 style.
    pub qop: Vec<String>,
    pub opaque: Option<String>,
    pub stale: bool,
}

impl Challenge {
    pub fn parse(value: &str) -> Result<Challenge, AuthError> {
        let (_, p) = parse_auth_params(value)?;
        Ok(Challenge {
            realm: get(&p, "realm")
                .ok_or(AuthError::Malformed("no realm"))?
                .to_string(),
            nonce: get(&p, "nonce")
                .ok_or(AuthError::Malformed("no nonce"))?
                .to_string(),
            algorithm: get(&p, "algorithm").map_or(Algorithm::Md5, Algorithm::parse),
            qop: get(&p, "qop")
                .map(|q| {
                    q.split(',')
                        .map(|s| trim_lws(s).to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            opaque: get(&p, "opaque").map(str::to_string),
            stale: get(&p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The header value, e.g. `Digest realm="x", nonce="n", algorithm=SHA-256, qop="auth"`.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest realm={}, nonce={}, algorithm={}",
            quote(&self.realm),
            quote(&self.nonce),
            self.algorithm
        );
        if !self.qop.is_empty() {
            s.push_str(&format!(", qop={}", quote(&self.qop.join(","))));
        }
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        if self.stale {
            s.push_str(", stale=true");
        }
        s
    }
}

/// Picks the strongest challenge we can answer among several header values (RFC 8760
/// §2.4: SHA-256 before MD5); unparsable and unknown-algorithm ones are skipped.
pub fn pick_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    values
        .into_iter()
        .filter_map(|v| Challenge::parse(v).ok())
        .filter(|c| c.algorithm.strength() > 0)
        .max_by_key(|c| c.algorithm.strength())
}

/// Parsed Authorization / Proxy-Authorization credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestResponse {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub cnonce: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<u32>,
    pub opaque: Option<String>,
}

impl DigestResponse {
    pub fn parse(value: &str) -> Result<DigestResponse, AuthError> {
        let (_, p) = parse_auth_params(value)?;
        let need = |n: &'static str| {
            get(&p, n)
                .map(str::to_string)
                .ok_or(AuthError::Malformed(n))
        };
        let nc = match get(&p, "nc") {
            None => None,
            Some(v) if v.len() == 8 => {
                Some(u32::from_str_radix(v, 16).map_err(|_| AuthError::Malformed("nc"))?)
            }
            Some(_) => return Err(AuthError::Malformed("nc")),
        };
        let r = DigestResponse {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm: get(&p, "algorithm").map_or(Algorithm::Md5, Algorithm::parse),
            cnonce: get(&p, "cnonce").map(str::to_string),
            qop: get(&p, "qop").map(str::to_string),
            nc,
            opaque: get(&p, "opaque").map(str::to_string),
        };
        if r.qop.is_some() && (r.cnonce.is_none() || r.nc.is_none()) {
            return Err(AuthError::Malformed("qop without cnonce/nc"));
        }
        Ok(r)
    }

    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
            self.algorithm
        );
        if let (Some(q), Some(c), Some(nc)) = (&self.qop, &self.cnonce, self.nc) {
            s.push_str(&format!(", qop={q}, cnonce={}, nc={nc:08x}", quote(c)));
        }
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        s
    }

    /// The response this request should carry given the stored HA1 (hex, base
    /// algorithm) of the user; None for algorithms we cannot compute.
    pub fn expected(&self, method: &str, ha1: &str, body: &[u8]) -> Option<String> {
        compute_response(&ResponseInput {
            algorithm: &self.algorithm,
            ha1,
            nonce: &self.nonce,
            nc: self.nc,
            cnonce: self.cnonce.as_deref(),
            qop: self.qop.as_deref(),
            method,
            uri: &self.uri,
            body,
        })
    }

    /// Constant-time check of `response` against the stored HA1.
    pub fn verify(&self, method: &str, ha1: &str, body: &[u8]) -> bool {
        self.expected(method, ha1, body)
            .is_some_and(|e| ct_eq(e.as_bytes(), self.response.to_ascii_lowercase().as_bytes()))
    }
}

/// HA1 = H(username:realm:password) in hex for the base algorithm: what a registrar
/// stores per user, realm and algorithm instead of the password.
pub fn ha1(algorithm: &Algorithm, username: &str, realm: &str, password: &str) -> Option<String> {
    algorithm.hash(format!("{username}:{realm}:{password}").as_bytes())
}

/// Everything the response hash covers.
pub struct ResponseInput<'a> {
    pub algorithm: &'a Algorithm,
    /// Stored HA1 (hex) for the base algorithm.
    pub ha1: &'a str,
    pub nonce: &'a str,
    pub nc: Option<u32>,
    pub cnonce: Option<&'a str>,
    pub qop: Option<&'a str>,
    pub method: &'a str,
    pub uri: &'a str,
    pub body: &'a [u8],
}

/// The digest `response` value (hex). None for unknown algorithms/qop.
pub fn compute_response(i: &ResponseInput<'_>) -> Option<String> {
    let alg = i.algorithm;
    let ha1 = if alg.is_sess() {
        alg.hash(format!("{}:{}:{}", i.ha1, i.nonce, i.cnonce?).as_bytes())?
    } else {
        i.ha1.to_ascii_lowercase()
    };
    let ha2 = match i.qop {
        Some(q) if q.eq_ignore_ascii_case("auth-int") => {
            let hb = alg.hash(i.body)?;
            alg.hash(format!("{}:{}:{hb}", i.method, i.uri).as_bytes())?
        }
        Some(q) if !q.eq_ignore_ascii_case("auth") => return None,
        _ => alg.hash(format!("{}:{}", i.method, i.uri).as_bytes())?,
    };
    match i.qop {
        Some(q) => {
            alg.hash(format!("{ha1}:{}:{:08x}:{}:{q}:{ha2}", i.nonce, i.nc?, i.cnonce?).as_bytes())
        }
        None => alg.hash(format!("{ha1}:{}:{ha2}", i.nonce).as_bytes()),
    }
}

/// What a client holds to answer challenges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Secret {
    /// A configured password (e.g. a trunk's): works for any realm and algorithm.
    Password(String),
    /// A precomputed HA1 for one realm and base algorithm.
    Ha1 {
        realm: String,
        algorithm: Algorithm,
        ha1: String,
    },
}

/// Client credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub secret: Secret,
}

impl Credentials {
    fn ha1_for(&self, realm: &str, alg: &Algorithm) -> Result<String, AuthError> {
        match &self.secret {
            Secret::Password(pw) => ha1(&alg.base(), &self.username, realm, pw)
                .ok_or_else(|| AuthError::UnsupportedAlgorithm(alg.to_string())),
            Secret::Ha1 {
                realm: r,
                algorithm,
                ha1,
            } if r == realm && *algorithm == alg.base() => Ok(ha1.clone()),
            Secret::Ha1 { .. } => Err(AuthError::NoCredentials),
        }
    }

    /// Builds the Authorization (or Proxy-Authorization) value answering `challenge`
    /// for a request `method uri`. The caller supplies a fresh random `cnonce` and the
    /// nonce count (1 for the first use of this nonce).
    pub fn authorize(
        &self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
        body: &[u8],
        cnonce: &str,
        nc: u32,
    ) -> Result<DigestResponse, AuthError> {
        if challenge.algorithm.strength() == 0 {
            return Err(AuthError::UnsupportedAlgorithm(
                challenge.algorithm.to_string(),
            ));
        }
        let ha1 = self.ha1_for(&challenge.realm, &challenge.algorithm)?;
        let qop = if challenge.qop.iter().any(|q| q.eq_ignore_ascii_case("auth")) {
            Some("auth".to_string())
        } else if challenge
            .qop
            .iter()
            .any(|q| q.eq_ignore_ascii_case("auth-int"))
        {
            Some("auth-int".to_string())
        } else {
            None
        };
        let use_cnonce = qop.is_some() || challenge.algorithm.is_sess();
        let mut r = DigestResponse {
            username: self.username.clone(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_string(),
            response: String::new(),
            algorithm: challenge.algorithm.clone(),
            cnonce: use_cnonce.then(|| cnonce.to_string()),
            nc: qop.as_ref().map(|_| nc),
            qop,
            opaque: challenge.opaque.clone(),
        };
        r.response = r
            .expected(method, &ha1, body)
            .ok_or(AuthError::Malformed("cannot compute response"))?;
        Ok(r)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[usize::from(b >> 4)] as char);
        s.push(D[usize::from(b & 15)] as char);
    }
    s
}

/// Constant-time equality for secrets of public length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_md5_qop_auth() {
        // RFC 2617 §3.5 (HTTP, but the same computation).
        let ha1 = ha1(
            &Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        )
        .unwrap();
        let r = compute_response(&ResponseInput {
            algorithm: &Algorithm::Md5,
            ha1: &ha1,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            nc: Some(1),
            cnonce: Some("0a4f113b"),
            qop: Some("auth"),
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        });
        assert_eq!(r.as_deref(), Some("6629fae49393a05397450978507c4ef1"));
    }

    #[test]
    fn rfc7616_example_sha256() {
        let ha1 = ha1(
            &Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        )
        .unwrap();
        let r = compute_response(&ResponseInput {
            algorithm: &Algorithm::Sha256,
            ha1: &ha1,
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            nc: Some(1),
            cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"),
            qop: Some("auth"),
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        });
        assert_eq!(
            r.as_deref(),
            Some("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        );
    }

    #[test]
    fn challenge_round_trip_and_pick_strongest() {
        let c = Challenge::parse(
            r#"Digest realm="atlanta.com", qop="auth,auth-int", nonce="84a4cc6f", opaque="", stale=FALSE, algorithm=MD5"#,
        )
        .unwrap();
        assert_eq!(c.qop, ["auth", "auth-int"]);
        assert!(!c.stale);
        assert_eq!(Challenge::parse(&c.to_header_value()).unwrap(), c);
        let picked = pick_challenge([
            r#"Digest realm="a", nonce="1", algorithm=MD5"#,
            r#"Digest realm="a", nonce="2", algorithm=SHA-256"#,
            r#"Digest realm="a", nonce="3", algorithm=SHA-512-256"#,
            "Basic realm=x",
        ])
        .unwrap();
        assert_eq!(picked.nonce, "2");
        assert!(matches!(
            Challenge::parse("NoOneKnowsThisScheme opaque-data=here"),
            Err(AuthError::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn client_authorization_verifies_on_server() {
        let creds = Credentials {
            username: "alice".into(),
            secret: Secret::Password("s3cret".into()),
        };
        for alg in ["MD5", "SHA-256", "SHA-256-sess"] {
            let ch = Challenge::parse(&format!(
                r#"Digest realm="helpline", nonce="abc", qop="auth", algorithm={alg}"#
            ))
            .unwrap();
            let auth = creds
                .authorize(&ch, "REGISTER", "sip:helpline", b"", "cn1", 1)
                .unwrap();
            let parsed = DigestResponse::parse(&auth.to_header_value()).unwrap();
            assert_eq!(parsed, auth);
            let stored = ha1(&ch.algorithm.base(), "alice", "helpline", "s3cret").unwrap();
            assert!(parsed.verify("REGISTER", &stored, b""), "{alg}");
            let wrong = ha1(&ch.algorithm.base(), "alice", "helpline", "guess").unwrap();
            assert!(!parsed.verify("REGISTER", &wrong, b""));
            assert!(!parsed.verify("INVITE", &stored, b""));
        }
    }

    #[test]
    fn stored_ha1_only_answers_its_realm() {
        let h = ha1(&Algorithm::Md5, "bob", "r1", "pw").unwrap();
        let creds = Credentials {
            username: "bob".into(),
            secret: Secret::Ha1 {
                realm: "r1".into(),
                algorithm: Algorithm::Md5,
                ha1: h,
            },
        };
        let ch = Challenge::parse(r#"Digest realm="r2", nonce="n""#).unwrap();
        assert_eq!(
            creds.authorize(&ch, "INVITE", "sip:x", b"", "c", 1),
            Err(AuthError::NoCredentials)
        );
        let ch = Challenge::parse(r#"Digest realm="r1", nonce="n""#).unwrap();
        let a = creds
            .authorize(&ch, "INVITE", "sip:x", b"", "c", 1)
            .unwrap();
        assert_eq!((a.qop, a.nc, a.cnonce), (None, None, None));
    }
}
