//! Runs the RFC 4475 / RFC 5118 torture corpus (`../shared/sip-torture/`) through
//! parse + validate and checks each file's verdict; also feeds every truncation of
//! every file and random bytes to the parser, validator and stream framer.

use std::path::PathBuf;

use super::framing::{Frame, Framer};
use super::message::Message;
use super::validate::{validate_request, validate_response};

/// What a UAS does with one datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handed to the transaction/call layers.
    Accept,
    /// Answered statelessly with this status.
    Reply(u16),
    /// Dropped (responses we reject, requests we cannot answer).
    Drop(String),
}

pub(crate) fn outcome(data: &[u8]) -> Outcome {
    match Message::parse(data) {
        Err(e) => match e.error_response("t") {
            Some(r) => Outcome::Reply(r.status),
            None => Outcome::Drop(format!("unparsable: {}", e.reason)),
        },
        Ok(Message::Request(req)) => match validate_request(&req) {
            Ok(()) => Outcome::Accept,
            Err(rej) if req.top_via().is_ok() => Outcome::Reply(rej.status),
            Err(rej) => Outcome::Drop(format!("{} but no usable Via", rej.status)),
        },
        Ok(Message::Response(resp)) => match validate_response(&resp) {
            Ok(()) => Outcome::Accept,
            Err(why) => Outcome::Drop(why.to_string()),
        },
    }
}

fn corpus_dir() -> Option<PathBuf> {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/sip-torture");
    [beside, PathBuf::from("/work/shared/sip-torture")]
        .into_iter()
        .find(|p| p.join("index.tsv").is_file())
}

/// (file, verdict, why, bytes) of one corpus entry.
type Entry = (String, String, String, Vec<u8>);

/// Every corpus entry, or None if the corpus is absent.
fn corpus() -> Option<Vec<Entry>> {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "skipping: no ../shared/sip-torture beside the crate nor /work/shared/sip-torture"
        );
        return None;
    };
    let index = std::fs::read_to_string(dir.join("index.tsv")).ok()?;
    let mut out = Vec::new();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, _section, verdict, why] = cols[..] else {
            panic!("bad index line: {line}");
        };
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        out.push((file.into(), verdict.into(), why.into(), bytes));
    }
    Some(out)
}

/// Status codes the `why` text allows for a rejected request (3-digit 4xx–6xx).
fn allowed_codes(why: &str) -> Vec<u16> {
    why.split(|c: char| !c.is_ascii_digit())
        .filter(|t| t.len() == 3)
        .filter_map(|t| t.parse().ok())
        .filter(|c| (400..700).contains(c))
        .collect()
}

#[test]
fn torture_corpus_verdicts() {
    let Some(files) = corpus() else { return };
    assert_eq!(files.len(), 62);
    let mut failures = Vec::new();
    println!("{:<34} {:<7} outcome", "file", "verdict");
    for (file, verdict, why, bytes) in &files {
        let got = outcome(bytes);
        let is_response = bytes.starts_with(b"SIP/");
        let ok = match verdict.as_str() {
            "accept" if is_response => got == Outcome::Accept,
            "accept" => match got {
                Outcome::Accept => true,
                Outcome::Reply(s) => s != 400 && s >= 300,
                Outcome::Drop(_) => false,
            },
            "reject" if is_response => matches!(got, Outcome::Drop(_)),
            "reject" => match got {
                Outcome::Reply(s) => allowed_codes(why).contains(&s),
                Outcome::Drop(_) => true,
                Outcome::Accept => false,
            },
            "either" => true,
            other => panic!("unknown verdict {other}"),
        };
        println!(
            "{file:<34} {verdict:<7} {got:?}{}",
            if ok { "" } else { "   <-- WRONG" }
        );
        if !ok {
            failures.push(file.clone());
        }
    }
    assert!(failures.is_empty(), "wrong verdicts: {failures:?}");
}

/// Over a stream (TCP) each file is framed as the README's `TCP:` notes say.
#[test]
fn torture_corpus_over_tcp_framing() {
    let Some(files) = corpus() else { return };
    for (file, _, _, bytes) in &files {
        let mut f = Framer::new(65536);
        f.push(bytes);
        let first = f.next_frame();
        match file.as_str() {
            // Content-Length beyond the data, or a header section never ended: wait.
            "clerr.dat" | "baddn.dat" => assert_eq!(first, Ok(None), "{file}"),
            // Unframable: the connection must be closed.
            "ncl.dat" | "mcl01.dat" | "inv2543.dat" => assert!(first.is_err(), "{file}"),
            "dblreq.dat" => {
                assert!(matches!(first, Ok(Some(Frame::Message(_)))), "{file}");
                let second = f.next_frame();
                let Ok(Some(Frame::Message(m))) = second else {
                    panic!("dblreq: second message not framed: {second:?}");
                };
                assert!(m.starts_with(b"INVITE "), "{file}");
            }
            _ => assert!(
                matches!(first, Ok(Some(Frame::Message(_)))),
                "{file}: {first:?}"
            ),
        }
    }
}

fn exercise(data: &[u8]) {
    let _ = outcome(data);
    if let Ok(m) = Message::parse(data) {
        let h = m.headers();
        let _ = (
            h.vias(),
            h.contacts(),
            h.routes(),
            h.from(),
            h.to(),
            h.cseq(),
        );
        let _ = m.to_bytes();
        for (_, v) in h.iter() {
            let _ = super::auth::Challenge::parse(v);
            let _ = super::auth::DigestResponse::parse(v);
        }
        if let Ok(sdp) = std::str::from_utf8(m.body()) {
            let _ = super::sdp::SessionDescription::parse(sdp);
        }
    }
    let mut f = Framer::new(4096);
    f.push(data);
    while let Ok(Some(_)) = f.next_frame() {}
}

#[test]
fn every_truncation_of_every_corpus_file_is_survived() {
    let Some(files) = corpus() else { return };
    for (_, _, _, bytes) in &files {
        for end in 0..=bytes.len() {
            exercise(&bytes[..end]);
        }
    }
}

#[test]
fn random_and_mutated_bytes_are_survived() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(4475);
    for _ in 0..3000 {
        let len = rng.random_range(0..600);
        let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        exercise(&data);
    }
    // Mutations of real messages reach deeper code than pure noise.
    let Some(files) = corpus() else { return };
    let alphabet = b" \t\r\n:;,<>\"@[]%=?/0123456789abcSIP";
    for (_, _, _, bytes) in &files {
        for _ in 0..200 {
            let mut m = bytes.clone();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..m.len().max(1));
                let c = alphabet[rng.random_range(0..alphabet.len())];
                match rng.random_range(0..3) {
                    0 if at < m.len() => m[at] = c,
                    1 => m.insert(at.min(m.len()), c),
                    _ if at < m.len() => {
                        m.remove(at);
                    }
                    _ => {}
                }
            }
            exercise(&m);
        }
    }
}

fn corpus_message(name: &str) -> Option<Message> {
    let dir = corpus_dir()?;
    let bytes = std::fs::read(dir.join(name)).ok()?;
    Some(Message::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// What the accepted corpus messages must mean, not just that they parse.
#[test]
fn torture_corpus_meanings() {
    use super::message::{Contact, Method};
    let Some(wsinv) = corpus_message("wsinv.dat") else {
        return;
    };
    let h = wsinv.headers();
    assert_eq!(h.max_forwards(), Ok(Some(68)));
    assert_eq!(h.cseq().unwrap().seq, 9);
    assert_eq!(
        h.from().unwrap().display.as_deref(),
        Some("J Rosenberg \\\"")
    );
    assert_eq!(h.from().unwrap().tag(), Some("98asjd8"));
    assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
    let vias = h.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].host, "192.0.2.2");
    assert_eq!(vias[1].branch.as_deref(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch.as_deref(), Some("z9hG4bK30239"));
    assert_eq!(h.get("subject"), Some(""));
    assert_eq!(
        h.get("newfangledheader"),
        Some("newfangled value continued newfangled value")
    );
    let c = h.contact().unwrap().unwrap();
    assert_eq!(c.params.value("q"), Some("0.33"));
    assert_eq!(wsinv.body().len(), 150);

    let Some(esc02) = corpus_message("esc02.dat") else {
        return;
    };
    let r = esc02.as_request().unwrap();
    assert_eq!(r.method, Method::Other("RE%47IST%45R".into()));
    assert_eq!(r.headers.contacts().unwrap().len(), 2);
    assert_eq!(
        r.headers.get("c%6fntact"),
        Some("<sip:alias2@host2.example.com>")
    );

    let Some(escnull) = corpus_message("escnull.dat") else {
        return;
    };
    let users: Vec<String> = escnull
        .headers()
        .contacts()
        .unwrap()
        .into_iter()
        .filter_map(|c| match c {
            Contact::Addr(a) => a.uri.user().map(|u| u.into_owned()),
            Contact::Wildcard => None,
        })
        .collect();
    assert_eq!(users, ["\0", "\0\0"]);

    let Some(cp1) = corpus_message("cparam01.dat") else {
        return;
    };
    let c = cp1.headers().contact().unwrap().unwrap();
    assert!(c.params.contains("unknownparam"));
    assert!(!c.uri.params().unwrap().contains("unknownparam"));
    let Some(cp2) = corpus_message("cparam02.dat") else {
        return;
    };
    let c = cp2.headers().contact().unwrap().unwrap();
    assert!(c.uri.params().unwrap().contains("unknownparam"));

    let Some(rt) = corpus_message("regescrt.dat") else {
        return;
    };
    let c = rt.headers().contact().unwrap().unwrap();
    assert_eq!(
        c.uri.to_string(),
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );

    let Some(semi) = corpus_message("semiuri.dat") else {
        return;
    };
    let r = semi.as_request().unwrap();
    assert_eq!(r.uri.host(), Some("example.com"));
    assert_eq!(r.uri.user().unwrap(), "user;par=u@example.net");

    let Some(amb) = corpus_message("port-ambiguous.dat") else {
        return;
    };
    let u = amb.as_request().unwrap().uri.as_sip().unwrap().clone();
    assert_eq!((u.host.as_str(), u.port), ("[2001:db8::10:5070]", None));

    let Some(rcv) = corpus_message("via-received-param-with-delim.dat") else {
        return;
    };
    assert_eq!(
        rcv.top_via().unwrap().received.as_deref(),
        Some("[2001:db8::9:255]")
    );

    let Some(dbl) = corpus_message("dblreq.dat") else {
        return;
    };
    assert_eq!(dbl.as_request().unwrap().method, Method::Register);
    assert!(dbl.body().is_empty());

    let Some(unr) = corpus_message("unreason.dat") else {
        return;
    };
    let resp = unr.as_response().unwrap();
    assert_eq!(resp.status, 200);
    assert!(!resp.reason.is_ascii());

    let Some(mp) = corpus_message("mpart01.dat") else {
        return;
    };
    assert_eq!(mp.body().len(), 553);
}

/// Rejected requests come back with a response a peer can match (Via, tags, CSeq).
#[test]
fn torture_rejections_are_routable() {
    let Some(dir) = corpus_dir() else { return };
    let bytes = std::fs::read(dir.join("badvers.dat")).unwrap_or_default();
    let e = Message::parse(&bytes).unwrap_err();
    let r = e.error_response("abc").unwrap();
    assert_eq!(r.status, 505);
    assert_eq!(r.top_via().unwrap().branch.as_deref(), Some("z9hG4bKkdjuw"));
    assert_eq!(r.to_tag().as_deref(), Some("abc"));
    let wire = r.to_bytes();
    assert!(wire.starts_with(b"SIP/2.0 505 Version Not Supported\r\n"));

    let bytes = std::fs::read(dir.join("bext01.dat")).unwrap_or_default();
    let Ok(Message::Request(req)) = Message::parse(&bytes) else {
        panic!("bext01 must parse")
    };
    let rej = validate_request(&req).unwrap_err();
    let resp = rej.to_response(&req, "t");
    assert_eq!(resp.status, 420);
    assert_eq!(
        resp.headers.get("unsupported"),
        Some("nothingSupportsThis, nothingSupportsThisEither")
    );
}

/// The corpus SDP bodies parse; G.711 offers negotiate to the address they carry, the
/// G726-only IPv6 offers get no answer (488).
#[test]
fn torture_sdp_bodies_negotiate() {
    use super::sdp::SessionDescription;
    use super::sdp_negotiate::{answer, LocalMedia};
    let local = LocalMedia::new(std::net::Ipv4Addr::new(198, 51, 100, 7).into(), 20000);
    for (file, conn, want) in [
        ("ipv6-in-sdp.dat", "2001:db8::20", None),
        ("ipv4-mapped-ipv6.dat", "::ffff:192.0.2.2", None),
        ("mult-ip-in-sdp.dat", "192.0.2.1", Some("192.0.2.1")),
        ("esc01.dat", "192.0.2.1", Some("192.0.2.1")),
    ] {
        let Some(m) = corpus_message(file) else {
            return;
        };
        let text = std::str::from_utf8(m.body()).unwrap_or_else(|e| panic!("{file}: {e}"));
        let sd = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let first = sd.connection_for(&sd.media[0]).map(|c| c.address.as_str());
        assert_eq!(first, Some(conn), "{file}");
        let got = answer(&sd, &local).map(|(_, n)| n.remote_addr.to_string());
        assert_eq!(got.as_deref(), want, "{file}");
    }
}
