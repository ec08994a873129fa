//! The dialplan file as written: serde structs mirroring the TOML, every value `Spanned` so the
//! loader can point at `file:line:column`. `build` turns this into the typed `model`.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

pub type S<T> = Spanned<T>;

/// A whole dialplan file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub plan: Option<S<RawPlan>>,
    #[serde(default)]
    pub entry: Vec<S<RawEntry>>,
    #[serde(default)]
    pub hours: BTreeMap<S<String>, S<RawHours>>,
    #[serde(default)]
    pub nodes: BTreeMap<S<String>, S<RawNode>>,
}

/// `[plan]`: languages every prompt must exist in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub languages: S<Vec<S<String>>>,
    pub default_language: Option<S<String>>,
    pub description: Option<String>,
}

/// `[[entry]]`: a called number and where its calls start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    pub number: S<String>,
    pub start: S<String>,
    pub survey: Option<S<String>>,
    pub language: Option<S<String>>,
    pub description: Option<String>,
}

/// `[hours.NAME]`: opening ranges per weekday and holiday dates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHours {
    pub time_zone: S<String>,
    pub mon: Option<Vec<S<String>>>,
    pub tue: Option<Vec<S<String>>>,
    pub wed: Option<Vec<S<String>>>,
    pub thu: Option<Vec<S<String>>>,
    pub fri: Option<Vec<S<String>>>,
    pub sat: Option<Vec<S<String>>>,
    pub sun: Option<Vec<S<String>>>,
    #[serde(default)]
    pub holidays: Vec<S<String>>,
}

/// `[nodes.NAME]`: every field any kind may use; `build` refuses fields the kind does not take.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub kind: S<String>,
    /// What passing this node means, in words for the agent's pop ("Chose English").
    pub description: Option<String>,
    pub prompt: Option<S<PromptList>>,
    pub barge_in: Option<S<bool>>,
    pub next: Option<S<String>>,
    // menu / collect / survey / callback_offer
    pub choices: Option<S<BTreeMap<S<String>, S<String>>>>,
    pub timeout_secs: Option<S<u32>>,
    pub retries: Option<S<u32>>,
    pub invalid_prompt: Option<S<PromptList>>,
    pub timeout_prompt: Option<S<PromptList>>,
    pub fallback: Option<S<String>>,
    // collect
    pub min_len: Option<S<u32>>,
    pub max_len: Option<S<u32>>,
    pub terminator: Option<S<String>>,
    pub inter_digit_timeout_secs: Option<S<u32>>,
    pub patterns: Option<S<Vec<S<String>>>>,
    pub lookup: Option<S<String>>,
    pub var: Option<S<String>>,
    pub on_invalid: Option<S<String>>,
    pub on_not_found: Option<S<String>>,
    // set / enqueue
    pub vars: Option<S<BTreeMap<S<String>, S<String>>>>,
    pub language: Option<S<String>>,
    pub skills: Option<S<BTreeMap<S<String>, S<u8>>>>,
    pub priority: Option<S<u8>>,
    pub tags: Option<S<Vec<S<String>>>>,
    // branch
    pub when: Option<S<Vec<S<RawWhen>>>>,
    pub default: Option<S<String>>,
    // enqueue / callback_offer
    pub queue: Option<S<String>>,
    pub accept_digit: Option<S<String>>,
    pub on_accept: Option<S<String>>,
    // voicemail
    pub max_secs: Option<S<u32>>,
    // transfer
    pub number: Option<S<String>>,
    pub on_refused: Option<S<String>>,
    // hangup
    pub reason: Option<S<String>>,
}

/// One branch rule: all given conditions must hold, then go to `goto`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub goto: S<String>,
    pub in_hours: Option<S<String>>,
    pub holiday: Option<S<String>>,
    pub caller_known: Option<bool>,
    pub vip: Option<bool>,
    pub open_ticket: Option<bool>,
    pub ticket_priority: Option<S<String>>,
    pub language: Option<S<String>>,
    pub var: Option<S<String>>,
    pub equals: Option<S<String>>,
    pub is_set: Option<bool>,
}

/// `prompt = "name"` or `prompt = ["a", "b"]`; items carry their own span when written as a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptList(pub Vec<(String, Option<std::ops::Range<usize>>)>);

impl<'de> Deserialize<'de> for PromptList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PromptList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a prompt name or a list of prompt names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PromptList, E> {
                Ok(PromptList(vec![(v.to_string(), None)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PromptList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<S<String>>()? {
                    let span = item.span();
                    out.push((item.into_inner(), Some(span)));
                }
                Ok(PromptList(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_accepts_string_or_list_with_spans() {
        let text = "[nodes.a]\nkind = \"play\"\nprompt = [\"x\", \"y\"]\n[nodes.b]\nkind = \"play\"\nprompt = \"z\"\n";
        let f: RawFile = toml::from_str(text).unwrap();
        let a = f.nodes.iter().find(|(k, _)| k.get_ref() == "a").unwrap().1;
        let list = a.get_ref().prompt.as_ref().unwrap().get_ref();
        let span = list.0[1].1.clone().unwrap();
        assert_eq!(&text[span], "\"y\"");
        let b = f.nodes.iter().find(|(k, _)| k.get_ref() == "b").unwrap().1;
        let p = b.get_ref().prompt.as_ref().unwrap();
        assert_eq!(p.get_ref().0[0].0, "z");
        assert_eq!(&text[p.span()], "\"z\"");
    }

    #[test]
    fn unknown_field_error_points_at_the_key() {
        let text = "[nodes.a]\nkind = \"play\"\nnxt = \"b\"\n";
        let err = toml::from_str::<RawFile>(text).unwrap_err();
        let span = err.span().unwrap();
        assert_eq!(&text[span], "nxt");
        assert!(
            err.message().contains("unknown field `nxt`"),
            "{}",
            err.message()
        );
    }
}
