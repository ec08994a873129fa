//! The CRM service against real stores (SQLite always, PostgreSQL when the test URL is set):
//! number matching in every format, the pop's contents, wrap-up into the ticket, FCR.

use super::model::*;
use super::*;
use crate::store::test_support::test_stores;

const NOW: i64 = 1_795_000_000_000;

async fn seeded(store: &Store) {
    let (contacts, tickets) = demo::demo_set(NOW);
    store.insert_contacts(&contacts, NOW).await.unwrap();
    store.insert_tickets(&tickets).await.unwrap();
    demo::load_articles(store).await.unwrap();
}

fn crm(store: &Store) -> Crm {
    Crm::new(store.clone(), crate::config::CrmSettings::default(), "GB")
}

fn req(caller: &str) -> PopRequest {
    PopRequest {
        caller: caller.into(),
        now_ms: NOW,
        ..Default::default()
    }
}

#[tokio::test]
async fn the_caller_is_found_whatever_form_the_number_arrives_in() {
    for ts in test_stores("crm_number_forms").await {
        seeded(&ts.store).await;
        let crm = crm(&ts.store);
        for form in [
            "+44 20 7946 0001",
            "02079460001",
            "020 7946 0001",
            "tel:+44-20-7946-0001",
            "sip:+442079460001@gw.example.net;user=phone",
            "<sip:02079460001@10.0.0.1>",
        ] {
            let form = form.trim_matches(['<', '>']);
            let pop = crm.pop(&req(form)).await;
            assert_eq!(pop.status, PopStatus::Ok, "{} {form}", ts.label);
            assert_eq!(
                pop.contact.as_ref().map(|c| c.name.as_str()),
                Some("Ada Lovelace"),
                "{} {form}",
                ts.label
            );
            assert_eq!(pop.caller, "+442079460001");
        }
        let unknown = crm.pop(&req("+15555550000")).await;
        assert_eq!(unknown.status, PopStatus::NotFound, "{}", ts.label);
        assert!(unknown.contact.is_none() && unknown.tickets.is_empty());
        ts.finish().await;
    }
}

#[tokio::test]
async fn the_pop_lists_open_tickets_urgent_first_and_suggests_articles() {
    for ts in test_stores("crm_pop_contents").await {
        seeded(&ts.store).await;
        let mut r = req("+12025550178"); // Katherine Johnson: T-401006 urgent open, T-401007 resolved
        r.ivr.choice = Some("network".into());
        let pop = crm(&ts.store).pop(&r).await;
        let numbers: Vec<_> = pop.tickets.iter().map(|t| t.number.as_str()).collect();
        assert_eq!(
            numbers,
            ["T-401006"],
            "{}: resolved tickets are not shown",
            ts.label
        );
        assert!(
            pop.articles.iter().any(|a| a.id == "KB-5"),
            "{}: network outage article for a network caller: {:?}",
            ts.label,
            pop.articles
        );
        ts.finish().await;
    }
}

#[tokio::test]
async fn a_ticket_typed_in_the_ivr_identifies_the_caller_on_a_shared_line() {
    for ts in test_stores("crm_ticket_typed").await {
        seeded(&ts.store).await;
        let crm = crm(&ts.store);
        let mut r = req("+34910000099"); // unknown number
        r.ticket = Some("401005".into()); // T-401005 belongs to María Fernández
        let pop = crm.pop(&r).await;
        assert_eq!(
            pop.contact.map(|c| c.name),
            Some("María Fernández".to_string())
        );
        assert!(matches!(
            crm.lookup(crate::ivr::crm::LookupKind::Ticket, "401005")
                .await,
            crate::ivr::crm::LookupAnswer::Ticket(_)
        ));
        assert!(matches!(
            crm.lookup(crate::ivr::crm::LookupKind::Account, "100001")
                .await,
            crate::ivr::crm::LookupAnswer::Contact(CallerFacts { vip: true, .. })
        ));
        ts.finish().await;
    }
}

fn interaction(call: &str, at: i64, contact: &str, ticket: Option<&str>) -> Interaction {
    Interaction {
        id: format!("i-{call}"),
        call_id: call.into(),
        contact_id: Some(contact.into()),
        queue: Some("network".into()),
        agent: Some("alice".into()),
        arrived_ms: at,
        wait_ms: 12_000,
        talk_ms: 95_000,
        ticket_number: ticket.map(str::to_string),
        ..Default::default()
    }
}

#[tokio::test]
async fn wrap_up_writes_the_call_with_its_ticket_and_fcr_follows_repeat_calls() {
    for ts in test_stores("crm_wrapup_fcr").await {
        seeded(&ts.store).await;
        let crm = crm(&ts.store);
        let day = 86_400_000;
        let resolve = WrapUp {
            disposition: "resolved".into(),
            notes: "fixed".into(),
            ticket: Some(TicketChoice::Link("T-401003".into())),
            resolution: Resolution::Resolved,
        };
        let saved = crm
            .save(
                &interaction("c1", NOW, "demo-100002", None),
                Some(&resolve),
                NOW,
            )
            .await
            .unwrap();
        let t = saved.ticket.unwrap();
        assert_eq!(
            (t.number.as_str(), t.status),
            ("T-401003", TicketStatus::Resolved)
        );
        let calls = ts.store.ticket_interactions(&t.id).await.unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0].wait_secs, calls[0].talk_secs), (12.0, 95.0));
        let mut tally = fcr::FcrTally::default();
        tally.add_ticket(&fcr::ticket_calls(&calls), 7 * day);
        assert_eq!(tally.resolved_first_contact, 1, "{}", ts.label);

        // The caller rings again about it two days later: no longer first-contact resolved,
        // and the pop flags them as a repeat caller.
        let pop = crm.pop(&req("+442079460002")).await;
        assert!(pop.repeat_caller, "{}", ts.label);
        let again = WrapUp {
            resolution: Resolution::Escalated,
            ..resolve.clone()
        };
        let saved = crm
            .save(
                &interaction("c2", NOW + 2 * day, "demo-100002", None),
                Some(&again),
                NOW,
            )
            .await
            .unwrap();
        let t = saved.ticket.unwrap();
        assert_eq!(
            (t.tier, t.owner.as_deref(), t.status),
            (2, None, TicketStatus::Open)
        );
        let calls = ts.store.ticket_interactions(&t.id).await.unwrap();
        let mut tally = fcr::FcrTally::default();
        tally.add_ticket(&fcr::ticket_calls(&calls), 7 * day);
        assert_eq!(
            (tally.resolved_first_contact, tally.repeat_contacts),
            (0, 1)
        );

        // A new ticket created at wrap-up belongs to the caller and the agent.
        let create = WrapUp {
            disposition: "follow-up".into(),
            notes: String::new(),
            ticket: Some(TicketChoice::Create(NewTicket {
                subject: "Docking station".into(),
                category: Some("hardware".into()),
                priority: Priority::High,
            })),
            resolution: Resolution::Open,
        };
        let saved = crm
            .save(
                &interaction("c3", NOW, "demo-100002", None),
                Some(&create),
                NOW,
            )
            .await
            .unwrap();
        let t = saved.ticket.unwrap();
        assert!(t.number.starts_with("T-"));
        assert_eq!(t.contact_id.as_deref(), Some("demo-100002"));
        assert_eq!(t.owner.as_deref(), Some("alice"));
        // Saving the same call again updates its row instead of adding one.
        crm.save(&interaction("c3", NOW, "demo-100002", None), None, NOW)
            .await
            .unwrap();
        assert_eq!(ts.store.ticket_interactions(&t.id).await.unwrap().len(), 1);
        ts.finish().await;
    }
}
