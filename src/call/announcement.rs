//! What a waiting caller hears when the router announces their place: "you are number 2 in
//! the queue. Your expected waiting time is about 4 minutes." (or "less than a minute", or
//! "we cannot estimate your waiting time yet" when nobody is staffed). Pure: the call task
//! resolves the items in the caller's language with [`crate::media::PromptLibrary::sequence`].

use crate::media::Say;
use std::time::Duration;

/// The spoken items for position `position` (1 = next) and expected wait `ewt_ms`
/// (None: unknown). The wait is said in whole minutes, rounded to the nearest.
pub fn items(position: u32, ewt_ms: Option<u64>) -> Vec<Say<'static>> {
    let mut out = vec![
        Say::Prompt("you-are-number"),
        Say::Number(position),
        Say::Prompt("in-the-queue"),
    ];
    match ewt_ms {
        None => out.push(Say::Prompt("wait-unknown")),
        Some(ms) if ms < 60_000 => {
            out.push(Say::Prompt("expected-wait"));
            out.push(Say::Prompt("less-than-a-minute"));
        }
        Some(ms) => {
            let minutes = (ms + 30_000) / 60_000;
            out.push(Say::Prompt("expected-wait"));
            out.push(Say::Prompt("about"));
            out.push(Say::Duration(Duration::from_secs(minutes * 60)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::PromptLibrary;

    fn names(lib: &PromptLibrary, lang: &str, position: u32, ewt: Option<u64>) -> Vec<String> {
        lib.sequence(lang, &items(position, ewt))
            .expect("every announcement prompt is in the sample set")
            .iter()
            .map(|p| format!("{}/{}", p.lang, p.name))
            .collect()
    }

    fn sample() -> PromptLibrary {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/prompts");
        let (lib, errors) = PromptLibrary::load_dir(&dir, "en").expect("sample prompts load");
        assert!(errors.is_empty(), "{errors:?}");
        lib
    }

    #[test]
    fn position_and_wait_in_minutes_rounded_to_the_nearest() {
        let lib = sample();
        assert_eq!(
            names(&lib, "en", 2, Some(230_000)),
            [
                "en/you-are-number",
                "en/2",
                "en/in-the-queue",
                "en/expected-wait",
                "en/about",
                "en/4",
                "en/minutes"
            ]
        );
        assert_eq!(
            names(&lib, "en", 1, Some(80_000))[4..],
            ["en/about", "en/1", "en/minute"]
        );
    }

    #[test]
    fn spanish_callers_hear_it_all_in_spanish() {
        let lib = sample();
        let seq = names(&lib, "es", 21, Some(60_000));
        assert_eq!(
            seq,
            [
                "es/you-are-number",
                "es/21",
                "es/in-the-queue",
                "es/expected-wait",
                "es/about",
                "es/un",
                "es/minute"
            ]
        );
        for ewt in [None, Some(10_000), Some(45 * 60_000)] {
            let seq = names(&lib, "es", 3, ewt);
            assert!(seq.iter().all(|n| n.starts_with("es/")), "{seq:?}");
        }
    }

    #[test]
    fn short_and_unknown_waits_are_said_without_a_figure() {
        let lib = sample();
        assert_eq!(
            names(&lib, "en", 1, Some(59_999))[3..],
            ["en/expected-wait", "en/less-than-a-minute"]
        );
        assert_eq!(names(&lib, "en", 1, None)[3..], ["en/wait-unknown"]);
    }
}
