use super::*;
use crate::sip::auth::{pick_challenge, Algorithm, Credentials, Secret};
use crate::sip::message::Message;

const T0: u64 = 1_700_000_000;
const REALM: &str = "helpline.test";

struct Users;
impl CredentialLookup for Users {
    fn ha1(&self, username: &str, algorithm: &str) -> Option<String> {
        let alg = if algorithm == "SHA-256" {
            Algorithm::Sha256
        } else {
            Algorithm::Md5
        };
        (username == "agent1" || username == "agent2")
            .then(|| crate::sip::auth::ha1(&alg, username, REALM, &format!("{username}-pw")))
            .flatten()
    }
}

fn registrar() -> Registrar {
    Registrar::new(
        Authenticator::new(REALM, b"0123456789abcdef0123456789abcdef", 300),
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        },
    )
}

fn peer() -> Peer {
    Peer::udp("192.0.2.10:5062".parse().unwrap())
}

fn register(aor: &str, contact: &str, extra: &str, cseq: u32) -> Request {
    let text = format!(
        "REGISTER sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK{cseq}\r\n\
         From: <sip:{aor}@{REALM}>;tag=a\r\nTo: <sip:{aor}@{REALM}>\r\nCall-ID: reg-{aor}\r\n\
         CSeq: {cseq} REGISTER\r\nMax-Forwards: 70\r\nContact: {contact}\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    match Message::parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// Register `user` with `password`, answering the challenge the registrar gives.
fn authed(
    reg: &mut Registrar,
    user: &str,
    password: &str,
    contact: &str,
    extra: &str,
    cseq: u32,
) -> (Response, Vec<BindingChange>) {
    // Each exchange a second later: a fresh nonce, as a phone would get.
    let now = T0 + u64::from(cseq);
    let (challenge, _) = reg.on_register(
        &register(user, contact, extra, cseq),
        peer(),
        now,
        &Users,
        "t",
    );
    assert_eq!(challenge.status, 401);
    let ch = pick_challenge(challenge.headers.get_all("www-authenticate")).expect("challenge");
    let creds = Credentials {
        username: user.into(),
        secret: Secret::Password(password.into()),
    };
    let auth = creds
        .authorize(&ch, "REGISTER", &format!("sip:{REALM}"), b"", "cn", 1)
        .unwrap();
    let extra = format!("{extra}Authorization: {}\r\n", auth.to_header_value());
    reg.on_register(
        &register(user, contact, &extra, cseq + 1),
        peer(),
        now,
        &Users,
        "t",
    )
}

#[test]
fn unauthenticated_register_is_challenged_with_sha256_and_md5() {
    let mut reg = registrar();
    let (r, changes) = reg.on_register(
        &register("agent1", "<sip:agent1@192.0.2.10:5062>", "", 1),
        peer(),
        T0,
        &Users,
        "t",
    );
    assert_eq!(r.status, 401);
    let algs: Vec<String> = r
        .headers
        .get_all("www-authenticate")
        .map(str::to_string)
        .collect();
    assert!(
        algs[0].contains("SHA-256") && algs[1].contains("MD5"),
        "{algs:?}"
    );
    assert!(changes.is_empty());
}

#[test]
fn right_password_binds_with_source_and_wrong_one_does_not() {
    let mut reg = registrar();
    let (r, changes) = authed(
        &mut reg,
        "agent1",
        "agent1-pw",
        "<sip:agent1@10.0.0.5:5062>",
        "Expires: 600\r\n",
        1,
    );
    assert_eq!(r.status, 200);
    assert_eq!(changes.len(), 1);
    let b = &reg.lookup("agent1", T0)[0];
    assert_eq!(
        b.source,
        peer(),
        "calls go where the REGISTER came from (NAT)"
    );
    assert_eq!(b.expires_at, T0 + 1 + 600);
    let (r, changes) = authed(&mut reg, "agent2", "nope", "<sip:agent2@10.0.0.6>", "", 1);
    assert_eq!(r.status, 401);
    assert!(changes.is_empty() && reg.lookup("agent2", T0).is_empty());
}

#[test]
fn credentials_of_one_user_cannot_register_another() {
    let mut reg = registrar();
    let (challenge, _) = reg.on_register(
        &register("agent2", "<sip:x@h>", "", 1),
        peer(),
        T0,
        &Users,
        "t",
    );
    let ch = pick_challenge(challenge.headers.get_all("www-authenticate")).unwrap();
    let creds = Credentials {
        username: "agent1".into(),
        secret: Secret::Password("agent1-pw".into()),
    };
    let auth = creds
        .authorize(&ch, "REGISTER", &format!("sip:{REALM}"), b"", "cn", 1)
        .unwrap();
    let extra = format!("Authorization: {}\r\n", auth.to_header_value());
    let (r, _) = reg.on_register(
        &register("agent2", "<sip:x@h>", &extra, 2),
        peer(),
        T0,
        &Users,
        "t",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn several_contacts_expiry_refresh_and_removal() {
    let mut reg = registrar();
    authed(
        &mut reg,
        "agent1",
        "agent1-pw",
        "<sip:a@10.0.0.1>",
        "Expires: 120\r\n",
        1,
    );
    authed(
        &mut reg,
        "agent1",
        "agent1-pw",
        "<sip:b@10.0.0.2>",
        "Expires: 300\r\n",
        3,
    );
    assert_eq!(reg.lookup("agent1", T0).len(), 2);
    assert_eq!(
        reg.lookup("agent1", T0 + 200).len(),
        1,
        "the 120 s binding lapsed"
    );
    let gone = reg.expire(T0 + 200);
    assert_eq!(
        gone,
        vec![BindingChange::Remove {
            aor: "agent1".into(),
            contact: "sip:a@10.0.0.1".into()
        }]
    );
    let (r, changes) = authed(&mut reg, "agent1", "agent1-pw", "*", "Expires: 0\r\n", 5);
    assert_eq!(r.status, 200);
    assert_eq!(changes.len(), 1);
    assert!(reg.lookup("agent1", T0).is_empty());
}

#[test]
fn too_brief_interval_and_out_of_order_cseq_are_refused() {
    let mut reg = registrar();
    let (r, _) = authed(
        &mut reg,
        "agent1",
        "agent1-pw",
        "<sip:a@10.0.0.1>",
        "Expires: 10\r\n",
        1,
    );
    assert_eq!(r.status, 423);
    assert_eq!(r.headers.get("min-expires"), Some("60"));
    let (r, _) = authed(&mut reg, "agent1", "agent1-pw", "<sip:a@10.0.0.1>", "", 10);
    assert_eq!(r.status, 200);
    let (r, _) = authed(&mut reg, "agent1", "agent1-pw", "<sip:a@10.0.0.1>", "", 3);
    assert_eq!(
        r.status, 500,
        "a lower CSeq on the same Call-ID is out of order"
    );
}
