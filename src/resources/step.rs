//! What every resource's steps share: the stage a step runs in, what the
//! steps of earlier stages have learned (`Facts`), and what a step hands on
//! (`Learned`). Each resource module defines its own `Step` enum and an
//! `apply` for it; `plan.rs` wraps them and `apply.rs` runs them by stage.

use anyhow::Context as _;

use crate::aws::{Clients, Waiting};
use crate::events::Events;
use crate::resources::distribution;
use crate::spec::Spec;

/// When a step runs: a stage starts once every step of the stages before it
/// is done; the steps of one stage run concurrently. In dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// What depends on nothing else of the stack: the bucket, the origin
    /// access control, the response headers policy, the certificate; for
    /// `down`, records taken off and the distribution disabled.
    Foundations,
    /// The distribution (needing the OAC, the policy and the certificate),
    /// and the bucket's settings beside it.
    Distribution,
    /// What names the distribution: the bucket policy and the DNS records;
    /// and what must follow the bucket's settings: the invalidation after
    /// its CORS rules narrowed.
    Links,
    /// Wait until the distribution has deployed.
    Deployed,
    /// Delete the disabled and deployed distribution.
    DistributionGone,
    /// What only the distribution used: the OAC, the stack's response
    /// headers policy, its certificates.
    Released,
    /// Delete the bucket's files: last but one, once everything that can
    /// refuse has succeeded.
    Emptied,
    /// Delete the (empty) bucket.
    BucketGone,
}

/// What is known about the stack's resources as the plan proceeds.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub oac_id: Option<String>,
    pub headers_policy_id: Option<String>,
    pub certificate_arn: Option<String>,
    pub zone_id: Option<String>,
    pub distribution: Option<distribution::Written>,
    /// Old names the distribution keeps while the domain moves.
    pub keep_aliases: Vec<String>,
    pub deleted_objects: u64,
    /// The policy write drops statements letting anyone read (the plan's choice).
    pub drop_public_reads: bool,
    /// What was left for a later run, and why.
    pub notes: Vec<String>,
}

impl Facts {
    pub fn links(&self) -> anyhow::Result<distribution::Links<'_>> {
        Ok(distribution::Links {
            oac_id: self
                .oac_id
                .as_deref()
                .context("origin access control: its id is not known yet")?,
            headers_policy_id: self
                .headers_policy_id
                .as_deref()
                .context("response headers policy: its id is not known yet")?,
            certificate_arn: self.certificate_arn.as_deref(),
            keep_aliases: &self.keep_aliases,
        })
    }

    pub fn zone_id(&self) -> anyhow::Result<&str> {
        self.zone_id.as_deref().context("DNS: the hosted zone is not known")
    }

    pub fn distribution(&self) -> anyhow::Result<&distribution::Written> {
        self.distribution.as_ref().context("distribution: not created yet")
    }

    /// Take in what a step learned.
    pub fn learn(&mut self, learned: Learned) {
        match learned {
            Learned::Nothing => {}
            Learned::Oac(id) => self.oac_id = Some(id),
            Learned::HeadersPolicy(id) => self.headers_policy_id = Some(id),
            Learned::Certificate(arn) => self.certificate_arn = Some(arn),
            Learned::Distribution(d) => self.distribution = Some(d),
            Learned::Deleted(n) => self.deleted_objects += n,
            Learned::Note(note) => self.notes.push(note),
        }
    }
}

/// What a step hands on to later stages.
pub enum Learned {
    Nothing,
    Oac(String),
    HeadersPolicy(String),
    Certificate(String),
    Distribution(distribution::Written),
    Deleted(u64),
    Note(String),
}

/// Everything a step may use while it runs. Events are used only for
/// progress while waiting (`on_refusal`, `progress`) and the lines saying a
/// wait ended.
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
}
