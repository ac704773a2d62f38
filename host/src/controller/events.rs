//! What happened to a pipeline, as Kubernetes Events tell it (`kubectl describe mp X`):
//! training dispatched, promoted, traffic shifted, rollout completed, rolled back, run
//! failed, policy module refused. The controller emits them without waiting; a bounded
//! queue takes them to whoever publishes them, and a full queue drops (and logs) rather
//! than slowing the loop.

use tokio::sync::mpsc;

use crate::notify::Kind;

/// Events queued per pipeline before new ones are dropped.
pub const QUEUE: usize = 64;
/// Longest event note, in bytes (the Events API's limit).
pub const MAX_NOTE_BYTES: usize = 1024;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineEvent {
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    /// PascalCase reason (`Promoted`, `RolledBack`, …).
    pub reason: &'static str,
    /// The sentence (at most [`MAX_NOTE_BYTES`], as the Events API allows).
    pub note: String,
}

impl PipelineEvent {
    fn new(warning: bool, reason: &'static str, note: &str) -> Self {
        // The Events API takes at most 1 kB; the excerpt's marker and escapes count.
        let mut note = crate::decision::excerpt(note, MAX_NOTE_BYTES - 64);
        let mut end = note.len().min(MAX_NOTE_BYTES);
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        Self {
            warning,
            reason,
            note,
        }
    }

    /// The event of a notification.
    pub fn of(kind: Kind, reason: Option<&str>, text: &str) -> Self {
        let note = match reason {
            Some(r) if !text.contains(r) => format!("{text} ({r})"),
            _ => text.to_owned(),
        };
        match kind {
            Kind::Promoted => Self::new(false, "Promoted", &note),
            Kind::Step => Self::new(false, "TrafficShifted", &note),
            Kind::Completed => Self::new(false, "RolloutCompleted", &note),
            Kind::RolledBack => Self::new(true, "RolledBack", &note),
            Kind::RunFailed => Self::new(true, "RunFailed", &note),
        }
    }

    /// A training Job was created.
    pub fn dispatched(text: &str) -> Self {
        Self::new(false, "TrainingDispatched", text)
    }

    /// A policy module this pipeline uses was refused (the previous version serves).
    pub fn policy_refused(module: &str, why: &str) -> Self {
        Self::new(
            true,
            "PolicyRefused",
            &format!("policy module `{module}` refused; the previous version stays: {why}"),
        )
    }

    /// The spec failed its checks; nothing runs until it is fixed.
    pub fn invalid(text: &str) -> Self {
        Self::new(true, "InvalidSpec", text)
    }

    /// The spec was (re)loaded and its pipeline started.
    pub fn started(text: &str) -> Self {
        Self::new(false, "Started", text)
    }
}

/// Where a pipeline's events go. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<PipelineEvent>,
    pipeline: String,
}

impl EventSink {
    /// A sink for `pipeline` and the queue it feeds.
    pub fn new(pipeline: &str) -> (Self, mpsc::Receiver<PipelineEvent>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            Self {
                tx,
                pipeline: pipeline.to_owned(),
            },
            rx,
        )
    }

    /// Queues `event`; never waits. A full or closed queue drops it with a log line.
    pub fn emit(&self, event: PipelineEvent) {
        if let Err(e) = self.tx.try_send(event) {
            tracing::warn!(pipeline = %self.pipeline, error = %e, "a Kubernetes Event was dropped (the queue is full or closed)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_map_to_reasons_and_warnings() {
        let e = PipelineEvent::of(
            Kind::RolledBack,
            Some("latency regressed"),
            "rolled back v3",
        );
        assert_eq!((e.warning, e.reason), (true, "RolledBack"));
        assert_eq!(e.note, "rolled back v3 (latency regressed)");
        let e = PipelineEvent::of(Kind::Promoted, None, "promoted v2");
        assert_eq!((e.warning, e.reason), (false, "Promoted"));
        for long in ["x".repeat(5000), "\u{1b}".repeat(5000), "é".repeat(3000)] {
            assert!(PipelineEvent::dispatched(&long).note.len() <= MAX_NOTE_BYTES);
        }
    }

    proptest::proptest! {
        /// Any text — control characters, multi-byte characters, any length — gives a
        /// note within the Events API's limit, cut on a character boundary; short
        /// printable text is kept as it is.
        #[test]
        fn every_note_fits_the_events_api(text in "(?s).{0,3000}", plain in "[ -~]{0,900}") {
            let note = PipelineEvent::dispatched(&text).note;
            proptest::prop_assert!(note.len() <= MAX_NOTE_BYTES, "{} bytes", note.len());
            proptest::prop_assert_eq!(PipelineEvent::dispatched(&plain).note, plain);
        }
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        let (sink, mut rx) = EventSink::new("fraud");
        for _ in 0..QUEUE + 10 {
            sink.emit(PipelineEvent::dispatched("x"));
        }
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, QUEUE);
    }
}
