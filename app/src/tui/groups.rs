//! The groups view's state and its network work: the consumer groups (all,
//! or those with offsets in one topic) with state, members and total lag,
//! and one group's partitions (committed offset, log end, lag), refreshed
//! in the background while shown.
//!
//! The refresh is a request that sleeps before it reads
//! ([`GroupsRequest::List`] / [`GroupsRequest::Detail`] with `after`); each
//! reply asks for the next one, so the UI never waits and leaving the view
//! cancels the one in flight. Refreshes are quiet: they do not turn the
//! spinner (see `App::groups_owns`).

use std::time::Duration;

use crate::client::{Client, GroupDescription, GroupError, SeekOutcome, SeekTo};

/// How often the shown list or group is read again.
pub const REFRESH: Duration = Duration::from_secs(2);

/// Network work of the groups view.
#[derive(Clone, Debug)]
pub enum GroupsRequest {
    /// Every group described, or only those with offsets or owners in `topic`.
    List {
        topic: Option<String>,
        after: Duration,
    },
    /// One group described.
    Detail {
        group: String,
        after: Duration,
    },
    /// Commit new offsets for a group without members.
    Seek {
        group: String,
        to: SeekTo,
    },
    Delete {
        group: String,
    },
}

impl GroupsRequest {
    pub fn label(&self) -> &'static str {
        match self {
            GroupsRequest::List { .. } => "listing groups",
            GroupsRequest::Detail { .. } => "describing the group",
            GroupsRequest::Seek { .. } => "seeking the group",
            GroupsRequest::Delete { .. } => "deleting the group",
        }
    }
}

/// A finished [`GroupsRequest`]; errors as text for the status line.
#[derive(Debug)]
pub enum GroupsReply {
    List(Result<Vec<GroupDescription>, String>),
    Detail {
        group: String,
        result: Result<GroupDescription, String>,
    },
    /// A seek or delete: what to say in the status line; `deleted` names
    /// the group that is gone.
    Changed {
        deleted: Option<String>,
        result: Result<String, String>,
    },
}

/// Runs one request over `client` (in a task of the runner).
pub async fn run(client: &Client, req: GroupsRequest) -> GroupsReply {
    match req {
        GroupsRequest::List { topic, after } => {
            tokio::time::sleep(after).await;
            GroupsReply::List(match client.describe_groups().await {
                Ok(mut all) => {
                    if let Some(t) = &topic {
                        all.retain(|g| g.topics().contains(t.as_str()));
                    }
                    Ok(all)
                }
                Err(e) => Err(e.to_string()),
            })
        }
        GroupsRequest::Detail { group, after } => {
            tokio::time::sleep(after).await;
            let result = client
                .describe_group(&group)
                .await
                .map_err(|e| e.to_string());
            GroupsReply::Detail { group, result }
        }
        GroupsRequest::Seek { group, to } => GroupsReply::Changed {
            deleted: None,
            result: match client.seek_group(&group, &to, &[]).await {
                Ok(outcomes) => seek_summary(&group, &outcomes),
                Err(e) => Err(e.to_string()),
            },
        },
        GroupsRequest::Delete { group } => {
            let result = match client.delete_groups(std::slice::from_ref(&group)).await {
                Ok(mut outcomes) => match outcomes.pop().map(|o| o.result) {
                    Some(Ok(())) | None => Ok(format!("group {group} deleted")),
                    Some(Err(e)) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            };
            GroupsReply::Changed {
                deleted: result.is_ok().then_some(group),
                result,
            }
        }
    }
}

fn seek_summary(group: &str, outcomes: &[SeekOutcome]) -> Result<String, String> {
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|e: &GroupError| format!("{}/{}: {e}", o.topic, o.partition))
        })
        .collect();
    if failed.is_empty() {
        Ok(format!(
            "group {group}: {} partition(s) moved",
            outcomes.len()
        ))
    } else {
        Err(failed.join("; "))
    }
}

/// What the groups view shows.
#[derive(Debug, Default)]
pub struct GroupsView {
    /// Only groups with offsets or owners in this topic.
    pub topic: Option<String>,
    pub groups: Vec<GroupDescription>,
    /// False until the first listing arrives.
    pub loaded: bool,
    pub cursor: usize,
    /// The group opened with Enter (its latest description), and the row
    /// of its partition table.
    pub detail: Option<GroupDescription>,
    pub detail_cursor: usize,
    /// The background refresh in flight (its request id).
    pub refresh: Option<u64>,
    /// The last refresh failed: why (the data shown is from before).
    pub stale: Option<String>,
}

impl GroupsView {
    pub fn new(topic: Option<String>) -> Self {
        GroupsView {
            topic,
            ..GroupsView::default()
        }
    }

    pub fn selected(&self) -> Option<&GroupDescription> {
        self.groups.get(self.cursor)
    }

    /// The group the actions apply to: the open one, else the selected one.
    pub fn target(&self) -> Option<&str> {
        self.detail
            .as_ref()
            .or_else(|| self.selected())
            .map(|g| g.name.as_str())
    }

    /// Takes a new listing, keeping the cursor on the same group.
    pub fn accept_list(&mut self, groups: Vec<GroupDescription>) {
        let selected = self.selected().map(|g| g.name.clone());
        self.groups = groups;
        self.loaded = true;
        self.stale = None;
        if let Some(i) = selected.and_then(|n| self.groups.iter().position(|g| g.name == n)) {
            self.cursor = i;
        }
        self.cursor = self.cursor.min(self.groups.len().saturating_sub(1));
    }

    /// Takes a new description of the open group.
    pub fn accept_detail(&mut self, group: GroupDescription) {
        self.detail_cursor = self
            .detail_cursor
            .min(group.partitions.len().saturating_sub(1));
        if let Some(row) = self.groups.iter_mut().find(|g| g.name == group.name) {
            *row = group.clone();
        }
        self.detail = Some(group);
        self.stale = None;
    }

    /// Moves the cursor of the list or of the open group's table.
    pub fn move_by(&mut self, delta: isize) {
        let (cursor, len) = match &self.detail {
            Some(d) => (&mut self.detail_cursor, d.partitions.len()),
            None => (&mut self.cursor, self.groups.len()),
        };
        let last = len.saturating_sub(1) as isize;
        *cursor = (*cursor as isize + delta).clamp(0, last.max(0)) as usize;
    }
}
