//! Reads every `*.toml` file of a dialplan directory (sorted by name, so output is stable) and
//! builds each; file I/O happens here and nowhere else in the IVR.

use crate::diag::Diagnostic;
use crate::ivr::build::parse_dialplan;
use crate::ivr::model::Dialplan;
use std::path::Path;

/// Loads a directory: the plans that built, and every problem found.
pub fn load_dir(dir: &Path) -> (Vec<Dialplan>, Vec<Diagnostic>) {
    let mut plans = Vec::new();
    let mut diags = Vec::new();
    let io_diag = |path: &Path, e: std::io::Error| Diagnostic {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}; check the path and permissions"),
    };
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => return (plans, vec![io_diag(dir, e)]),
    };
    files.sort();
    if files.is_empty() {
        diags.push(Diagnostic {
            file: dir.to_path_buf(),
            line: 1,
            column: 1,
            message: "no dialplan files (*.toml) in this directory; add one or point to the right directory".into(),
        });
    }
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => match parse_dialplan(&path, &text) {
                Ok(plan) => plans.push(plan),
                Err(d) => diags.extend(d),
            },
            Err(e) => diags.push(io_diag(&path, e)),
        }
    }
    (plans, diags)
}
