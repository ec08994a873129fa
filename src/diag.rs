//! Diagnostics for operator-written files: `file:line:column: what and how to fix`.
//!
//! Every loader (server config, queues, dialplans) reports problems as [`Diagnostic`]s so that
//! `helpline check` and a refused live reload print the same thing.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl Diagnostic {
    /// Line and column (1-based) of byte offset `at` in `text`.
    pub fn at(file: impl Into<PathBuf>, text: &str, at: usize, message: impl Into<String>) -> Self {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
        Diagnostic {
            file: file.into(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A problem with a whole file (missing, unreadable): reported at line 1, column 1.
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: 1,
            column: 1,
            message: message.into(),
        }
    }

    /// Turn a TOML syntax or type error into a diagnostic at its span.
    pub fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> Self {
        let at = err.span().map_or(0, |s: Range<usize>| s.start);
        Diagnostic::at(file, text, at, err.message().trim().to_string())
    }
}

/// Print diagnostics one per line and say how many there were.
pub fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = x\n";
        let d = Diagnostic::at("f.toml", text, 11, "bad");
        assert_eq!((d.line, d.column), (2, 6));
        assert_eq!(d.to_string(), "f.toml:2:6: bad");
    }

    #[test]
    fn offset_past_end_is_clamped() {
        let d = Diagnostic::at("f", "abc", 99, "x");
        assert_eq!((d.line, d.column), (1, 4));
    }
}
