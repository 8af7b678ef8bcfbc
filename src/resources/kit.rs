//! The resource kit: what every resource's steps share, so that a resource
//! lives in its own module and nothing central grows with it.
//!
//! - A step says what it needs and what it provides, as [`Fact`]s about kinds
//!   of resource ("the OAC exists", "the distribution is gone"). `apply`
//!   starts a step once every step of the plan providing one of its needs has
//!   finished; a need that no step of the plan provides is already met (the
//!   resource was observed). There is no global list of stages: teardown is
//!   ordered by the same facts (a delete needs `Gone` of what used it).
//! - What steps learn (a new id, ARN or domain name) lives in one map keyed by
//!   [`Kind`], in [`Facts`].
//! - Each module's `Step` implements [`Action`]; `plan.rs` lists the modules
//!   once (`steps!`), which gives the plan's `Step` and its dispatch.

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::aws::{Clients, Waiting};
use crate::events::Events;
use crate::resources::Kind;
use crate::spec::Spec;

/// Something true of a kind of resource once a step has run. Steps are
/// ordered by these: a step runs after every step providing one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    /// It exists and its id is known (created, or found by this run).
    Exists(Kind),
    /// Its configuration was written (settings, an update, a disable).
    Written(Kind),
    /// Its last write has reached CloudFront's edges.
    Deployed(Kind),
    /// Its contents are deleted (the bucket's files).
    Emptied(Kind),
    /// It is deleted.
    Gone(Kind),
}

impl Fact {
    /// What a resource that only `user` names waits for before it goes:
    /// `user` no longer naming it everywhere (written and deployed), or
    /// `user` gone.
    pub fn unused_by(user: Kind) -> Vec<Fact> {
        vec![Fact::Written(user), Fact::Deployed(user), Fact::Gone(user)]
    }

    /// `Gone` of every kind but `except`: what must be over before the last
    /// step of a teardown (the bucket's) may run.
    pub fn all_gone_but(except: Kind) -> Vec<Fact> {
        Kind::ALL
            .iter()
            .filter(|k| **k != except)
            .map(|k| Fact::Gone(*k))
            .collect()
    }
}

/// One resource module's step: what it needs and provides, and how it is
/// applied.
#[allow(async_fn_in_trait)]
pub trait Action {
    /// The kind of resource every step of the module changes.
    const KIND: Kind;
    /// The facts that must hold before it runs.
    fn needs(&self) -> Vec<Fact>;
    /// The facts that hold once it has run.
    fn provides(&self) -> Vec<Fact>;
    /// Everything but waiting writes.
    fn is_write(&self) -> bool {
        true
    }
    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned>;
}

/// What is known of one resource: its id, and where it has them, its ARN and
/// domain name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
}

impl Known {
    /// A resource known by its id alone (for a certificate, its ARN).
    pub fn id(id: impl Into<String>) -> Known {
        Known {
            id: id.into(),
            ..Known::default()
        }
    }
}

/// What is known about the stack's resources as the plan proceeds.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    known: BTreeMap<Kind, Known>,
    pub zone_id: Option<String>,
    /// Old names the distribution keeps while the domain moves.
    pub keep_aliases: Vec<String>,
    pub deleted_objects: u64,
    /// The policy write drops statements letting anyone read (the plan's choice).
    pub drop_public_reads: bool,
    /// What was left for a later run, and why.
    pub notes: Vec<String>,
}

impl Facts {
    /// What is known of a resource of this kind, if anything.
    pub fn get(&self, kind: Kind) -> Option<&Known> {
        self.known.get(&kind)
    }

    /// What is known of a resource of this kind, or why a step cannot go on.
    pub fn known(&self, kind: Kind) -> anyhow::Result<&Known> {
        self.get(kind)
            .with_context(|| format!("{}: not known yet", kind.label()))
    }

    /// Its id, or why a step cannot go on.
    pub fn id(&self, kind: Kind) -> anyhow::Result<&str> {
        self.known(kind).map(|k| k.id.as_str())
    }

    /// Record what is known of a resource (observed, or learned by a step).
    pub fn set(&mut self, kind: Kind, known: Option<Known>) {
        match known {
            Some(k) => self.known.insert(kind, k),
            None => self.known.remove(&kind),
        };
    }

    pub fn zone_id(&self) -> anyhow::Result<&str> {
        self.zone_id.as_deref().context("DNS: the hosted zone is not known")
    }

    /// Take in what a step learned.
    pub fn learn(&mut self, learned: Learned) {
        match learned {
            Learned::Nothing => {}
            Learned::Known(kind, known) => self.set(kind, Some(known)),
            Learned::Deleted(n) => self.deleted_objects += n,
            Learned::Note(note) => self.notes.push(note),
        }
    }
}

/// What a step hands on to the steps after it.
pub enum Learned {
    Nothing,
    /// A resource's id (and ARN, domain name), new or found.
    Known(Kind, Known),
    Deleted(u64),
    Note(String),
}

/// Everything a step may use while it runs. Events are used only for
/// progress while waiting and the lines saying a wait ended.
pub struct Cx<'a> {
    pub clients: &'a Clients,
    pub spec: &'a Spec,
    pub facts: &'a Facts,
    pub waiting: &'a Waiting,
    pub events: &'a dyn Events,
}

/// One resource's part of a plan: its steps, each with the words that show
/// it, and notes on what it leaves alone and why.
#[derive(Debug)]
pub struct Part<S> {
    pub steps: Vec<Planned<S>>,
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct Planned<S> {
    pub step: S,
    /// "bucket example-static", "distribution E123", "DNS static.example.com".
    pub resource: String,
    /// "create", "update public access block", "delete", …
    pub action: String,
    /// What differs, one line each.
    pub details: Vec<String>,
}

impl<S> Default for Part<S> {
    fn default() -> Self {
        Part {
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }
}

impl<S> Part<S> {
    pub fn step(&mut self, step: S, resource: &str, action: &str, details: Vec<String>) {
        self.steps.push(Planned {
            step,
            resource: resource.to_string(),
            action: action.to_string(),
            details,
        });
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// `down` of a resource that distributions name: its delete once none
    /// does (`users`: the distributions that still do), else a note.
    pub fn delete_when_unused(delete: S, resource: &str, users: &[String]) -> Part<S> {
        let mut part = Part::default();
        if users.is_empty() {
            part.step(delete, resource, "delete", vec![]);
        } else {
            part.note(format!(
                "{resource}: still used by distribution {}: left alone",
                users.join(", ")
            ));
        }
        part
    }
}

/// For each step, the steps it waits for: every other step providing one of
/// its needs. Pure, so the order is unit-tested without AWS.
pub fn waits_for(needs: &[Vec<Fact>], provides: &[Vec<Fact>]) -> Vec<Vec<usize>> {
    needs
        .iter()
        .enumerate()
        .map(|(i, needs)| {
            (0..provides.len())
                .filter(|&j| j != i && provides[j].iter().any(|f| needs.contains(f)))
                .collect()
        })
        .collect()
}

/// The round each step runs in when every step takes as long: 0 for steps
/// that wait for none, else one more than the latest they wait for. `None`
/// when steps wait for each other in a circle (a bug in a module's facts).
pub fn rounds(waits: &[Vec<usize>]) -> Option<Vec<usize>> {
    let mut round: Vec<Option<usize>> = vec![None; waits.len()];
    for _ in 0..=waits.len() {
        let mut changed = false;
        for i in 0..waits.len() {
            if round[i].is_some() {
                continue;
            }
            let before: Option<Vec<usize>> = waits[i].iter().map(|&j| round[j]).collect();
            if let Some(before) = before {
                round[i] = Some(before.into_iter().max().map_or(0, |r| r + 1));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    round.into_iter().collect()
}
