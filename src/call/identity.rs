//! Who is calling and which support line they dialled, from an INVITE (pure functions).

use crate::config::IpNet;
use crate::phone;
use crate::sip::message::{NameAddr, Request};
use std::net::IpAddr;

/// Longest caller/called string stored in an event or shown anywhere, in characters.
pub const MAX_IDENTITY_CHARS: usize = 128;

/// `s` cut to [`MAX_IDENTITY_CHARS`] characters, ending in `…` when cut: identities come
/// from the network (a 30 KB From) and are stored with every event.
pub fn capped(s: String) -> String {
    if s.len() <= MAX_IDENTITY_CHARS || s.chars().count() <= MAX_IDENTITY_CHARS {
        return s;
    }
    let mut out: String = s.chars().take(MAX_IDENTITY_CHARS - 1).collect();
    out.push('…');
    out
}

/// The dialled number in E.164: from the Request-URI user, else P-Called-Party-ID, else To.
pub fn dialled_number(req: &Request, region: &str) -> Option<String> {
    let from_uri =
        |u: &crate::sip::message::Uri| u.user().and_then(|u| phone::normalise(&u, region));
    from_uri(&req.uri)
        .or_else(|| {
            req.headers
                .get("p-called-party-id")
                .and_then(|v| NameAddr::parse(v).ok())
                .and_then(|na| from_uri(&na.uri))
        })
        .or_else(|| req.to().ok().and_then(|na| from_uri(&na.uri)))
}

/// The caller's identity: P-Asserted-Identity only when the request came from a trusted trunk,
/// else the From user. Returned normalised to E.164 when it is a number, else as written.
/// The flag says whether it was asserted by a trusted trunk.
pub fn caller_identity(
    req: &Request,
    source: IpAddr,
    trusted: &[IpNet],
    region: &str,
) -> (String, bool) {
    let norm = |na: &NameAddr| {
        let user = na.uri.user().map(|u| u.into_owned()).unwrap_or_default();
        phone::normalise(&user, region).unwrap_or(user)
    };
    if trusted.iter().any(|n| n.contains(source)) {
        if let Some(pai) = req
            .headers
            .get_all("p-asserted-identity")
            .filter_map(|v| NameAddr::parse(v).ok())
            .next()
        {
            return (capped(norm(&pai)), true);
        }
    }
    (
        capped(req.from().map(|f| norm(&f)).unwrap_or_default()),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;

    fn invite(ruri: &str, extra: &str) -> Request {
        let text = format!(
            "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
             From: \"Bob\" <sip:+442079461111@trunk>;tag=1\r\nTo: <sip:support@helpline>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dialled_number_from_request_uri_in_any_format() {
        assert_eq!(
            dialled_number(&invite("sip:02079460000@h", ""), "GB").as_deref(),
            Some("+442079460000")
        );
        assert_eq!(
            dialled_number(&invite("tel:+44-20-7946-0000", ""), "GB").as_deref(),
            Some("+442079460000")
        );
    }

    #[test]
    fn dialled_number_falls_back_to_called_party_id() {
        let r = invite(
            "sip:support@h",
            "P-Called-Party-ID: <sip:+18005550100@h>\r\n",
        );
        assert_eq!(dialled_number(&r, "GB").as_deref(), Some("+18005550100"));
    }

    #[test]
    fn asserted_identity_only_from_trusted_trunks() {
        let r = invite(
            "sip:+442079460000@h",
            "P-Asserted-Identity: <sip:+15551230000@trunk>\r\n",
        );
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        assert_eq!(
            caller_identity(&r, "10.1.1.1".parse().unwrap(), &trusted, "GB"),
            ("+15551230000".into(), true)
        );
        assert_eq!(
            caller_identity(&r, "192.0.2.9".parse().unwrap(), &trusted, "GB"),
            ("+442079461111".into(), false)
        );
    }

    #[test]
    fn identities_are_capped_with_an_ellipsis() {
        assert_eq!(capped("+442079461111".into()), "+442079461111");
        let exact = "a".repeat(MAX_IDENTITY_CHARS);
        assert_eq!(capped(exact.clone()), exact);
        let long = capped("é".repeat(30_000));
        assert_eq!(long.chars().count(), MAX_IDENTITY_CHARS);
        assert!(long.ends_with('…'));
        let huge_from = format!("sip:{}@trunk", "9".repeat(30_000));
        let mut r = invite("sip:+442079460000@h", "");
        r.headers.set("from", format!("<{huge_from}>;tag=1"));
        let (who, _) = caller_identity(&r, "192.0.2.9".parse().unwrap(), &[], "GB");
        assert!(who.chars().count() <= MAX_IDENTITY_CHARS, "{}", who.len());
    }
}
