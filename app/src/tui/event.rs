//! Terminal input: crossterm's `EventStream` read in its own task and sent
//! over a channel, so the update loop only ever awaits channels.

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The input task. Stopped (and the stream dropped) before the terminal is
/// handed to an external editor, started again afterwards.
pub struct EventTask {
    handle: Option<JoinHandle<()>>,
    tx: mpsc::UnboundedSender<Event>,
}

impl EventTask {
    /// Starts reading terminal events into `tx`.
    pub fn start(tx: mpsc::UnboundedSender<Event>) -> Self {
        let mut t = EventTask { handle: None, tx };
        t.resume();
        t
    }

    /// Stops reading (for a suspended terminal).
    pub fn pause(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }

    /// Reads again after [`EventTask::pause`].
    pub fn resume(&mut self) {
        if self.handle.is_some() {
            return;
        }
        let tx = self.tx.clone();
        self.handle = Some(tokio::spawn(async move {
            let mut stream = EventStream::new();
            while let Some(ev) = stream.next().await {
                match ev {
                    Ok(ev) => {
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading terminal events failed");
                        return;
                    }
                }
            }
        }));
    }
}

impl Drop for EventTask {
    fn drop(&mut self) {
        self.pause();
    }
}
