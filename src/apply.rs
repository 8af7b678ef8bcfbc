//! Apply: carry out a plan's changes, stage by stage, the changes of a stage
//! concurrently. Each resource module applies its own steps; ids that later
//! stages need (the new OAC's, the new distribution's ARN and domain) flow
//! forward as `Facts`.

use anyhow::anyhow;
use futures_util::future::join_all;

use crate::aws::{Clients, Waiting};
use crate::observe::World;
use crate::events::Events;
use crate::plan::{Change, Plan, Step};
pub use crate::resources::step::Facts;
use crate::resources::step::{Cx, Learned, Stage};
use crate::resources::{bucket, certificate, distribution, dns, oac, response_headers};
use crate::spec::Spec;

impl Facts {
    pub fn from(spec: &Spec, world: &World) -> Facts {
        Facts {
            oac_id: world.oac.as_ref().map(|o| o.id.clone()),
            headers_policy_id: crate::plan::headers_policy_id(spec, world).map(String::from),
            certificate_arn: crate::plan::certificate_arn(spec, world).map(String::from),
            zone_id: world.zone_id.clone(),
            distribution: world.distribution.as_ref().map(|d| distribution::Written {
                id: d.id.clone(),
                arn: d.arn.clone(),
                domain_name: d.domain_name.clone(),
            }),
            keep_aliases: world.moving.keep_aliases().to_vec(),
            deleted_objects: 0,
            drop_public_reads: false,
            notes: Vec::new(),
        }
    }
}

pub async fn apply(
    clients: &Clients,
    spec: &Spec,
    plan: &Plan,
    mut facts: Facts,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Facts> {
    facts.drop_public_reads = plan.drop_public_reads;
    let mut stages: Vec<Stage> = plan.changes.iter().map(|c| c.step.stage()).collect();
    stages.sort();
    stages.dedup();
    for stage in stages {
        let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.step.stage() == stage).collect();
        let snapshot = facts.clone();
        let cx = Cx {
            clients,
            spec,
            facts: &snapshot,
            waiting,
            events,
        };
        let results = join_all(changes.iter().map(|c| {
            let cx = &cx;
            async move {
                let result = run(&c.step, cx).await;
                if result.is_ok() && c.step.is_write() {
                    events.done(&format!("{}: {}", c.resource, c.action));
                }
                result
            }
        }))
        .await;
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(learned) => facts.learn(learned),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            return Err(anyhow!("{}", errors.join("\n")));
        }
    }
    Ok(facts)
}

/// Hand the step to the module of its resource.
async fn run(step: &Step, cx: &Cx<'_>) -> anyhow::Result<Learned> {
    match step {
        Step::Bucket(s) => bucket::apply(s, cx).await,
        Step::Oac(s) => oac::apply(s, cx).await,
        Step::HeadersPolicy(s) => response_headers::apply(s, cx).await,
        Step::Certificate(s) => certificate::apply(s, cx).await,
        Step::Distribution(s) => distribution::apply(s, cx).await,
        Step::Dns(s) => dns::apply(s, cx).await,
    }
}
