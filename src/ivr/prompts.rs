//! Which recorded prompts exist per language (`prompts/<lang>/<name>.wav`). The checker asks a
//! `PromptCatalog`; `PromptSet` is one built from a directory scan or from `prompts.txt`.

use std::collections::HashSet;
use std::io;
use std::path::Path;

/// Answers whether a prompt recording exists.
pub trait PromptCatalog {
    fn has(&self, lang: &str, name: &str) -> bool;
}

/// A set of (language, prompt name) pairs.
#[derive(Debug, Clone, Default)]
pub struct PromptSet {
    set: HashSet<(String, String)>,
}

impl PromptSet {
    pub fn insert(&mut self, lang: &str, name: &str) {
        self.set.insert((lang.to_string(), name.to_string()));
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Scans `root/<lang>/<name>.wav`.
    pub fn from_dir(root: &Path) -> io::Result<Self> {
        let mut out = PromptSet::default();
        for lang_dir in std::fs::read_dir(root)? {
            let lang_dir = lang_dir?;
            if !lang_dir.file_type()?.is_dir() {
                continue;
            }
            let lang = lang_dir.file_name().to_string_lossy().into_owned();
            for file in std::fs::read_dir(lang_dir.path())? {
                let path = file?.path();
                if path.extension().is_some_and(|e| e == "wav") {
                    if let Some(stem) = path.file_stem() {
                        out.insert(&lang, &stem.to_string_lossy());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Reads `prompts.txt` lines `name<TAB>text for langs[0]<TAB>text for langs[1]…`;
    /// blank lines and `#` comments are skipped, an empty text means no recording.
    pub fn from_prompts_txt(text: &str, langs: &[&str]) -> Self {
        let mut out = PromptSet::default();
        for line in text.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let Some(name) = cols.next() else { continue };
            for (lang, said) in langs.iter().zip(cols) {
                if !said.trim().is_empty() {
                    out.insert(lang, name.trim());
                }
            }
        }
        out
    }
}

impl PromptCatalog for PromptSet {
    fn has(&self, lang: &str, name: &str) -> bool {
        self.set.contains(&(lang.to_string(), name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_txt_columns_map_to_languages() {
        let set = PromptSet::from_prompts_txt(
            "# comment\nwelcome\tWelcome\tBienvenido\nonly_en\tHello\t\n",
            &["en", "es"],
        );
        assert!(set.has("es", "welcome"));
        assert!(set.has("en", "only_en"));
        assert!(!set.has("es", "only_en"));
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn directory_scan_finds_wavs_per_language() {
        let root = std::env::temp_dir().join(format!("ivr-prompts-{}", std::process::id()));
        std::fs::create_dir_all(root.join("en")).unwrap();
        std::fs::create_dir_all(root.join("es")).unwrap();
        std::fs::write(root.join("en/welcome.wav"), b"RIFF").unwrap();
        std::fs::write(root.join("es/notes.txt"), b"x").unwrap();
        let set = PromptSet::from_dir(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(set.has("en", "welcome"));
        assert!(!set.has("es", "notes"));
        assert_eq!(set.len(), 1);
    }
}
