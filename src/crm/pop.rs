//! Building the screen-pop from what the CRM returned: which contact it is, ticket order, the
//! repeat-caller flag. Pure: the I/O is in [`super::Crm`].

use super::model::{CallerKind, CallerView, Contact, InteractionSummary, Pop, PopStatus, Ticket};
use std::collections::HashMap;

/// How the caller id `raw` reads to people on a line in `region`.
pub fn caller_view(raw: &str, region: &str) -> CallerView {
    let base = CallerView {
        raw: raw.to_string(),
        ..Default::default()
    };
    match crate::phone::caller(raw, region) {
        crate::phone::CallerNumber::Number(n) => CallerView {
            kind: CallerKind::Number,
            local: n.region.eq_ignore_ascii_case(region.trim()),
            valid: n.valid,
            e164: Some(n.e164),
            national: Some(n.national),
            international: Some(n.international),
            ..base
        },
        crate::phone::CallerNumber::Withheld => CallerView {
            kind: CallerKind::Withheld,
            ..base
        },
        crate::phone::CallerNumber::NotANumber => CallerView {
            kind: CallerKind::NotANumber,
            ..base
        },
    }
}

/// Past calls as people read them: the agent's display name and the disposition's label next
/// to their codes.
pub fn name_interactions(
    items: &mut [InteractionSummary],
    agent_names: &HashMap<String, String>,
    labels: &HashMap<&str, &str>,
) {
    for i in items {
        i.agent_name = i.agent.as_ref().and_then(|a| agent_names.get(a)).cloned();
        i.disposition_label = i
            .disposition
            .as_deref()
            .and_then(|d| labels.get(d))
            .map(|l| l.to_string());
    }
}

/// Open tickets: most urgent first, then newest.
pub fn order_tickets(tickets: &mut [Ticket]) {
    tickets.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(b.created_ms.cmp(&a.created_ms))
            .then(a.number.cmp(&b.number))
    });
}

/// A caller is a repeat caller when any of their calls arrived within `window_ms` before `now_ms`.
pub fn is_repeat(interactions: &[InteractionSummary], now_ms: i64, window_ms: i64) -> bool {
    interactions
        .iter()
        .any(|i| i.at_ms <= now_ms && now_ms - i.at_ms <= window_ms)
}

/// Which contact the pop is about: the one identified by account or ticket in the IVR, else the
/// only number match. Several number matches and nothing else → none (the agent chooses).
pub fn choose_contact(identified: Option<Contact>, matches: &[Contact]) -> Option<Contact> {
    identified.or_else(|| match matches {
        [only] => Some(only.clone()),
        _ => None,
    })
}

/// The status a pop reports.
pub fn status(matches: &[Contact], contact: &Option<Contact>) -> PopStatus {
    if contact.is_some() || !matches.is_empty() {
        PopStatus::Ok
    } else {
        PopStatus::NotFound
    }
}

/// An empty pop for when the CRM could not answer in time.
pub fn unavailable(caller: &str, wait_secs: f64, ivr: super::model::IvrSummary) -> Pop {
    Pop {
        status: PopStatus::Unavailable,
        caller: caller.to_string(),
        number: CallerView::default(),
        matches: vec![],
        contact: None,
        tickets: vec![],
        interactions: vec![],
        ivr,
        wait_secs,
        articles: vec![],
        repeat_caller: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::model::{Priority, TicketStatus};

    fn t(n: &str, p: Priority, created: i64) -> Ticket {
        Ticket {
            id: n.into(),
            number: n.into(),
            contact_id: None,
            subject: String::new(),
            category: None,
            status: TicketStatus::Open,
            priority: p,
            tier: 1,
            owner: None,
            sla_due_ms: None,
            created_ms: created,
            updated_ms: created,
        }
    }

    /// Issue 19: the pop shows a number from the line's own country in its national form and
    /// any other in the international one; withheld and invalid callers are flagged, not mangled.
    #[test]
    fn the_callers_number_reads_by_the_lines_country_and_flags_what_is_not_a_number() {
        let gb = caller_view("+442079460000", "GB");
        assert_eq!(gb.kind, CallerKind::Number);
        assert_eq!(
            (gb.national.as_deref(), gb.international.as_deref()),
            (Some("020 7946 0000"), Some("+44 20 7946 0000"))
        );
        assert!(gb.local && gb.valid);
        let us_on_gb_line = caller_view("+16502530000", "GB");
        assert!(!us_on_gb_line.local && us_on_gb_line.valid);
        assert!(caller_view("+16502530000", "us").local);
        let drama = caller_view("+447700900123", "GB");
        assert!(drama.local && !drama.valid, "{drama:?}");
        for withheld in ["anonymous", "sip:anonymous@anonymous.invalid", ""] {
            let v = caller_view(withheld, "GB");
            assert_eq!((v.kind, v.e164), (CallerKind::Withheld, None), "{withheld}");
        }
        let name = caller_view("reception", "GB");
        assert_eq!(
            (name.kind, name.raw.as_str()),
            (CallerKind::NotANumber, "reception")
        );
    }

    #[test]
    fn tickets_are_ordered_urgent_first_then_newest() {
        let mut v = vec![
            t("old-normal", Priority::Normal, 1),
            t("new-normal", Priority::Normal, 9),
            t("urgent", Priority::Urgent, 0),
        ];
        order_tickets(&mut v);
        let n: Vec<_> = v.iter().map(|t| t.number.as_str()).collect();
        assert_eq!(n, ["urgent", "new-normal", "old-normal"]);
    }

    fn call_at(ms: i64) -> InteractionSummary {
        InteractionSummary {
            id: String::new(),
            call_id: String::new(),
            at_ms: ms,
            queue: None,
            agent: None,
            agent_name: None,
            disposition: None,
            disposition_label: None,
            resolution: None,
            wait_secs: 0.0,
            talk_secs: 0.0,
            abandoned: false,
            ticket_number: None,
            survey_score: None,
            recording: None,
        }
    }

    #[test]
    fn repeat_caller_only_within_the_window() {
        let day = 86_400_000;
        assert!(is_repeat(&[call_at(10 * day)], 16 * day, 7 * day));
        assert!(!is_repeat(&[call_at(day)], 16 * day, 7 * day));
        assert!(!is_repeat(&[], 16 * day, 7 * day));
    }

    fn contact(id: &str) -> Contact {
        Contact {
            id: id.into(),
            name: id.into(),
            organisation: None,
            phones: vec![],
            email: None,
            language: None,
            tier: 1,
            vip: false,
            notes: None,
            account: None,
        }
    }

    #[test]
    fn a_shared_number_leaves_the_choice_to_the_agent() {
        let two = [contact("a"), contact("b")];
        assert_eq!(choose_contact(None, &two), None);
        assert_eq!(status(&two, &None), PopStatus::Ok);
        assert_eq!(
            choose_contact(Some(contact("b")), &two).map(|c| c.id),
            Some("b".into())
        );
        assert_eq!(
            choose_contact(None, &two[..1]).map(|c| c.id),
            Some("a".into())
        );
        assert_eq!(status(&[], &None), PopStatus::NotFound);
    }
}
