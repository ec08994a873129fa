//! The demo data set (`helpline demo-data`, and loaded on first start when `[crm] demo_data`
//! is on and the CRM is empty) and the bulk generator the screen-pop benchmark uses.

use super::model::{Contact, Priority, Ticket, TicketStatus};
use crate::store::Store;

/// (name, organisation, phone, account, language, tier, vip)
const PEOPLE: &[(&str, &str, &str, &str, &str, i64, bool)] = &[
    (
        "Ada Lovelace",
        "Analytical Engines Ltd",
        "+442079460001",
        "100001",
        "en",
        3,
        true,
    ),
    (
        "Alan Turing",
        "Bletchley Logistics",
        "+442079460002",
        "100002",
        "en",
        2,
        false,
    ),
    (
        "Grace Hopper",
        "Cobol Systems Inc",
        "+12025550143",
        "100003",
        "en",
        2,
        false,
    ),
    (
        "María Fernández",
        "Hispano Telecom",
        "+34910000001",
        "100004",
        "es",
        1,
        false,
    ),
    (
        "Javier Ortega",
        "Hispano Telecom",
        "+34910000002",
        "100005",
        "es",
        1,
        false,
    ),
    (
        "Katherine Johnson",
        "Orbital Analytics",
        "+12025550178",
        "100006",
        "en",
        3,
        true,
    ),
    (
        "Tim Berners-Lee",
        "Web Foundations",
        "+442079460003",
        "100007",
        "en",
        1,
        false,
    ),
    (
        "Margaret Hamilton",
        "Apollo Software",
        "+16175550111",
        "100008",
        "en",
        2,
        false,
    ),
    (
        "Linus Kernel",
        "Penguin Hosting",
        "+442079460004",
        "100009",
        "en",
        1,
        false,
    ),
    (
        "Sofía Ruiz",
        "Clínica Central",
        "+34910000003",
        "100010",
        "es",
        2,
        false,
    ),
];

/// (account, number, subject, category, priority, status, days ago)
const TICKETS: &[(&str, &str, &str, &str, Priority, TicketStatus, i64)] = &[
    (
        "100001",
        "T-401001",
        "VPN drops every hour",
        "network",
        Priority::High,
        TicketStatus::Open,
        2,
    ),
    (
        "100001",
        "T-401002",
        "New laptop for finance team",
        "hardware",
        Priority::Normal,
        TicketStatus::Pending,
        6,
    ),
    (
        "100002",
        "T-401003",
        "Password expired, locked out",
        "accounts",
        Priority::Urgent,
        TicketStatus::Open,
        0,
    ),
    (
        "100003",
        "T-401004",
        "Printer on floor 3 jams",
        "hardware",
        Priority::Low,
        TicketStatus::Open,
        9,
    ),
    (
        "100004",
        "T-401005",
        "Sin acceso al correo",
        "accounts",
        Priority::High,
        TicketStatus::Open,
        1,
    ),
    (
        "100006",
        "T-401006",
        "Office network outage",
        "network",
        Priority::Urgent,
        TicketStatus::Open,
        0,
    ),
    (
        "100006",
        "T-401007",
        "Monitor flickers",
        "hardware",
        Priority::Low,
        TicketStatus::Resolved,
        20,
    ),
    (
        "100008",
        "T-401008",
        "MFA token lost",
        "accounts",
        Priority::Normal,
        TicketStatus::Open,
        3,
    ),
    (
        "100010",
        "T-401009",
        "Wi-Fi lento en recepción",
        "network",
        Priority::Normal,
        TicketStatus::Open,
        4,
    ),
];

/// (id, title, body, tags)
const ARTICLES: &[(&str, &str, &str, &str)] = &[
    ("KB-1", "Reset a forgotten password", "Verify the caller with their account number and date of birth, then send a reset link from the admin console. Links expire after 30 minutes.", "password accounts login reset"),
    ("KB-2", "Unlock an account after too many attempts", "Accounts lock for 15 minutes after 5 failed logins. Supervisors can unlock at once from the directory.", "password accounts locked"),
    ("KB-3", "Replace a lost MFA token", "Revoke the old token, issue a temporary code valid 24 hours, and order a new hardware key.", "mfa accounts token security"),
    ("KB-4", "VPN disconnects regularly", "Check the client version (4.2 or later), disable Wi-Fi power saving and switch to TCP 443 if UDP is blocked.", "vpn network remote"),
    ("KB-5", "Site-wide network outage checklist", "Check the status page, confirm scope (floor, building, site), open a major incident and call the network on-call.", "network outage incident"),
    ("KB-6", "Printer paper jams", "Open tray 2 and the rear door, remove paper, and check the fuser. Recurrent jams need a maintenance kit.", "printer hardware"),
    ("KB-7", "Laptop request process", "Managers raise the request; standard models ship in 3 working days. Finance approves non-standard models.", "laptop hardware request"),
    ("KB-8", "Slow Wi-Fi in meeting rooms", "Move to the 5 GHz SSID, forget and rejoin the network; report access-point names to the network team.", "wifi network slow"),
    ("KB-9", "Email not syncing on mobile", "Remove and re-add the account; check that modern authentication is enabled for the user.", "email accounts mobile"),
    ("KB-10", "Monitor flicker or no signal", "Reseat the cable, try another port, update the graphics driver; swap the monitor if it persists.", "monitor hardware display"),
];

/// The hand-written demo set: contacts, their tickets and the knowledge base.
pub fn demo_set(now_ms: i64) -> (Vec<Contact>, Vec<Ticket>) {
    let contacts: Vec<Contact> = PEOPLE
        .iter()
        .map(|&(name, org, phone, account, lang, tier, vip)| Contact {
            id: format!("demo-{account}"),
            name: name.into(),
            organisation: Some(org.into()),
            phones: vec![phone.into()],
            email: Some(format!(
                "{}@example.com",
                name.split(' ').next().unwrap_or("user").to_lowercase()
            )),
            language: Some(lang.into()),
            tier,
            vip,
            notes: None,
            account: Some(account.into()),
        })
        .collect();
    let day = 86_400_000;
    let tickets = TICKETS
        .iter()
        .map(
            |&(account, number, subject, category, priority, status, ago)| Ticket {
                id: format!("demo-{number}"),
                number: number.into(),
                contact_id: Some(format!("demo-{account}")),
                subject: subject.into(),
                category: Some(category.into()),
                status,
                priority,
                tier: 1,
                owner: None,
                sla_due_ms: Some(now_ms - ago * day + 3 * day),
                created_ms: now_ms - ago * day,
                updated_ms: now_ms - ago * day,
            },
        )
        .collect();
    (contacts, tickets)
}

/// Load the demo set (and the knowledge base) unless the CRM already holds contacts.
/// Returns whether anything was loaded.
pub async fn load_if_empty(store: &Store, now_ms: i64) -> crate::store::Result<bool> {
    if !store
        .list_contacts(
            "",
            crate::store::Page {
                offset: 0,
                limit: 1,
            },
        )
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    let (contacts, tickets) = demo_set(now_ms);
    store.insert_contacts(&contacts, now_ms).await?;
    store.insert_tickets(&tickets).await?;
    load_articles(store).await?;
    Ok(true)
}

pub async fn load_articles(store: &Store) -> crate::store::Result<()> {
    let articles: Vec<_> = ARTICLES
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    store.upsert_articles(&articles).await
}

/// `n` generated contacts (numbers `+4470000xxxxxx`, accounts `9xxxxxxx`) for benchmarks.
pub fn bulk_contacts(start: usize, n: usize) -> Vec<Contact> {
    (start..start + n)
        .map(|i| Contact {
            id: format!("bulk-{i}"),
            name: format!("Customer {i}"),
            organisation: Some(format!("Org {}", i % 997)),
            phones: vec![bulk_phone(i)],
            email: None,
            language: Some(if i % 5 == 0 { "es" } else { "en" }.into()),
            tier: (i % 3) as i64 + 1,
            vip: i % 50 == 0,
            notes: None,
            account: Some(format!("9{i:07}")),
        })
        .collect()
}

/// The phone number of generated contact `i`.
pub fn bulk_phone(i: usize) -> String {
    format!("+447000{i:06}")
}

/// `per` generated tickets for each of contacts `start..start+n` (a third of them open).
pub fn bulk_tickets(start: usize, n: usize, per: usize, now_ms: i64) -> Vec<Ticket> {
    let mut out = Vec::with_capacity(n * per);
    for i in start..start + n {
        for k in 0..per {
            let seq = i * per + k;
            out.push(Ticket {
                id: format!("bulk-t{seq}"),
                number: format!("B-{seq}"),
                contact_id: Some(format!("bulk-{i}")),
                subject: format!("Generated issue {seq}"),
                category: Some(["network", "hardware", "accounts"][seq % 3].into()),
                status: if seq.is_multiple_of(3) {
                    TicketStatus::Open
                } else {
                    TicketStatus::Closed
                },
                priority: Priority::from_level((seq % 4) as i64),
                tier: 1,
                owner: None,
                sla_due_ms: None,
                created_ms: now_ms - (seq as i64 % 1000) * 60_000,
                updated_ms: now_ms - (seq as i64 % 1000) * 60_000,
            });
        }
    }
    out
}
