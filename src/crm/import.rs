//! `helpline import contacts|tickets FILE.csv`: every row is checked first; one bad row and
//! nothing is imported, with every bad line reported as `file:line: why`.
//!
//! Contacts columns (header row required, any order): `name` (required), `organisation`,
//! `phones` (`;`-separated, any format the default region reads), `email`, `language`, `tier`
//! (1–3), `vip` (yes/no), `account`, `notes`.
//! Tickets columns: `number` (required), `account` (the contact's), `subject` (required),
//! `category`, `status` (open/pending/resolved/closed), `priority` (low/normal/high/urgent),
//! `tier` (1–3), `owner`, `sla_due` and `created` (RFC 3339).

use super::model::{Contact, Priority, Ticket, TicketStatus};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub why: String,
}

/// Rows by header name.
struct Rows {
    headers: HashMap<String, usize>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Rows {
    fn get<'a>(&self, rec: &'a csv::StringRecord, col: &str) -> Option<&'a str> {
        let v = rec.get(*self.headers.get(col)?)?.trim();
        (!v.is_empty()).then_some(v)
    }
}

fn read(text: &str, known: &[&str], required: &[&str]) -> Result<Rows, Vec<RowError>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: HashMap<String, usize> = match r.headers() {
        Ok(h) => h
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim().to_lowercase(), i))
            .collect(),
        Err(e) => {
            return Err(vec![RowError {
                line: 1,
                why: format!("unreadable header: {e}"),
            }])
        }
    };
    let mut errors = Vec::new();
    for h in headers.keys() {
        if !known.contains(&h.as_str()) {
            errors.push(RowError {
                line: 1,
                why: format!("unknown column `{h}`; known: {}", known.join(", ")),
            });
        }
    }
    for req in required {
        if !headers.contains_key(*req) {
            errors.push(RowError {
                line: 1,
                why: format!("missing required column `{req}`"),
            });
        }
    }
    let mut rows = Vec::new();
    for rec in r.records() {
        match rec {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                rows.push((line, rec));
            }
            Err(e) => errors.push(RowError {
                line: e.position().map(|p| p.line()).unwrap_or(0),
                why: format!("unreadable row: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(Rows { headers, rows })
    } else {
        Err(errors)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn parse_tier(v: Option<&str>, errs: &mut Vec<String>) -> i64 {
    match v.map(str::parse::<i64>) {
        None => 1,
        Some(Ok(t @ 1..=3)) => t,
        Some(_) => {
            errs.push(format!("tier `{}` must be 1, 2 or 3", v.unwrap_or("")));
            1
        }
    }
}

fn parse_time(v: Option<&str>, col: &str, errs: &mut Vec<String>) -> Option<i64> {
    let v = v?;
    match chrono::DateTime::parse_from_rfc3339(v) {
        Ok(t) => Some(t.timestamp_millis()),
        Err(e) => {
            errs.push(format!(
                "{col} `{v}` is not an RFC 3339 time (2026-11-23T09:00:00Z): {e}"
            ));
            None
        }
    }
}

/// Parse and check a contacts CSV. Ids are generated.
pub fn contacts(text: &str, region: &str) -> Result<Vec<Contact>, Vec<RowError>> {
    let known = [
        "name",
        "organisation",
        "phones",
        "email",
        "language",
        "tier",
        "vip",
        "account",
        "notes",
    ];
    let rows = read(text, &known, &["name"])?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut accounts = HashSet::new();
    for (line, rec) in &rows.rows {
        let mut errs = Vec::new();
        let name = rows.get(rec, "name").unwrap_or_default();
        if name.is_empty() {
            errs.push("name is empty".to_string());
        }
        let mut phones = Vec::new();
        for p in rows.get(rec, "phones").unwrap_or("").split(';') {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            match crate::phone::normalise(p, region) {
                Some(n) => phones.push(n),
                None => errs.push(format!(
                    "phone `{p}` is not a number (read in region {region})"
                )),
            }
        }
        let email = rows.get(rec, "email");
        if email.is_some_and(|e| !e.contains('@')) {
            errs.push(format!("email `{}` has no @", email.unwrap_or("")));
        }
        let vip = match rows.get(rec, "vip").map(parse_bool) {
            None => false,
            Some(Some(b)) => b,
            Some(None) => {
                errs.push("vip must be yes or no".into());
                false
            }
        };
        let account = rows.get(rec, "account").map(str::to_string);
        if let Some(a) = &account {
            if !accounts.insert(a.clone()) {
                errs.push(format!("account `{a}` appears twice in the file"));
            }
        }
        let tier = parse_tier(rows.get(rec, "tier"), &mut errs);
        if errs.is_empty() {
            out.push(Contact {
                id: uuid::Uuid::now_v7().to_string(),
                name: name.to_string(),
                organisation: rows.get(rec, "organisation").map(str::to_string),
                phones,
                email: email.map(str::to_string),
                language: rows.get(rec, "language").map(str::to_string),
                tier,
                vip,
                notes: rows.get(rec, "notes").map(str::to_string),
                account,
            });
        }
        errors.extend(errs.into_iter().map(|why| RowError { line: *line, why }));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parse and check a tickets CSV. `account_of` maps an account number to its contact id.
pub fn tickets(
    text: &str,
    account_of: &HashMap<String, String>,
    now_ms: i64,
) -> Result<Vec<Ticket>, Vec<RowError>> {
    let known = [
        "number", "account", "subject", "category", "status", "priority", "tier", "owner",
        "sla_due", "created",
    ];
    let rows = read(text, &known, &["number", "subject"])?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut numbers = HashSet::new();
    for (line, rec) in &rows.rows {
        let mut errs = Vec::new();
        let number = rows.get(rec, "number").unwrap_or_default();
        if number.is_empty() {
            errs.push("number is empty".to_string());
        } else if !numbers.insert(number.to_string()) {
            errs.push(format!("ticket `{number}` appears twice in the file"));
        }
        let subject = rows.get(rec, "subject").unwrap_or_default();
        if subject.is_empty() {
            errs.push("subject is empty".to_string());
        }
        let contact_id = match rows.get(rec, "account") {
            None => None,
            Some(a) => match account_of.get(a) {
                Some(id) => Some(id.clone()),
                None => {
                    errs.push(format!(
                        "no contact has account `{a}` (import contacts first)"
                    ));
                    None
                }
            },
        };
        let status = match rows.get(rec, "status") {
            None => TicketStatus::Open,
            Some(s) => TicketStatus::parse(s).unwrap_or_else(|| {
                errs.push(format!(
                    "status `{s}` must be open, pending, resolved or closed"
                ));
                TicketStatus::Open
            }),
        };
        let priority = match rows.get(rec, "priority") {
            None => Priority::Normal,
            Some(p) => Priority::parse(p).unwrap_or_else(|| {
                errs.push(format!(
                    "priority `{p}` must be low, normal, high or urgent"
                ));
                Priority::Normal
            }),
        };
        let tier = parse_tier(rows.get(rec, "tier"), &mut errs);
        let sla = parse_time(rows.get(rec, "sla_due"), "sla_due", &mut errs);
        let created = parse_time(rows.get(rec, "created"), "created", &mut errs).unwrap_or(now_ms);
        if errs.is_empty() {
            out.push(Ticket {
                id: uuid::Uuid::now_v7().to_string(),
                number: number.to_string(),
                contact_id,
                subject: subject.to_string(),
                category: rows.get(rec, "category").map(str::to_string),
                status,
                priority,
                tier,
                owner: rows.get(rec, "owner").map(str::to_string),
                sla_due_ms: sla,
                created_ms: created,
                updated_ms: created,
            });
        }
        errors.extend(errs.into_iter().map(|why| RowError { line: *line, why }));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Errors as `file:line: why`, one per line.
pub fn report(file: &Path, errors: &[RowError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}:{}: {}", file.display(), e.line, e.why))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_contacts_are_read_with_numbers_normalised() {
        let csv = "name,phones,vip,account,tier\n\
                   \"Smith, Ann\",020 7946 0001;+1 212 555 0100,yes,AC1,2\n\
                   Bob,,,,\n";
        let c = contacts(csv, "GB").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].name, "Smith, Ann");
        assert_eq!(c[0].phones, ["+442079460001", "+12125550100"]);
        assert!(c[0].vip);
        assert_eq!(c[0].tier, 2);
        assert_eq!(c[1].account, None);
    }

    #[test]
    fn every_bad_line_is_reported_and_nothing_is_returned() {
        let csv = "name,phones,email,tier,account\n\
                   Ann,020 7946 0001,ann@example.com,1,A1\n\
                   ,12,not-an-email,7,A1\n\
                   Carl,,carl@example.com,1,\n\
                   Dee,abc,,1,\n";
        let errs = contacts(csv, "GB").unwrap_err();
        let lines: Vec<u64> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 3, 3, 3, 3, 5], "{errs:?}");
        assert!(errs
            .iter()
            .any(|e| e.why.contains("account `A1` appears twice")));
        assert!(errs.iter().any(|e| e.why.contains("tier `7`")));
        let text = report(Path::new("c.csv"), &errs);
        assert!(text.starts_with("c.csv:3: "), "{text}");
    }

    #[test]
    fn unknown_and_missing_columns_are_refused_at_line_one() {
        let errs = contacts("nme,phone\nAnn,1\n", "GB").unwrap_err();
        assert!(errs.iter().all(|e| e.line == 1));
        assert!(errs
            .iter()
            .any(|e| e.why.contains("missing required column `name`")));
    }

    #[test]
    fn tickets_need_a_known_account_and_valid_fields() {
        let accounts = HashMap::from([("A1".to_string(), "c1".to_string())]);
        let csv = "number,account,subject,status,priority,sla_due\n\
                   T-1,A1,VPN down,open,high,2026-11-24T09:00:00Z\n\
                   T-2,ZZ,Printer,weird,low,\n\
                   T-1,A1,dup,open,low,tomorrow\n";
        let errs = tickets(csv, &accounts, 0).unwrap_err();
        let lines: Vec<u64> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 3, 4, 4], "{errs:?}");
        let ok = tickets(
            &csv.lines().take(2).collect::<Vec<_>>().join("\n"),
            &accounts,
            0,
        )
        .unwrap();
        assert_eq!(ok[0].contact_id.as_deref(), Some("c1"));
        assert_eq!(ok[0].priority, Priority::High);
        assert_eq!(ok[0].sla_due_ms, Some(1_795_510_800_000));
    }
}
