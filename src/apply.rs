//! Apply: carry out a plan's changes, each as soon as the changes it waits
//! for are done (`Plan::waits`, from the facts each step needs and
//! provides), independent ones concurrently. Each resource module applies
//! its own steps; what a step learns (a new id, ARN, domain name) reaches the
//! steps after it through `Facts`.

use anyhow::anyhow;
use futures_util::stream::{FuturesUnordered, StreamExt as _};

use crate::aws::{Clients, Waiting};
use crate::events::Events;
use crate::plan::Plan;
use crate::resources::kit::Cx;
pub use crate::resources::kit::Facts;
use crate::spec::Spec;

pub async fn apply(
    clients: &Clients,
    spec: &Spec,
    plan: &Plan,
    mut facts: Facts,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Facts> {
    facts.drop_public_reads = plan.drop_public_reads;
    let waits = plan.waits();
    if crate::resources::kit::rounds(&waits).is_none() {
        return Err(anyhow!(
            "the plan's steps wait for each other in a circle (a bug: please report it); nothing was changed"
        ));
    }
    let count = plan.changes.len();
    let (mut started, mut done) = (vec![false; count], vec![false; count]);
    let mut running = FuturesUnordered::new();
    let mut errors: Vec<(usize, String)> = Vec::new();
    loop {
        // After a failure nothing new starts; what runs is let finish.
        if errors.is_empty() {
            for i in 0..count {
                if !started[i] && waits[i].iter().all(|&j| done[j]) {
                    started[i] = true;
                    // A step sees what was known when it started: everything
                    // the steps it waits for learned.
                    let facts = facts.clone();
                    let change = &plan.changes[i];
                    running.push(async move {
                        let cx = Cx {
                            clients,
                            spec,
                            facts: &facts,
                            waiting,
                            events,
                        };
                        let result = change.step.apply(&cx).await;
                        if result.is_ok() && change.step.is_write() {
                            events.done(&format!("{}: {}", change.resource, change.action));
                        }
                        (i, result)
                    });
                }
            }
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        done[i] = true;
        match result {
            Ok(learned) => facts.learn(learned),
            Err(e) => errors.push((i, format!("{e:#}"))),
        }
    }
    if !errors.is_empty() {
        errors.sort();
        let lines: Vec<String> = errors.into_iter().map(|(_, e)| e).collect();
        return Err(anyhow!("{}", lines.join("\n")));
    }
    Ok(facts)
}
