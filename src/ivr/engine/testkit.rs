//! Test helpers: build checked plans from TOML text and drive a session like a call layer would.

use super::*;
use crate::ivr::check::CheckContext;
use crate::ivr::crm::{CrmLookup, FixtureCrm};
use crate::ivr::pattern::AllowList;
use crate::ivr::prompts::PromptCatalog;
use crate::ivr::set::DialplanSet;
use chrono::{DateTime, TimeZone, Utc};

/// Every prompt exists (prompt checks have their own tests).
pub struct AnyPrompt;
impl PromptCatalog for AnyPrompt {
    fn has(&self, _: &str, _: &str) -> bool {
        true
    }
}

pub fn names(list: &[&str]) -> std::collections::BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn context(prompts: &dyn PromptCatalog) -> CheckContext<'_> {
    CheckContext {
        prompts,
        queues: names(&["password", "hardware", "network", "tickets", "emergency"]),
        skills: names(&[
            "password", "hardware", "network", "english", "spanish", "tier1", "tier2",
        ]),
        transfer_allow: AllowList::parse(&["+4420794609XX"]).unwrap(),
    }
}

/// A checked set from one file's text, as `version`.
pub fn set_from(text: &str, version: u64) -> DialplanSet {
    let plan = crate::ivr::build::parse_dialplan("test.toml".as_ref(), text).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    DialplanSet::build(vec![plan], &context(&AnyPrompt), version).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// Header for small test plans: one entry +442079460000 starting at `start`, survey node `survey`.
pub fn plan_text(start: &str, survey: bool, nodes: &str) -> String {
    let survey = if survey { "survey = \"survey\"\n" } else { "" };
    format!("[plan]\nlanguages = [\"en\", \"es\"]\n\n[[entry]]\nnumber = \"+442079460000\"\nstart = \"{start}\"\n{survey}\n{nodes}")
}

/// Monday 2025-07-07 10:00 London (BST = UTC+1).
pub fn monday_10am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 7, 9, 0, 0).unwrap()
}

/// A session plus a virtual clock, driven like the call layer would.
pub struct Call {
    pub s: Session,
    t0: Instant,
    pub elapsed: Duration,
    pub wall: DateTime<Utc>,
    last_play: Option<PlayId>,
    pub all: Vec<Action>,
}

impl Call {
    pub fn new(text: &str) -> Call {
        Call::on(&set_from(text, 1), "+447700900123", CrmState::NotAsked)
    }

    pub fn on(set: &DialplanSet, caller: &str, crm: CrmState) -> Call {
        let route = set.route("+442079460000").expect("entry");
        let ctx = CallContext {
            caller: caller.into(),
            called: "+442079460000".into(),
            crm,
        };
        Call {
            s: Session::from_route(route, ctx).expect("session"),
            t0: Instant::now(),
            elapsed: Duration::ZERO,
            wall: monday_10am(),
            last_play: None,
            all: Vec::new(),
        }
    }

    pub fn now(&self) -> Now {
        Now {
            at: self.t0 + self.elapsed,
            wall: self.wall,
        }
    }

    pub fn send(&mut self, input: Input) -> Vec<Action> {
        let acts = self.s.handle(input, self.now());
        for a in &acts {
            if let Action::Play { id, .. } = a {
                self.last_play = Some(*id);
            }
        }
        self.all.extend(acts.iter().cloned());
        acts
    }

    pub fn start(&mut self) -> Vec<Action> {
        self.send(Input::Started)
    }

    pub fn digit(&mut self, d: char) -> Vec<Action> {
        self.send(Input::Digit(d))
    }

    pub fn digits(&mut self, ds: &str) -> Vec<Action> {
        ds.chars().flat_map(|d| self.digit(d)).collect()
    }

    /// The last `Play` finished.
    pub fn finish(&mut self) -> Vec<Action> {
        let id = self.last_play.expect("something was played");
        self.send(Input::PromptFinished(id))
    }

    /// Lets the clock run to the deadline and fires it.
    pub fn expire(&mut self) -> Vec<Action> {
        let d = self.s.next_deadline().expect("a timer is running");
        self.elapsed = d - self.t0;
        self.send(Input::Timeout)
    }

    pub fn answer(&mut self, crm: &FixtureCrm) -> Vec<Action> {
        let (kind, value) = self
            .all
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Lookup { kind, value } => Some((*kind, value.clone())),
                _ => None,
            })
            .expect("a lookup was asked");
        let answer = crm.lookup(kind, &value);
        self.send(Input::LookupResult(crate::ivr::crm::LookupResult {
            kind,
            value,
            answer,
        }))
    }

    /// Seconds until the running timer fires.
    pub fn timer_secs(&self) -> Option<u64> {
        self.s
            .next_deadline()
            .map(|d| (d - (self.t0 + self.elapsed)).as_secs())
    }
}

/// Prompts of every `Play`, as "lang/name".
pub fn plays(acts: &[Action]) -> Vec<Vec<String>> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Play { prompts, .. } => Some(
                prompts
                    .iter()
                    .map(|p| format!("{}/{}", p.lang, p.name))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

pub fn events(acts: &[Action]) -> Vec<IvrEventKind> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(e.kind.clone()),
            _ => None,
        })
        .collect()
}

/// Actions other than events.
pub fn effects(acts: &[Action]) -> Vec<Action> {
    acts.iter()
        .filter(|a| !matches!(a, Action::Event(_)))
        .cloned()
        .collect()
}

pub fn entered(acts: &[Action]) -> Vec<String> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Event(IvrEvent {
                node,
                kind: IvrEventKind::NodeEntered { .. },
            }) => Some(node.clone()),
            _ => None,
        })
        .collect()
}

pub fn enqueued(acts: &[Action]) -> Option<QueueRequest> {
    acts.iter().find_map(|a| match a {
        Action::Enqueue(r) => Some(r.clone()),
        _ => None,
    })
}
