//! Plan: a pure diff from what exists (`World`) to what should (`Spec` for
//! `up`, nothing for `down`), as an ordered list of changes. `up`, `down` and
//! `status` all go through here; only `up` and `down` apply the result.

use crate::observe::World;
use crate::resources::kit::{Action, Cx, Fact, Learned, Part};
use crate::resources::Kind;
use crate::resources::{bucket, certificate, distribution, dns, function, kvs, oac, oai, response_headers};
use crate::spec::Spec;

mod down;
mod preflight;
mod removals;
mod up;

pub use down::{down, DownOptions};
pub use preflight::preflight;
pub use removals::{explain, removals};
pub use up::{changes, facts, release_kept};

/// The plan's steps: one variant per resource module, each wrapping that
/// module's own `Step`. A new resource is one line here; its module says,
/// through [`Action`], what each step needs, provides and does.
macro_rules! steps {
    ($($variant:ident($module:ident)),* $(,)?) => {
        #[derive(Debug, Clone, PartialEq)]
        pub enum Step {
            $($variant($module::Step)),*
        }

        impl Step {
            /// The kind of resource it changes.
            pub fn kind(&self) -> Kind {
                match self {
                    $(Step::$variant(_) => <$module::Step as Action>::KIND),*
                }
            }

            /// The facts that must hold before it runs.
            pub fn needs(&self) -> Vec<Fact> {
                match self {
                    $(Step::$variant(s) => s.needs()),*
                }
            }

            /// The facts that hold once it has run.
            pub fn provides(&self) -> Vec<Fact> {
                match self {
                    $(Step::$variant(s) => s.provides()),*
                }
            }

            /// Everything but waiting writes.
            pub fn is_write(&self) -> bool {
                match self {
                    $(Step::$variant(s) => s.is_write()),*
                }
            }

            /// Hand the step to the module of its resource.
            pub async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
                match self {
                    $(Step::$variant(s) => s.apply(cx).await),*
                }
            }
        }

        $(impl From<$module::Step> for Step {
            fn from(step: $module::Step) -> Step {
                Step::$variant(step)
            }
        })*
    };
}

steps!(
    Bucket(bucket),
    Oac(oac),
    HeadersPolicy(response_headers),
    Certificate(certificate),
    Distribution(distribution),
    Dns(dns),
    Store(kvs),
    Function(function),
    Oai(oai),
);

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub step: Step,
    /// "bucket example-static", "distribution E123", "DNS static.example.com".
    pub resource: String,
    /// "create", "update public access block", "delete", …
    pub action: String,
    /// What differs, one line each.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Things left alone, and why (a bucket kept because it holds files, …).
    pub notes: Vec<String>,
    /// The policy write drops the statements letting anyone read
    /// (`up --end-public-access`).
    pub drop_public_reads: bool,
}

impl Plan {
    /// The plan for people: the heading, a line per change and its
    /// details, then the notes.
    pub fn lines(&self, heading: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.changes.is_empty() {
            out.push(format!("{heading}: nothing to do"));
        } else {
            out.push(format!("{heading}:"));
            for c in &self.changes {
                out.push(format!("  {}: {}", c.resource, c.action));
                out.extend(c.details.iter().map(|d| format!("      {d}")));
            }
        }
        out.extend(self.notes.iter().map(|n| format!("  note: {n}")));
        out
    }

    /// For each change, the changes it waits for (see `kit::waits_for`).
    pub fn waits(&self) -> Vec<Vec<usize>> {
        let needs: Vec<Vec<Fact>> = self.changes.iter().map(|c| c.step.needs()).collect();
        let provides: Vec<Vec<Fact>> = self.changes.iter().map(|c| c.step.provides()).collect();
        crate::resources::kit::waits_for(&needs, &provides)
    }

    pub fn writes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.step.is_write())
    }

    /// Take in one resource's part, after what is there.
    pub(crate) fn add<S: Into<Step>>(&mut self, part: Part<S>) {
        for p in part.steps {
            self.push(p.step, &p.resource, &p.action, p.details);
        }
        self.notes.extend(part.notes);
    }

    pub(crate) fn push(&mut self, step: impl Into<Step>, resource: &str, action: &str, details: Vec<String>) {
        self.changes.push(Change {
            step: step.into(),
            resource: resource.to_string(),
            action: action.to_string(),
            details,
        });
    }
}

/// A reason not to write anything at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

pub struct UpOptions {
    pub adopt: bool,
    /// The user accepts that a bucket serving the public directly stops doing so.
    pub end_public_access: bool,
    pub wait: bool,
    /// Seconds since the epoch, for certificate expiry.
    pub now: i64,
}

/// Everything `up` must do to make the world match the spec, or the reasons
/// it must not start.
pub fn up(spec: &Spec, world: &World, opts: &UpOptions) -> Result<Plan, Vec<Refusal>> {
    let refusals = preflight(spec, world, opts);
    if refusals.is_empty() {
        Ok(changes(spec, world, opts))
    } else {
        Err(refusals)
    }
}

#[cfg(test)]
mod tests;
