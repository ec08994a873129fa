//! A voicemail left in the IVR becomes part of a ticket: the caller's ticket when the IVR
//! identified one, otherwise a new ticket for the caller's contact (or for an unknown caller).
//! The message is stored as the call's interaction row (`recording` = the file, disposition
//! `voicemail`) linked to that ticket, with a line in the ticket's history, in one transaction.

use super::model::{Interaction, NewTicket, Priority, Resolution, TicketChoice, WrapUp};
use super::Crm;
use crate::ivr::crm::{LookupAnswer, LookupKind};
use crate::store::SavedInteraction;

/// The disposition a voicemail's interaction row carries.
pub const VOICEMAIL_DISPOSITION: &str = "voicemail";

impl Crm {
    /// Store the voicemail `interaction` (its `recording` is the message file) on a ticket:
    /// the one numbered `interaction.ticket_number` if it exists, else a new open ticket for
    /// the caller's contact (looked up by number when not known yet) or for nobody.
    pub async fn file_voicemail(
        &self,
        mut interaction: Interaction,
        now_ms: i64,
    ) -> crate::store::Result<SavedInteraction> {
        if interaction.contact_id.is_none() {
            if let Some(caller) = interaction.caller.as_deref() {
                if let LookupAnswer::Contact(c) = self.lookup(LookupKind::Caller, caller).await {
                    interaction.contact_id = Some(c.contact_id);
                }
            }
        }
        let existing = match interaction.ticket_number.as_deref() {
            Some(n) => self.store.ticket_by_number(n).await?,
            None => None,
        };
        let choice = match existing {
            Some(t) => TicketChoice::Link(t.number),
            None => TicketChoice::Create(NewTicket {
                subject: format!(
                    "Voicemail from {}",
                    interaction.caller.as_deref().unwrap_or("an unknown caller")
                ),
                category: Some(VOICEMAIL_DISPOSITION.into()),
                priority: Priority::Normal,
            }),
        };
        let wrap = WrapUp {
            disposition: VOICEMAIL_DISPOSITION.into(),
            notes: match &interaction.recording {
                Some(path) => format!("voicemail recorded: {path}"),
                None => "voicemail".into(),
            },
            ticket: Some(choice),
            // A message left on a ticket reopens it: someone has to call back.
            resolution: Resolution::Open,
        };
        self.save(&interaction, Some(&wrap), now_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::model::TicketStatus;
    use crate::store::test_support::test_stores;
    use crate::store::Store;

    const NOW: i64 = 1_795_000_000_000;

    async fn crm(store: &Store) -> Crm {
        let (contacts, tickets) = crate::crm::demo::demo_set(NOW);
        store.insert_contacts(&contacts, NOW).await.unwrap();
        store.insert_tickets(&tickets).await.unwrap();
        Crm::new(store.clone(), crate::config::CrmSettings::default(), "GB")
    }

    fn message(call: &str, caller: Option<&str>, ticket: Option<&str>) -> Interaction {
        Interaction {
            id: format!("i-{call}"),
            call_id: call.into(),
            caller: caller.map(str::to_string),
            arrived_ms: NOW,
            ended_ms: Some(NOW + 30_000),
            ivr_path: vec!["welcome".into(), "closed".into(), "voicemail".into()],
            recording: Some(format!("/var/lib/helpline/voicemail/{call}.wav")),
            ticket_number: ticket.map(str::to_string),
            ..Default::default()
        }
    }

    /// The ticket's calls as the ticket view lists them, and the ticket.
    async fn on_ticket(store: &Store, number: &str) -> (crate::crm::model::Ticket, Vec<String>) {
        let t = store.ticket_by_number(number).await.unwrap().unwrap();
        let calls = store.ticket_interactions(&t.id).await.unwrap();
        let recordings = calls
            .iter()
            .filter(|c| c.disposition.as_deref() == Some(VOICEMAIL_DISPOSITION))
            .filter_map(|c| c.recording.clone())
            .collect();
        (t, recordings)
    }

    #[tokio::test]
    async fn a_message_from_a_caller_who_typed_a_ticket_lands_on_that_ticket() {
        for ts in test_stores("voicemail_on_ticket").await {
            let crm = crm(&ts.store).await;
            let saved = crm
                .file_voicemail(message("vm1", Some("+15555550000"), Some("T-401003")), NOW)
                .await
                .unwrap();
            assert_eq!(
                saved.ticket.as_ref().map(|t| t.number.as_str()),
                Some("T-401003"),
                "{}",
                ts.label
            );
            let (t, recordings) = on_ticket(&ts.store, "T-401003").await;
            assert_eq!(
                recordings,
                ["/var/lib/helpline/voicemail/vm1.wav"],
                "{}",
                ts.label
            );
            assert!(t.status.is_open());
            ts.finish().await;
        }
    }

    #[tokio::test]
    async fn a_known_caller_without_a_ticket_gets_a_new_one_on_their_contact() {
        for ts in test_stores("voicemail_new_ticket").await {
            let crm = crm(&ts.store).await;
            let ada = ts.store.contacts_by_phone("+442079460001").await.unwrap();
            let saved = crm
                .file_voicemail(message("vm2", Some("020 7946 0001"), None), NOW)
                .await
                .unwrap();
            let t = saved.ticket.expect("a ticket was created");
            assert_eq!(
                t.contact_id.as_deref(),
                Some(ada[0].id.as_str()),
                "{}",
                ts.label
            );
            assert_eq!(t.status, TicketStatus::Open);
            assert!(t.subject.starts_with("Voicemail from"), "{}", t.subject);
            let (_, recordings) = on_ticket(&ts.store, &t.number).await;
            assert_eq!(recordings, ["/var/lib/helpline/voicemail/vm2.wav"]);
            let open = ts.store.open_tickets(&ada[0].id, 10).await.unwrap();
            assert!(
                open.iter().any(|o| o.number == t.number),
                "agent sees it on the contact"
            );
            ts.finish().await;
        }
    }

    #[tokio::test]
    async fn an_unknown_caller_or_a_vanished_ticket_still_gets_a_ticket() {
        for ts in test_stores("voicemail_unknown").await {
            let crm = crm(&ts.store).await;
            let unknown = crm
                .file_voicemail(message("vm3", None, None), NOW)
                .await
                .unwrap()
                .ticket
                .expect("ticket for an unknown caller");
            assert_eq!(unknown.contact_id, None);
            assert_eq!(unknown.subject, "Voicemail from an unknown caller");
            let gone = crm
                .file_voicemail(message("vm4", Some("+15555550000"), Some("T-999999")), NOW)
                .await
                .unwrap()
                .ticket
                .expect("a new ticket when the typed one does not exist");
            assert_ne!(gone.number, "T-999999");
            assert_ne!(gone.number, unknown.number);
            let (_, recordings) = on_ticket(&ts.store, &gone.number).await;
            assert_eq!(recordings, ["/var/lib/helpline/voicemail/vm4.wav"]);
            ts.finish().await;
        }
    }
}
