//! The bucket's steps, for `up` and `down`, and how each is applied.

use super::{PolicyWrite, Setting};
use crate::resources::distribution;
use crate::resources::kit::{Action, Cx, Fact, Learned, Part};
use crate::resources::Kind;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create,
    Put(Setting),
    Empty,
    Delete,
}

impl Action for Step {
    const KIND: Kind = Kind::Bucket;

    fn needs(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![],
            // The policy names the distribution, and is written after the
            // bucket's other settings (its public access block first).
            Step::Put(Setting::Policy) => vec![
                Fact::Exists(Self::KIND),
                Fact::Written(Self::KIND),
                Fact::Exists(Kind::Distribution),
            ],
            Step::Put(_) => vec![Fact::Exists(Self::KIND)],
            // Last of a teardown, once everything that can refuse has gone.
            Step::Empty => Fact::all_gone_but(Self::KIND),
            Step::Delete => {
                let mut needs = Fact::all_gone_but(Self::KIND);
                needs.push(Fact::Emptied(Self::KIND));
                needs
            }
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![Fact::Exists(Self::KIND)],
            Step::Put(Setting::Policy) => vec![],
            Step::Put(_) => vec![Fact::Written(Self::KIND)],
            Step::Empty => vec![Fact::Emptied(Self::KIND)],
            Step::Delete => vec![Fact::Gone(Self::KIND)],
        }
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        apply(self, cx).await
    }
}

async fn apply(step: &Step, cx: &Cx<'_>) -> anyhow::Result<Learned> {
    let (spec, s3) = (cx.spec, &cx.clients.s3);
    Ok(match step {
        Step::Create => {
            super::create(s3, spec).await?;
            Learned::Nothing
        }
        Step::Put(setting) => {
            let desired = match setting {
                Setting::Policy => Some(spec.policy(&cx.facts.known(Kind::Distribution)?.arn)),
                _ => None,
            };
            let policy = desired.as_ref().map(|desired| PolicyWrite {
                desired,
                drop_public: cx.facts.drop_public_reads,
            });
            let label = format!("bucket {}", spec.bucket);
            let what = match setting {
                Setting::Policy => {
                    "waiting for S3 to accept the policy (a new bucket, or IAM propagating new principals)"
                }
                _ => "waiting for the new bucket to settle",
            };
            super::put(
                s3,
                spec,
                *setting,
                policy,
                cx.waiting,
                crate::events::on_refusal(cx.events, &label, what),
            )
            .await?;
            Learned::Nothing
        }
        Step::Empty => {
            // Look once more, right before deleting files: a distribution
            // made since the plan was drawn must not lose its origin.
            let listing = distribution::list(&cx.clients.cloudfront, spec).await?;
            let serving = listing.serving(&spec.bucket);
            let ours = listing.candidates.first().map(|(id, _)| id.clone());
            let serving: Vec<_> = serving.into_iter().filter(|id| Some(id) != ours.as_ref()).collect();
            if !serving.is_empty() {
                anyhow::bail!(
                    "bucket {}: --purge refused: distribution {} now serves files from it: nothing was deleted from the bucket",
                    spec.bucket,
                    serving.join(", ")
                );
            }
            Learned::Deleted(super::empty(s3, &spec.bucket).await?)
        }
        Step::Delete => {
            super::delete(s3, &spec.bucket).await?;
            Learned::Nothing
        }
    })
}

/// `down`: delete the stack's bucket once nothing else of the stack needs it
/// (`free`), with its `objects` only with `purge`, and at most `max_deletes`
/// of them (else the reason to refuse the whole run).
pub fn down(
    state: &super::State,
    spec: &crate::spec::Spec,
    objects: u64,
    free: bool,
    purge: bool,
    max_deletes: u64,
) -> Result<Part<Step>, String> {
    use super::State;
    let mut part = Part::default();
    let b = format!("bucket {}", spec.bucket);
    match state {
        // Left for a later run while the distribution still exists (the note
        // about the distribution says so).
        State::Present(o) if spec.is_owned(&o.tags) && !free => {}
        State::Present(o) if spec.is_owned(&o.tags) => {
            if objects == 0 {
                part.step(Step::Delete, &b, "delete (empty)", vec![]);
            } else if !purge {
                part.note(format!(
                    "bucket {}: kept, it holds {} object version(s); run `cdnctl down --purge` to delete them and the bucket",
                    spec.bucket,
                    count(objects, max_deletes)
                ));
            } else if objects > max_deletes {
                return Err(format!(
                    "bucket {}: holds more than {} object versions, the --max-deletes limit: raise it (e.g. --max-deletes {}) to purge them all",
                    spec.bucket,
                    max_deletes,
                    max_deletes.saturating_mul(10)
                ));
            } else {
                part.step(Step::Empty, &b, &format!("delete {objects} object version(s)"), vec![]);
                part.step(Step::Delete, &b, "delete", vec![]);
            }
        }
        State::Present(_) => part.note(format!(
            "bucket {}: not tagged as this stack's, left alone",
            spec.bucket
        )),
        State::Foreign => part.note(format!(
            "bucket {}: belongs to another account, left alone",
            spec.bucket
        )),
        State::Absent => {}
    }
    Ok(part)
}

fn count(objects: u64, limit: u64) -> String {
    if objects > limit {
        format!("more than {limit}")
    } else {
        objects.to_string()
    }
}

/// `up`: create it with every setting, or correct the settings that differ.
/// `policy` is the desired policy once the distribution's ARN is known.
/// With `end_public_access`, the policy write drops the statements letting
/// anyone read (returned true when it does).
pub fn up(
    observed: Option<&super::Observed>,
    spec: &crate::spec::Spec,
    policy: Option<&serde_json::Value>,
    end_public_access: bool,
) -> (Part<Step>, bool) {
    let mut part = Part::default();
    let mut drop_public_reads = false;
    let b = format!("bucket {}", spec.bucket);
    match observed {
        None => {
            part.step(Step::Create, &b, "create", vec![format!("in {}", spec.region)]);
            // Tags are given at creation; the tags step only checks them
            // (beside the distribution's creation, not before it).
            for setting in [
                Setting::PublicAccessBlock,
                Setting::Encryption,
                Setting::Cors,
                Setting::Tags,
                Setting::Policy,
            ] {
                part.step(Step::Put(setting), &b, setting.name(), vec![]);
            }
        }
        Some(actual) => {
            let mut settings = super::differences(actual, spec, policy);
            if end_public_access {
                drop_public_reads = super::end_public_access(actual, &mut settings);
            }
            if policy.is_none() {
                settings.push((
                    Setting::Policy,
                    vec!["bucket policy: will name the new distribution".into()],
                ));
            }
            for (setting, details) in settings {
                part.step(Step::Put(setting), &b, setting.name(), details);
            }
        }
    }
    (part, drop_public_reads)
}
