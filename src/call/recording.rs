//! Call recording for queues with `record = true`: from the agent's answer to the end of the
//! agent's part, the caller's RTP session is recorded as a stereo WAV (left: the caller, right:
//! what the caller hears, i.e. the agent) under the configured directory. The path goes on the
//! call's interaction row and in a `call.recording` event.

use super::driver::{sanitize, CallTask};
#[cfg(test)]
use super::env::CallRecording;
use crate::events::Event;
use crate::media::RecordingMode;
use std::path::{Path, PathBuf};

/// `<dir>/<yyyy-mm-dd>/<call id>-<n>.wav`: one file per answer (a transferred call answered
/// again gets the next `n`).
pub(super) fn file_for(
    dir: &Path,
    call_id: &str,
    n: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> PathBuf {
    dir.join(now.format("%Y-%m-%d").to_string())
        .join(format!("{}-{n}.wav", sanitize(call_id)))
}

impl CallTask {
    /// The agent answered: record the call if its queue says so.
    pub(super) fn start_call_recording(&mut self, agent: &str) {
        let Some(rec) = self.env.ivr.as_ref().map(|p| &p.recording) else {
            return;
        };
        let queue = self.facts.queue.clone().unwrap_or_default();
        if !rec.records(&queue) {
            return;
        }
        let path = file_for(
            &rec.dir,
            &self.call_id,
            self.call_recordings.len() + 1,
            chrono::Utc::now(),
        );
        if let Some(dir) = path.parent() {
            // Once a day per directory; the media writer reports a file it cannot create.
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(call_id = %self.call_id, dir = %dir.display(), error = %e, "recording directory cannot be created; call not recorded");
                return;
            }
        }
        tracing::info!(call_id = %self.call_id, path = %path.display(), %queue, "recording the call");
        self.media
            .start_recording(path.clone(), RecordingMode::Stereo);
        let shown = path.display().to_string();
        self.facts.recording = Some(shown.clone());
        self.call_recordings.push(path);
        self.record(Event::CallRecording {
            path: shown,
            queue,
            agent: agent.to_string(),
        });
    }

    /// The agent's part is over: close the recording (its file is completed off the call's path).
    pub(super) fn stop_call_recording(&mut self) {
        if !self.call_recordings.is_empty() {
            self.media.stop_recording();
        }
    }

    /// A recording finished: one of the call's recordings (logged), else the IVR's voicemail.
    /// Returns whether it was a call recording.
    pub(super) fn call_recording_finished(&self, path: &Path, error: Option<&str>) -> bool {
        if !self.call_recordings.iter().any(|p| p == path) {
            return false;
        }
        match error {
            Some(e) => {
                tracing::warn!(call_id = %self.call_id, path = %path.display(), error = %e, "call recording failed")
            }
            None => {
                tracing::info!(call_id = %self.call_id, path = %path.display(), "call recording complete")
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_in_a_directory_per_day_named_for_the_call() {
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let p = file_for(Path::new("/rec"), "a1b2@10.0.0.1:5060", 2, at);
        assert_eq!(p, Path::new("/rec/2026-11-18/a1b2_10_0_0_1_5060-2.wav"));
    }

    #[test]
    fn only_listed_queues_record() {
        let r = CallRecording {
            dir: "/rec".into(),
            queues: ["emergencies".to_string()].into(),
        };
        assert!(r.records("emergencies"));
        assert!(!r.records("hardware"));
    }
}
