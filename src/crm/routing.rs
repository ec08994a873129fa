//! The caller's ticket that routes their call (its owner first, its priority, its SLA): the
//! ticket typed in the IVR if it is still open, else the most urgent open ticket of the contact
//! their number identifies. The pop's lookups without its extras (history, articles), under
//! the same deadline, so a slow CRM delays queueing by at most `pop_timeout_ms`.
use super::model::Ticket;
use super::{pop, Crm, CrmError};

impl Crm {
    /// None when the CRM knows no open ticket for the caller, fails or is late.
    pub async fn routing_ticket(&self, caller: &str, typed: Option<&str>) -> Option<Ticket> {
        match tokio::time::timeout(self.deadline(), self.find_routing_ticket(caller, typed)).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) if e.is_breaker_open() => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "CRM lookup failed; call queued without its ticket");
                None
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.settings.pop_timeout_ms,
                    "CRM too slow; call queued without its ticket"
                );
                None
            }
        }
    }

    async fn find_routing_ticket(
        &self,
        caller: &str,
        typed: Option<&str>,
    ) -> Result<Option<Ticket>, CrmError> {
        let src = &self.source;
        if let Some(number) = typed {
            if let Some(t) = src.ticket_by_number(number).await? {
                if t.status.is_open() {
                    return Ok(Some(t));
                }
            }
        }
        let Some(number) = self.normalise(caller) else {
            return Ok(None);
        };
        let matches = src.contacts_by_phone(&number).await?;
        let Some(contact) = pop::choose_contact(None, &matches) else {
            return Ok(None);
        };
        let mut open = src.open_tickets(&contact.id, 20).await?;
        open.retain(|t| t.status.is_open());
        pop::order_tickets(&mut open);
        Ok(open.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use crate::crm::{demo, Crm};
    use crate::store::test_support::test_stores;

    const NOW: i64 = 1_795_000_000_000;

    fn number(t: Option<crate::crm::model::Ticket>) -> Option<String> {
        t.map(|t| t.number)
    }

    #[tokio::test]
    async fn the_typed_open_ticket_else_the_callers_most_urgent_open_one() {
        for ts in test_stores("crm_routing_ticket").await {
            let (contacts, tickets) = demo::demo_set(NOW);
            ts.store.insert_contacts(&contacts, NOW).await.unwrap();
            ts.store.insert_tickets(&tickets).await.unwrap();
            let crm = Crm::new(
                ts.store.clone(),
                crate::config::CrmSettings::default(),
                "GB",
            );
            // Ada Lovelace: T-401001 high and open, T-401002 normal and pending.
            let ada = "020 7946 0001";
            assert_eq!(
                number(crm.routing_ticket(ada, None).await).as_deref(),
                Some("T-401001"),
                "{}",
                ts.label
            );
            assert_eq!(
                number(crm.routing_ticket(ada, Some("T-401002")).await).as_deref(),
                Some("T-401002"),
                "{}: the ticket typed in the IVR wins",
                ts.label
            );
            // T-401007 is resolved: it does not route; Ada's own open ticket does.
            assert_eq!(
                number(crm.routing_ticket(ada, Some("T-401007")).await).as_deref(),
                Some("T-401001"),
                "{}",
                ts.label
            );
            assert_eq!(
                number(crm.routing_ticket("+15555550000", None).await),
                None,
                "{}: unknown caller",
                ts.label
            );
            ts.finish().await;
        }
    }
}
