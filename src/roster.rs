//! The agent roster (agents.toml) against the login users (users.toml). A user's display name
//! comes from users.toml only; agents.toml's `name` is still read for old files but is not
//! shown where a users.toml entry exists. `helpline check` warns (without refusing the config)
//! where the two files disagree: a login user with role agent and no roster entry (they can
//! sign in but no queue ever offers them a call), and an agents.toml `name` that differs from
//! the user's `display_name`.

use crate::diag::Diagnostic;
use crate::users::Directory;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize)]
struct UsersFile {
    #[serde(default)]
    user: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    username: Spanned<String>,
    role: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct AgentsFile {
    #[serde(default)]
    agents: Vec<Agent>,
}

#[derive(Deserialize)]
struct Agent {
    id: Spanned<String>,
    name: Option<Spanned<String>>,
}

/// The warnings `helpline check` prints for `settings` (none without a users file). Agents
/// are in `[paths] agents`, else in the queues file.
pub fn config_warnings(settings: &crate::config::Settings) -> Vec<Diagnostic> {
    let Some(users) = &settings.paths.users else {
        return Vec::new();
    };
    let agents = settings
        .paths
        .agents
        .as_deref()
        .unwrap_or(&settings.paths.queues);
    warnings(users, agents)
}

/// Every agent's name as pages and reports show it: the users file's `display_name` (one
/// source), else agents.toml's `name` for agents who have no login.
pub fn use_display_names(agents: &mut [crate::acd::config::AgentDef], users: &Directory) {
    for a in agents {
        if let Some(u) = users.get(&a.id) {
            a.name = u.display_name;
        }
    }
}

/// Agent ids → display names (for the pop's past calls).
pub fn display_names(agents: &[crate::acd::config::AgentDef]) -> HashMap<String, String> {
    agents
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect()
}

/// The warnings for a users file and an agents file (both already checked for errors by their
/// own loaders; a file that does not parse gives no warnings here).
pub fn warnings(users_path: &Path, agents_path: &Path) -> Vec<Diagnostic> {
    let (Ok(users_text), Ok(agents_text)) = (
        std::fs::read_to_string(users_path),
        std::fs::read_to_string(agents_path),
    ) else {
        return Vec::new();
    };
    check(users_path, &users_text, agents_path, &agents_text)
}

fn check(users_path: &Path, users_text: &str, agents_path: &Path, agents: &str) -> Vec<Diagnostic> {
    let (Ok(users), Ok(roster)) = (
        toml::from_str::<UsersFile>(users_text),
        toml::from_str::<AgentsFile>(agents),
    ) else {
        return Vec::new();
    };
    let names: HashMap<&str, &str> = users
        .user
        .iter()
        .map(|u| {
            let name = u.display_name.as_deref().unwrap_or(u.username.get_ref());
            (u.username.get_ref().as_str(), name)
        })
        .collect();
    let mut out = Vec::new();
    for u in users.user.iter().filter(|u| u.role == "agent") {
        let id = u.username.get_ref();
        if !roster.agents.iter().any(|a| a.id.get_ref() == id) {
            out.push(Diagnostic::at(
                users_path,
                users_text,
                u.username.span().start,
                format!(
                    "warning: user `{id}` has role agent but no entry in {}: they can sign in \
                     but no queue will offer them calls; add [[agents]] id = \"{id}\" with their \
                     skills and queues",
                    agents_path.display()
                ),
            ));
        }
    }
    for a in &roster.agents {
        let (Some(name), Some(shown)) = (&a.name, names.get(a.id.get_ref().as_str())) else {
            continue;
        };
        if name.get_ref() != shown {
            out.push(Diagnostic::at(
                agents_path,
                agents,
                name.span().start,
                format!(
                    "warning: agent `{}` is named \"{}\" here but \"{shown}\" in {}; the users \
                     file's display_name is the one shown everywhere: remove `name` here",
                    a.id.get_ref(),
                    name.get_ref(),
                    users_path.display()
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: &str = r#"
[[user]]
username = "ann"
role = "agent"
password_hash = "$argon2id$x"
display_name = "Ann Smith"

[[user]]
username = "bob"
role = "agent"
password_hash = "$argon2id$x"

[[user]]
username = "sue"
role = "supervisor"
password_hash = "$argon2id$x"
"#;

    #[test]
    fn an_agent_user_without_a_roster_entry_is_warned_about_at_their_line() {
        let agents = "[[agents]]\nid = \"ann\"\n";
        let w = check(
            Path::new("users.toml"),
            USERS,
            Path::new("agents.toml"),
            agents,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((w[0].file.to_str(), w[0].line), (Some("users.toml"), 9));
        assert!(w[0].message.contains("`bob` has role agent"), "{}", w[0]);
    }

    #[test]
    fn a_roster_name_that_differs_from_the_display_name_is_warned_about() {
        let agents = "[[agents]]\nid = \"ann\"\nname = \"Annie\"\n\n[[agents]]\nid = \"bob\"\nname = \"bob\"\n";
        let w = check(
            Path::new("users.toml"),
            USERS,
            Path::new("agents.toml"),
            agents,
        );
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((w[0].file.to_str(), w[0].line), (Some("agents.toml"), 3));
        assert!(w[0].message.contains("\"Ann Smith\""), "{}", w[0]);
    }
}
