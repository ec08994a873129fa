//! A caller's voicemail, once recorded: noted as a `call.voicemail` event and filed on a ticket
//! (the caller's, or a new one) as the call's interaction row, off the call's path. A database
//! outage only delays it: the filing is retried with back-off.

use super::driver::CallTask;
use crate::events::{now_ms, Event};
use crate::media::MediaEvent;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

/// How long a caller's hang-up waits for the recorder to close the message file.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Attempts before a voicemail filing is given up (the message file stays on disk).
const ATTEMPTS: u32 = 8;

impl CallTask {
    /// The call ended while the caller was leaving a message (most callers hang up rather than
    /// press `#`): close the recording and file what was said.
    pub(super) async fn voicemail_on_hangup(&mut self, media_rx: &mut Receiver<MediaEvent>) {
        self.recording_until = None;
        if !std::mem::take(&mut self.voicemail_open) {
            return;
        }
        self.media.stop_recording();
        let finished = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(ev) = media_rx.recv().await {
                if let MediaEvent::RecordingFinished { path, error, .. } = ev {
                    return Some((path, error));
                }
            }
            None
        })
        .await;
        match finished {
            Ok(Some((path, error))) => self.voicemail_recorded(&path, error.as_deref()),
            _ => {
                tracing::warn!(call_id = %self.call_id, "voicemail recording did not close; not filed")
            }
        }
    }

    /// The message is on disk at `path`: record it and store it with the caller's ticket.
    pub(super) fn voicemail_recorded(&mut self, path: &Path, error: Option<&str>) {
        if let Some(e) = error {
            tracing::warn!(call_id = %self.call_id, error = %e, "voicemail recording incomplete; filing what was written");
        }
        let path = path.display().to_string();
        self.facts.recording = Some(path.clone());
        self.record(Event::Voicemail {
            path,
            ticket: self.facts.ticket.clone(),
        });
        let interaction = self
            .facts
            .interaction(&self.call_id, &self.caller, now_ms());
        self.interaction_saved = true;
        let Some(crm) = self.env.ivr.as_ref().and_then(|p| p.crm.clone()) else {
            tracing::warn!(call_id = %self.call_id, "no CRM store: voicemail kept on disk only");
            return;
        };
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            for _ in 0..ATTEMPTS {
                match crm.file_voicemail(interaction.clone(), now_ms()).await {
                    Ok(saved) => {
                        let ticket = saved.ticket.map(|t| t.number);
                        tracing::info!(call_id = %interaction.call_id, ?ticket, "voicemail filed on the ticket");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(call_id = %interaction.call_id, error = %e, "voicemail not filed yet; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(30));
                    }
                }
            }
            tracing::error!(call_id = %interaction.call_id, recording = ?interaction.recording, "voicemail filing given up after retries");
        });
    }
}
