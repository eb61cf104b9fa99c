//! The `:` commands and what the other prompts (`/` filter, new key) submit.
//!
//! | command | does |
//! |---|---|
//! | `:q` `:quit` | quit |
//! | `:topic NAME [P]` `:t` | open a topic, all partitions or partition P |
//! | `:scan START END` | scan `[START, END)` in the key format (`-`: open end) |
//! | `:get K...` | look keys up (merged view: in every partition, each copy listed) |
//! | `:groups [TOPIC]` | the consumer groups (of TOPIC) |
//! | `:seek start\|end\|TIMESTAMP` | in the groups view: seek the group (confirmed first) |
//! | `:ctx [NAME]` | list profiles / switch to profile NAME |
//! | `:help` | the help popup |

use crate::client::ScanRange;

use super::super::backend::{GetPurpose, LocatePurpose, Request};
use super::super::fmt::KeyFormat;
use super::super::popups::{HelpPopup, InputKind, Popup};
use super::{App, Effect, Origin, Pending};

impl App {
    /// What a prompt submits.
    pub(super) fn submit_input(&mut self, kind: InputKind, text: String) {
        match kind {
            InputKind::Command => self.command(text.trim()),
            InputKind::ValueFilter => self.start_value_filter(text.trim()),
            InputKind::Filter => match self.key_format.parse(&text) {
                Ok(prefix) => {
                    if prefix.is_empty() {
                        self.info("filter cleared");
                    } else {
                        self.info(format!("prefix {text}"));
                    }
                    self.set_filter(prefix);
                }
                Err(e) => self.error(e),
            },
            InputKind::NewKey => {
                let key = match self.key_format.parse(&text) {
                    Ok(k) if !k.is_empty() => k,
                    Ok(_) => return self.info("no key given"),
                    Err(e) => return self.error(e),
                };
                let Some(s) = &self.scan else { return };
                let Some(partition) = s.fixed_partition() else {
                    // Merged view: the key may live anywhere already.
                    let (topic, partitions) = (s.topic.clone(), s.partitions.clone());
                    self.request(Request::Locate {
                        topic,
                        partitions,
                        keys: vec![key],
                        purpose: LocatePurpose::NewKey,
                    });
                    return;
                };
                let pending = Pending {
                    topic: s.topic.clone(),
                    partition,
                    key,
                    base: None,
                    new: None,
                    origin: Origin::New,
                    edit_format: KeyFormat::Utf8,
                };
                self.open_editor(pending, false);
            }
        }
    }

    /// Runs a `:` command (without the colon).
    pub fn command(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else { return };
        let args: Vec<&str> = words.collect();
        match cmd {
            "q" | "q!" | "quit" | "qa" => self.quit = true,
            "topic" | "t" => {
                self.close_groups();
                self.cmd_topic(&args)
            }
            "scan" => self.cmd_scan(&args),
            "get" => self.cmd_get(&args),
            "groups" | "group" | "g" => self.open_groups(args.first().map(|t| t.to_string())),
            "seek" => self.cmd_seek(&args),
            "ctx" | "context" | "profile" => match args.first() {
                None => {
                    let list = if self.profiles.is_empty() {
                        "no profiles in the config file".to_owned()
                    } else {
                        format!("profiles: {}", self.profiles.join(", "))
                    };
                    let cur = self.profile.clone().unwrap_or_else(|| "(none)".into());
                    self.info(format!("{list} (current: {cur}; :ctx NAME switches)"));
                }
                Some(name) => self.effect(Effect::SwitchProfile(name.to_string())),
            },
            "help" | "h" => self.popup = Some(Popup::Help(HelpPopup::default())),
            other => self.error(format!(
                "unknown command :{other} (try :topic :scan :get :groups :ctx :q)"
            )),
        }
    }

    fn cmd_topic(&mut self, args: &[&str]) {
        let Some(name) = args.first() else {
            return self.error("usage: :topic NAME");
        };
        let p = match args.get(1).map(|p| p.parse::<i32>()) {
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => return self.error("usage: :topic NAME [PARTITION]"),
            None => None,
        };
        match self.topics.iter().find(|t| t.name == *name).cloned() {
            Some(t) => self.open_topic(&t, p),
            // Topics are still being listed: open it when they are.
            None if self.topics.is_empty() && self.busy() => {
                self.open_on_start = Some(name.to_string());
            }
            None => self.error(format!("no topic {name:?}")),
        }
    }

    fn cmd_scan(&mut self, args: &[&str]) {
        if self.scan.is_none() {
            return self.error("open a topic first (:topic NAME)");
        }
        let parse = |s: Option<&&str>| -> Result<Option<Vec<u8>>, String> {
            match s {
                None | Some(&"-") | Some(&"") => Ok(None),
                Some(t) => self.key_format.parse(t).map(Some),
            }
        };
        let (start, end) = match (parse(args.first()), parse(args.get(1))) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => return self.error(e),
        };
        self.set_range(ScanRange { start, end }, None);
    }

    fn cmd_get(&mut self, args: &[&str]) {
        let Some(s) = &self.scan else {
            return self.error("open a topic first (:topic NAME)");
        };
        if args.is_empty() {
            return self.error("usage: :get KEY...");
        }
        let mut keys = Vec::new();
        for a in args {
            match self.key_format.parse(a) {
                Ok(k) => keys.push(k),
                Err(e) => return self.error(e),
            }
        }
        let topic = s.topic.clone();
        let request = match s.fixed_partition() {
            Some(p) => Request::Get {
                topic,
                keys: keys.into_iter().map(|k| (p, k)).collect(),
                purpose: GetPurpose::Lookup,
            },
            None => Request::Locate {
                topic,
                partitions: s.partitions.clone(),
                keys,
                purpose: LocatePurpose::Lookup,
            },
        };
        self.request(request);
    }
}
