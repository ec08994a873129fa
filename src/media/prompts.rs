//! The prompt library: every `prompts/<lang>/<name>.wav` decoded into memory (8 kHz mono) at
//! start or reload, so playback never touches the disk; lookups fall back to a default
//! language; `sequence` turns "you are number" + 3 + "in the queue" into prompts to play.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::numbers;
use super::wav::{self, WavError};

/// One decoded prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Language directory it came from.
    pub lang: String,
    /// File stem.
    pub name: String,
    /// 8 kHz mono samples.
    pub samples: Arc<[i16]>,
}

impl Prompt {
    /// A prompt from samples already at 8 kHz.
    pub fn new(lang: &str, name: &str, samples: Vec<i16>) -> Arc<Prompt> {
        Arc::new(Prompt {
            lang: lang.into(),
            name: name.into(),
            samples: samples.into(),
        })
    }

    /// Playing time.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.samples.len() as u64 * 1000 / wav::RATE as u64)
    }
}

/// One element of a sequence to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say<'a> {
    /// A named prompt.
    Prompt(&'a str),
    /// A number in words ("forty two").
    Number(u32),
    /// Digit by digit ("four two").
    Digits(&'a str),
    /// Minutes and seconds.
    Duration(Duration),
}

/// A prompt missing in both the asked and the fallback language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPrompt {
    /// Language asked for.
    pub lang: String,
    /// Fallback language also tried.
    pub fallback: String,
    /// Prompt name.
    pub name: String,
}

impl fmt::Display for MissingPrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "prompt `{}` is missing for language `{}` and fallback `{}`; add prompts/{}/{}.wav",
            self.name, self.lang, self.fallback, self.lang, self.name
        )
    }
}

impl std::error::Error for MissingPrompt {}

/// All prompts, by language then name.
#[derive(Debug, Clone, Default)]
pub struct PromptLibrary {
    langs: HashMap<String, HashMap<String, Arc<Prompt>>>,
    fallback: String,
}

impl PromptLibrary {
    /// Empty library with a fallback language.
    pub fn new(fallback: &str) -> Self {
        PromptLibrary {
            langs: HashMap::new(),
            fallback: fallback.into(),
        }
    }

    /// Loads `root/<lang>/<name>.wav`. Blocking file I/O: call at start or from a blocking task.
    /// Bad files are skipped and returned as errors (the rest still loads); an unreadable root
    /// is an error of its own.
    pub fn load_dir(root: &Path, fallback: &str) -> Result<(Self, Vec<WavError>), WavError> {
        let mut lib = PromptLibrary::new(fallback);
        let mut errors = Vec::new();
        let root_err = |e: std::io::Error| WavError {
            file: root.to_path_buf(),
            problem: format!("cannot read prompt directory: {e}"),
        };
        let mut dirs: Vec<_> = std::fs::read_dir(root)
            .map_err(root_err)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let Some(lang) = dir.file_name().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    errors.push(WavError {
                        file: dir.clone(),
                        problem: format!("cannot read directory: {e}"),
                    });
                    continue;
                }
            };
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                let is_wav = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
                let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                if !is_wav {
                    continue;
                }
                let loaded = std::fs::read(&path)
                    .map_err(|e| WavError {
                        file: path.clone(),
                        problem: format!("cannot read: {e}"),
                    })
                    .and_then(|bytes| wav::decode(&bytes, &path));
                match loaded {
                    Ok(samples) => lib.insert(&lang, name, samples),
                    Err(e) => errors.push(e),
                }
            }
        }
        Ok((lib, errors))
    }

    /// Adds or replaces a prompt (samples at 8 kHz).
    pub fn insert(&mut self, lang: &str, name: &str, samples: Vec<i16>) {
        self.langs
            .entry(lang.to_owned())
            .or_default()
            .insert(name.to_owned(), Prompt::new(lang, name, samples));
    }

    /// Languages loaded, sorted.
    pub fn languages(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.langs.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Prompt names per language, sorted (for `check` commands and reports).
    pub fn inventory(&self) -> BTreeMap<&str, Vec<&str>> {
        self.langs
            .iter()
            .map(|(l, m)| {
                let mut names: Vec<&str> = m.keys().map(String::as_str).collect();
                names.sort_unstable();
                (l.as_str(), names)
            })
            .collect()
    }

    /// Total prompts loaded.
    pub fn len(&self) -> usize {
        self.langs.values().map(HashMap::len).sum()
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The prompt in `lang` (or its base, `es-MX` → `es`), else in the fallback language.
    pub fn get(&self, lang: &str, name: &str) -> Option<Arc<Prompt>> {
        let base = lang.split(['-', '_']).next().unwrap_or(lang);
        [lang, base, self.fallback.as_str()]
            .iter()
            .find_map(|l| self.langs.get(*l).and_then(|m| m.get(name)).cloned())
    }

    fn need(&self, lang: &str, name: &str) -> Result<Arc<Prompt>, MissingPrompt> {
        self.get(lang, name).ok_or_else(|| MissingPrompt {
            lang: lang.into(),
            fallback: self.fallback.clone(),
            name: name.into(),
        })
    }

    /// Resolves a sequence to prompts; all-or-nothing so a caller never hears half a sentence.
    pub fn sequence(
        &self,
        lang: &str,
        items: &[Say<'_>],
    ) -> Result<Vec<Arc<Prompt>>, MissingPrompt> {
        let mut out = Vec::new();
        for item in items {
            let names = match *item {
                Say::Prompt(name) => vec![name.to_owned()],
                Say::Number(n) => self.number_names(lang, n),
                Say::Digits(d) => numbers::digits(d),
                Say::Duration(d) => numbers::duration(self.rules_lang(lang), d.as_secs()),
            };
            for name in names {
                out.push(self.need(lang, &name)?);
            }
        }
        Ok(out)
    }

    /// The language whose number rules apply: the asked one if it has its own prompts.
    fn rules_lang<'a>(&'a self, lang: &'a str) -> &'a str {
        let base = lang.split(['-', '_']).next().unwrap_or(lang);
        if self.langs.contains_key(lang) || self.langs.contains_key(base) {
            lang
        } else {
            &self.fallback
        }
    }

    fn number_names(&self, lang: &str, n: u32) -> Vec<String> {
        let names = numbers::number(self.rules_lang(lang), n);
        // A set without the word prompts still counts: fall back to digit by digit.
        if names.iter().all(|name| self.get(lang, name).is_some()) {
            names
        } else {
            numbers::digits(&n.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib() -> PromptLibrary {
        let mut lib = PromptLibrary::new("en");
        for name in [
            "you-are-number",
            "in-the-queue",
            "3",
            "40",
            "2",
            "minutes",
            "minute",
        ] {
            lib.insert("en", name, vec![1; 80]);
        }
        for name in ["you-are-number", "in-the-queue", "3", "40", "y", "2"] {
            lib.insert("es", name, vec![2; 80]);
        }
        lib
    }

    fn langs(v: &[Arc<Prompt>]) -> Vec<String> {
        v.iter().map(|p| format!("{}/{}", p.lang, p.name)).collect()
    }

    #[test]
    fn queue_position_sentence() {
        let lib = lib();
        let seq = lib
            .sequence(
                "es",
                &[
                    Say::Prompt("you-are-number"),
                    Say::Number(3),
                    Say::Prompt("in-the-queue"),
                ],
            )
            .unwrap();
        assert_eq!(
            langs(&seq),
            ["es/you-are-number", "es/3", "es/in-the-queue"]
        );
        let seq = lib.sequence("es-MX", &[Say::Number(42)]).unwrap();
        assert_eq!(langs(&seq), ["es/40", "es/y", "es/2"]);
    }

    #[test]
    fn falls_back_to_default_language() {
        let lib = lib();
        let seq = lib
            .sequence("es", &[Say::Duration(Duration::from_secs(180))])
            .unwrap();
        assert_eq!(langs(&seq), ["es/3", "en/minutes"]);
        let seq = lib.sequence("de", &[Say::Prompt("in-the-queue")]).unwrap();
        assert_eq!(langs(&seq), ["en/in-the-queue"]);
    }

    #[test]
    fn missing_prompt_names_it_and_says_how_to_fix() {
        let err = lib().sequence("es", &[Say::Prompt("goodbye")]).unwrap_err();
        assert_eq!(err.name, "goodbye");
        assert!(err.to_string().contains("add prompts/es/goodbye.wav"));
    }

    #[test]
    fn numbers_without_word_prompts_are_said_as_digits() {
        let mut lib = PromptLibrary::new("en");
        for d in 0..10 {
            lib.insert("en", &d.to_string(), vec![0; 8]);
        }
        let seq = lib.sequence("en", &[Say::Number(42)]).unwrap();
        assert_eq!(langs(&seq), ["en/4", "en/2"]);
    }

    #[test]
    fn loads_directory_and_reports_bad_files_without_failing() {
        let dir = std::env::temp_dir().join(format!("prompts-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("en")).unwrap();
        std::fs::create_dir_all(dir.join("es")).unwrap();
        std::fs::write(dir.join("en/welcome.wav"), wav::encode(1, 8000, &[5; 400])).unwrap();
        std::fs::write(dir.join("es/welcome.wav"), wav::encode(1, 16000, &[5; 800])).unwrap();
        std::fs::write(dir.join("es/broken.wav"), b"RIFF\0\0\0\0WAVEjunk").unwrap();
        std::fs::write(dir.join("es/readme.txt"), b"not audio").unwrap();
        let (lib, errors) = PromptLibrary::load_dir(&dir, "en").unwrap();
        assert_eq!(lib.languages(), ["en", "es"]);
        assert_eq!(lib.len(), 2);
        assert_eq!(lib.get("es", "welcome").unwrap().samples.len(), 400);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].file.ends_with("es/broken.wav"));
        assert!(PromptLibrary::load_dir(&dir.join("nope"), "en").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
