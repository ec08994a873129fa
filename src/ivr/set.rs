//! `DialplanSet`: an immutable, versioned snapshot of every dialplan, looked up by called number.
//! `LiveDialplans` holds the current `Arc<DialplanSet>` for the reload edge to swap atomically;
//! sessions keep the `Arc<Dialplan>` they started with, so running calls finish on their version.

use crate::diag::Diagnostic;
use crate::ivr::check::{check_all, CheckContext};
use crate::ivr::load::load_dir;
use crate::ivr::model::{Dialplan, EntryPoint};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A checked, immutable set of dialplans.
#[derive(Debug, Default)]
pub struct DialplanSet {
    version: u64,
    plans: Vec<Arc<Dialplan>>,
    /// Called number → (plan index, entry index).
    by_number: HashMap<String, (usize, usize)>,
}

/// Where a new call starts.
#[derive(Debug, Clone)]
pub struct Route {
    pub plan: Arc<Dialplan>,
    pub entry: usize,
}

impl Route {
    pub fn entry_point(&self) -> Option<&EntryPoint> {
        self.plan.entries.get(self.entry)
    }
}

impl DialplanSet {
    /// Checks `plans` and freezes them as `version`; any diagnostic refuses the whole set.
    pub fn build(
        plans: Vec<Dialplan>,
        cx: &CheckContext,
        version: u64,
    ) -> Result<Self, Vec<Diagnostic>> {
        let diags = check_all(&plans, cx);
        if !diags.is_empty() {
            return Err(diags);
        }
        Ok(Self::freeze(plans, cx, version))
    }

    /// Loads, builds and checks a directory; every problem in every file refuses the set.
    pub fn load(dir: &Path, cx: &CheckContext, version: u64) -> Result<Self, Vec<Diagnostic>> {
        let (plans, mut diags) = load_dir(dir);
        diags.extend(check_all(&plans, cx));
        if !diags.is_empty() {
            return Err(diags);
        }
        Ok(Self::freeze(plans, cx, version))
    }

    fn freeze(mut plans: Vec<Dialplan>, cx: &CheckContext, version: u64) -> Self {
        let mut by_number = HashMap::new();
        for (pi, plan) in plans.iter_mut().enumerate() {
            plan.version = version;
            plan.transfer_allow = cx.transfer_allow.clone();
            for (ei, e) in plan.entries.iter().enumerate() {
                by_number.insert(e.number.value.clone(), (pi, ei));
            }
        }
        DialplanSet {
            version,
            plans: plans.into_iter().map(Arc::new).collect(),
            by_number,
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn plans(&self) -> &[Arc<Dialplan>] {
        &self.plans
    }

    /// The plan and entry point for a called number.
    pub fn route(&self, called: &str) -> Option<Route> {
        let &(pi, entry) = self.by_number.get(called)?;
        Some(Route {
            plan: Arc::clone(self.plans.get(pi)?),
            entry,
        })
    }
}

/// The live plan set, swapped whole on reload. A refused reload keeps the old set and is counted.
#[derive(Debug)]
pub struct LiveDialplans {
    current: RwLock<Arc<DialplanSet>>,
    last_version: AtomicU64,
    refused: AtomicU64,
    last_error: Mutex<Vec<Diagnostic>>,
}

impl LiveDialplans {
    pub fn new(set: DialplanSet) -> Self {
        LiveDialplans {
            last_version: AtomicU64::new(set.version),
            current: RwLock::new(Arc::new(set)),
            refused: AtomicU64::new(0),
            last_error: Mutex::new(Vec::new()),
        }
    }

    /// The set new calls should use.
    pub fn current(&self) -> Arc<DialplanSet> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The version number the next reload will get.
    pub fn next_version(&self) -> u64 {
        self.last_version.load(Ordering::SeqCst) + 1
    }

    /// Installs a candidate set, or records why it was refused (the old set keeps running).
    pub fn install(
        &self,
        candidate: Result<DialplanSet, Vec<Diagnostic>>,
    ) -> Result<u64, Vec<Diagnostic>> {
        match candidate {
            Ok(set) => {
                let v = set.version;
                self.last_version.fetch_max(v, Ordering::SeqCst);
                let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
                *guard = Arc::new(set);
                drop(guard);
                self.last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                Ok(v)
            }
            Err(diags) => {
                self.refused.fetch_add(1, Ordering::SeqCst);
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = diags.clone();
                Err(diags)
            }
        }
    }

    /// Loads `dir` as the next version and installs it if it passes the check.
    pub fn reload(&self, dir: &Path, cx: &CheckContext) -> Result<u64, Vec<Diagnostic>> {
        let candidate = DialplanSet::load(dir, cx, self.next_version());
        self.install(candidate)
    }

    /// How many reloads were refused (for metrics).
    pub fn refused_count(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// Why the last reload was refused (empty after a good one), for supervisors.
    pub fn last_error(&self) -> Vec<Diagnostic> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivr::build::parse_dialplan;
    use crate::ivr::engine::testkit::AnyPrompt;
    use crate::ivr::pattern::AllowList;

    fn plan(number: &str) -> Dialplan {
        let text = format!("[plan]\nlanguages = [\"en\"]\n[[entry]]\nnumber = \"{number}\"\nstart = \"q\"\n[nodes.q]\nkind = \"enqueue\"\nqueue = \"tickets\"\n");
        parse_dialplan(Path::new("p.toml"), &text).unwrap()
    }

    #[test]
    fn the_set_routes_by_called_number_and_stamps_its_version() {
        let cx = CheckContext {
            prompts: &AnyPrompt,
            queues: ["tickets".to_string()].into(),
            skills: Default::default(),
            transfer_allow: AllowList::parse(&["+44."]).unwrap(),
        };
        let set =
            DialplanSet::build(vec![plan("+442079460000"), plan("+18005550100")], &cx, 7).unwrap();
        let route = set.route("+18005550100").unwrap();
        assert_eq!(route.entry_point().unwrap().number.value, "+18005550100");
        assert_eq!(route.plan.version, 7);
        assert!(
            route.plan.transfer_allow.allows("+442079460999"),
            "allow-list travels with the plan"
        );
        assert!(set.route("+15550000000").is_none());
        assert!(
            DialplanSet::build(vec![plan("+442079460000"), plan("+442079460000")], &cx, 8).is_err()
        );
    }
}
