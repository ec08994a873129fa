//! Which language skill a caller needs: the IVR speaks language codes (`en`, `es-MX`), queues
//! and agents name language skills as operators like (`english`, `spanish`, or `en`). A code
//! matches a language skill named exactly like it, or like its base code, or the language's
//! English name (ISO 639-1 for the languages a help desk is likely to staff).
use super::config::SkillDef;

/// ISO 639-1 code → English name, lower case.
const NAMES: &[(&str, &str)] = &[
    ("ar", "arabic"),
    ("ca", "catalan"),
    ("cs", "czech"),
    ("cy", "welsh"),
    ("da", "danish"),
    ("de", "german"),
    ("el", "greek"),
    ("en", "english"),
    ("es", "spanish"),
    ("eu", "basque"),
    ("fi", "finnish"),
    ("fr", "french"),
    ("ga", "irish"),
    ("gl", "galician"),
    ("he", "hebrew"),
    ("hi", "hindi"),
    ("hu", "hungarian"),
    ("it", "italian"),
    ("ja", "japanese"),
    ("ko", "korean"),
    ("nl", "dutch"),
    ("no", "norwegian"),
    ("pl", "polish"),
    ("pt", "portuguese"),
    ("ro", "romanian"),
    ("ru", "russian"),
    ("sv", "swedish"),
    ("tr", "turkish"),
    ("uk", "ukrainian"),
    ("zh", "chinese"),
];

/// The skill a caller speaking `lang` needs: a skill named `lang` itself (any skill, as the
/// router always accepted), else a language skill named after its base code or the
/// language's English name. None: no skill covers it.
pub fn skill_for<'a>(lang: &str, skills: &'a [SkillDef]) -> Option<&'a SkillDef> {
    let lang = lang.trim().to_ascii_lowercase();
    if let Some(s) = skills.iter().find(|s| s.name.eq_ignore_ascii_case(&lang)) {
        return Some(s);
    }
    let base = lang.split(['-', '_']).next().unwrap_or(&lang);
    let name = NAMES.iter().find(|(c, _)| *c == base).map(|(_, n)| *n);
    skills.iter().filter(|s| s.language).find(|s| {
        s.name.eq_ignore_ascii_case(base) || name.is_some_and(|n| s.name.eq_ignore_ascii_case(n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skills() -> Vec<SkillDef> {
        let s = |name: &str, language| SkillDef {
            name: name.into(),
            language,
        };
        vec![
            s("network", false),
            s("English", true),
            s("spanish", true),
            s("fr", true),
            s("de", false),
        ]
    }

    fn name(lang: &str) -> Option<String> {
        skill_for(lang, &skills()).map(|s| s.name.clone())
    }

    #[test]
    fn codes_find_language_skills_by_name_or_code() {
        assert_eq!(name("en").as_deref(), Some("English"));
        assert_eq!(name("es-MX").as_deref(), Some("spanish"));
        assert_eq!(name("fr_CA").as_deref(), Some("fr"));
        assert_eq!(name("spanish").as_deref(), Some("spanish"));
    }

    #[test]
    fn uncovered_languages_and_non_language_skills_do_not_match() {
        assert_eq!(name("it"), None, "nobody declared italian");
        assert_eq!(name("de-AT"), None, "`de` is not a language skill here");
        assert_eq!(
            name("de").as_deref(),
            Some("de"),
            "an exact name is taken as asked"
        );
    }
}
