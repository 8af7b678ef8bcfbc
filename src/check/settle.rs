//! `check --wait` (and `deploy`): before probing, wait until the
//! distribution is Deployed and its invalidations have completed, so that
//! the probes see what visitors will get rather than what the edges still
//! hold.

use crate::aws::{describe, Clients, Poll, Waiting};
use crate::events::Events;
use crate::resources::distribution;

use super::target::Target;

pub async fn wait(clients: &Clients, target: &Target, waiting: &Waiting, events: &dyn Events) -> anyhow::Result<()> {
    let id = &target.distribution_id;
    if let Some(since) = &target.settling.deploying_since {
        let status = events.progress(
            "check",
            &format!("waiting for distribution {id} to deploy (InProgress since {since})"),
        );
        distribution::wait_deployed(&clients.cloudfront, id, waiting, |s| status.status(s)).await?;
        events.done(&format!("distribution {id}: Deployed"));
    }
    for pending in &target.settling.invalidations {
        let status = events.progress(
            "check",
            &format!(
                "waiting for invalidation {} to complete (since {})",
                pending.id, pending.since
            ),
        );
        let look = || async {
            let out = clients
                .cloudfront
                .get_invalidation()
                .distribution_id(id)
                .id(&pending.id)
                .send()
                .await
                .map_err(|e| describe(format!("invalidation {}: GetInvalidation", pending.id), e))?;
            let state = out.invalidation().map(|i| i.status().to_string()).unwrap_or_default();
            Ok(if state.eq_ignore_ascii_case("completed") {
                Poll::Ready(())
            } else {
                Poll::Pending(state)
            })
        };
        waiting
            .until(
                |s| status.status(s),
                look,
                |state, waited| {
                    anyhow::anyhow!(
                        "invalidation {}: still {state} after {}s: CloudFront is still invalidating; run `cdnctl check --wait` again later",
                        pending.id,
                        waited.as_secs()
                    )
                },
            )
            .await?;
        events.done(&format!("invalidation {}: Completed", pending.id));
    }
    Ok(())
}
