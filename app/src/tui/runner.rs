//! Runs App's requests: each [`Out::Request`] in its own tokio task over the
//! shared [`Client`], replying over a channel with the id App gave it; each
//! [`Out::Cancel`] aborts its task. The event loop owns the runner; App never
//! sees a task, so it can be driven without a runtime in tests.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;

use crate::client::Client;

use super::app::{Effect, Out};
use super::backend::{Request, Response};

/// Spawns requests over one client and keeps their abort handles.
pub struct Runner {
    client: Client,
    tx: mpsc::UnboundedSender<Response>,
    tasks: HashMap<u64, AbortHandle>,
    /// Per streaming request (follow mode): permits for replies it may send
    /// before the loop has taken the earlier ones, so a watch faster than the
    /// UI waits (the watch's own channel then slows the fetching) instead of
    /// filling the reply channel.
    credits: HashMap<u64, Arc<Semaphore>>,
}

/// Replies a streaming request may have sent and the loop not yet taken.
pub const STREAM_CREDITS: usize = 16;

impl Runner {
    pub fn new(client: Client, tx: mpsc::UnboundedSender<Response>) -> Self {
        Runner {
            client,
            tx,
            tasks: HashMap::new(),
            credits: HashMap::new(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Later requests run over `client` (running ones are App's to cancel).
    pub fn set_client(&mut self, client: Client) {
        self.client = client;
    }

    /// A sender for replies that do not come from a request (the dev broker).
    pub fn sender(&self) -> mpsc::UnboundedSender<Response> {
        self.tx.clone()
    }

    /// Requests still running.
    pub fn running(&self) -> usize {
        self.tasks.values().filter(|h| !h.is_finished()).count()
    }

    /// Runs `req` in a task that replies with `id`.
    pub fn spawn(&mut self, id: u64, req: Request) {
        let client = self.client.clone();
        let tx = self.tx.clone();
        if let Request::Follow {
            topic,
            partitions,
            range,
        } = req
        {
            let credits = Arc::new(Semaphore::new(STREAM_CREDITS));
            self.credits.insert(id, credits.clone());
            let handle = tokio::spawn(super::backend::follow(
                client,
                topic,
                partitions,
                range,
                credits,
                move |reply| tx.send(Response { id, reply }).is_ok(),
            ));
            self.tasks.insert(id, handle.abort_handle());
            return;
        }
        if matches!(req, Request::Filter { .. }) {
            let handle = tokio::spawn(async move {
                let progress = tx.clone();
                let send = move |reply| progress.send(Response { id, reply }).is_ok();
                if let Some(reply) = super::backend::filter(client, req, send).await {
                    let _ = tx.send(Response { id, reply });
                }
            });
            self.tasks.insert(id, handle.abort_handle());
            return;
        }
        let handle = tokio::spawn(async move {
            let reply = super::backend::run(client, req).await;
            let _ = tx.send(Response { id, reply });
        });
        self.tasks.insert(id, handle.abort_handle());
    }

    /// Aborts the request `id`, if it still runs.
    pub fn cancel(&mut self, id: u64) {
        self.credits.remove(&id);
        if let Some(h) = self.tasks.remove(&id) {
            h.abort();
        }
    }

    /// The reply of `id` arrived: forget its handle.
    pub fn finished(&mut self, id: u64) {
        self.credits.remove(&id);
        self.tasks.remove(&id);
    }

    /// A reply of `id` was taken: a stream may send another one. (The loop
    /// calls this for every reply; only streams have credits.)
    pub fn taken(&mut self, id: u64) {
        if let Some(c) = self.credits.get(&id) {
            c.add_permits(1);
        }
    }

    /// A reply arrived: a stream's frees a credit for the next one, any
    /// other ends its request. The loop calls this for every reply.
    pub fn received(&mut self, resp: &Response) {
        if resp.reply.is_stream() {
            self.taken(resp.id);
        } else {
            self.finished(resp.id);
        }
    }

    /// Spawns and cancels as App asked; returns the effects, in order, for
    /// the loop that owns the terminal.
    pub fn perform(&mut self, outs: Vec<Out>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for out in outs {
            match out {
                Out::Request(id, req) => self.spawn(id, req),
                Out::Cancel(id) => self.cancel(id),
                Out::Effect(e) => effects.push(e),
            }
        }
        effects
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        for h in self.tasks.values() {
            h.abort();
        }
    }
}
