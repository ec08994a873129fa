//! Numbers as trunks and callers actually send them, for thirteen countries: every form of one
//! number must come out as the same E.164 key, so it matches the contact however it was stored.

use super::*;

/// (region the call comes in on, the E.164 key, forms as received)
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "GB",
        "+442079460000",
        &[
            "+44 20 7946 0000",
            "+44 (0)20 7946 0000",
            "020 7946 0000",
            "02079460000",
            "00442079460000",
            "442079460000",
            "tel:+44-20-7946-0000",
            "sip:+442079460000@trunk.example;user=phone",
            "sips:02079460000@host",
        ],
    ),
    (
        "IE",
        "+35312345678",
        &[
            "01 234 5678",
            "+353 1 234 5678",
            "00353 1 234 5678",
            "35312345678",
            "tel:+35312345678",
        ],
    ),
    (
        "US",
        "+12015550123",
        &[
            "(201) 555-0123",
            "1 201 555 0123",
            "+1 201-555-0123",
            "12015550123",
            "sip:+12015550123@gw",
            "011 1 201 555 0123",
        ],
    ),
    (
        "CA",
        "+15062345678",
        &[
            "(506) 234-5678",
            "1-506-234-5678",
            "+1 506 234 5678",
            "tel:+1-506-234-5678",
            "011 1 506 234 5678",
            "sip:5062345678@carrier",
        ],
    ),
    (
        "DE",
        "+4930123456",
        &[
            "030 123456",
            "+49 30 123456",
            "0049 30 123456",
            "4930123456",
            "sip:030123456@pbx",
            "tel:+49-30-123456",
        ],
    ),
    (
        "FR",
        "+33123456789",
        &[
            "01 23 45 67 89",
            "+33 1 23 45 67 89",
            "0033 1 23 45 67 89",
            "33123456789",
            "tel:+33-1-23-45-67-89",
            "sip:0123456789@trunk",
        ],
    ),
    (
        "IT",
        "+390212345678",
        &[
            "02 1234 5678",
            "+39 02 1234 5678",
            "0039 02 1234 5678",
            "390212345678",
            "tel:+39-02-12345678",
            "sip:0212345678@pbx",
        ],
    ),
    (
        "ES",
        "+34810123456",
        &[
            "810 12 34 56",
            "+34 810 12 34 56",
            "0034 810123456",
            "34810123456",
            "tel:+34810123456",
            "sip:+34810123456@gw",
        ],
    ),
    (
        "NL",
        "+31101234567",
        &[
            "010 123 4567",
            "+31 10 123 4567",
            "0031 10 1234567",
            "31101234567",
            "tel:+31-10-123-4567",
            "sip:0101234567@pbx",
        ],
    ),
    (
        "JP",
        "+81312345678",
        &[
            "03-1234-5678",
            "+81 3-1234-5678",
            "010 81 3 1234 5678",
            "81312345678",
            "tel:+81-3-1234-5678",
            "sip:0312345678@pbx",
        ],
    ),
    (
        "IN",
        "+917410410123",
        &[
            "074104 10123",
            "+91 74104 10123",
            "00 91 7410410123",
            "917410410123",
            "tel:+91-74104-10123",
            "sip:07410410123@gw",
        ],
    ),
    (
        "BR",
        "+551123456789",
        &[
            "(11) 2345-6789",
            "+55 11 2345-6789",
            "551123456789",
            "tel:+55-11-2345-6789",
            "0021 55 11 2345 6789",
            "sip:+551123456789@gw",
        ],
    ),
    (
        "AU",
        "+61212345678",
        &[
            "(02) 1234 5678",
            "+61 2 1234 5678",
            "0011 61 2 1234 5678",
            "61212345678",
            "tel:+61-2-1234-5678",
            "sip:0212345678@pbx",
        ],
    ),
];

#[test]
fn every_form_of_a_number_is_the_same_key_in_thirteen_countries() {
    let mut wrong = Vec::new();
    for (region, want, forms) in CASES {
        assert!(known_region(region), "{region}");
        for form in *forms {
            let got = normalise(form, region);
            if got.as_deref() != Some(*want) {
                wrong.push(format!("{region} {form:?} → {got:?}, want {want}"));
            }
        }
        let n = parse(want, region).unwrap_or_else(|| panic!("{want} parses"));
        assert!(n.valid, "{want} is a valid {region} number");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_number_from_abroad_keeps_its_own_country() {
    // A British centre called from Italy and the US: the caller's own country wins.
    assert_eq!(
        normalise("+39 06 1234 5678", "GB").as_deref(),
        Some("+390612345678"),
        "the Italian leading zero is significant"
    );
    assert_eq!(
        normalise("001 201 555 0123", "GB").as_deref(),
        Some("+12015550123")
    );
    assert_eq!(
        normalise("011 44 20 7946 0000", "US").as_deref(),
        Some("+442079460000")
    );
    assert_eq!(
        normalise("0039 06 1234 5678", "GB").as_deref(),
        Some("+390612345678")
    );
}

#[test]
fn display_forms_for_the_pop() {
    let n = parse("02079460000", "GB").expect("parses");
    assert_eq!(n.national, "020 7946 0000");
    assert_eq!(n.international, "+44 20 7946 0000");
    assert_eq!(display("+390612345678").1, "+39 06 1234 5678");
}

#[test]
fn withheld_invalid_and_not_numbers_are_told_apart() {
    for w in [
        "anonymous",
        "sip:anonymous@anonymous.invalid",
        "Unknown",
        "",
        "tel:restricted",
    ] {
        assert_eq!(caller(w, "GB"), CallerNumber::Withheld, "{w:?}");
    }
    for n in [
        "sip:alice@example.com",
        "123",
        "+44 20 7946 0000 ext",
        "call\u{fffd}r",
    ] {
        assert_eq!(caller(n, "GB"), CallerNumber::NotANumber, "{n:?}");
    }
    // A possible but unassigned number is kept (it is who called) but flagged invalid.
    match caller("+1 201 055 0123", "GB") {
        CallerNumber::Number(n) => assert!(!n.valid, "{n:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_iso_region_and_no_made_up_ones() {
    for r in ["GB", "it", "JP", "BR", "ZA", "NZ", "SG"] {
        assert!(known_region(r), "{r}");
    }
    for r in ["XX", "", "England", "G B"] {
        assert!(!known_region(r), "{r}");
    }
}
