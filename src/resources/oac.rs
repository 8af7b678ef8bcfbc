//! The CloudFront Origin Access Control that lets the distribution sign its
//! requests to the private bucket. Found by its name, which the spec derives
//! from the bucket (OAC names are unique per account; OACs cannot be tagged).

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use aws_sdk_cloudfront::Client;

use std::time::Duration;

use crate::aws::{created_or_found, describe, Guarded, Waiting};
use crate::resources::kit::{Action, Cx, Fact, Known, Learned, Part};
use crate::resources::Kind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub origin_type: String,
    pub signing_behavior: String,
    pub signing_protocol: String,
}

pub async fn observe(cf: &Client, name: &str) -> anyhow::Result<Option<Observed>> {
    let mut pages = cf.list_origin_access_controls().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe("origin access control: ListOriginAccessControls", e))?;
        let found = page
            .origin_access_control_list()
            .map(|l| l.items())
            .unwrap_or_default()
            .iter()
            .find(|o| o.name() == name);
        if let Some(o) = found {
            return Ok(Some(Observed {
                id: o.id().to_string(),
                origin_type: o.origin_access_control_origin_type().as_str().to_string(),
                signing_behavior: o.signing_behavior().as_str().to_string(),
                signing_protocol: o.signing_protocol().as_str().to_string(),
            }));
        }
    }
    Ok(None)
}

pub fn differences(actual: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    for (field, have, want) in [
        ("origin type", &actual.origin_type, "s3"),
        ("signing behavior", &actual.signing_behavior, "always"),
        ("signing protocol", &actual.signing_protocol, "sigv4"),
    ] {
        if have != want {
            out.push(format!("origin access control: {field} {have}, expected {want}"));
        }
    }
    out
}

fn config(name: &str) -> anyhow::Result<OriginAccessControlConfig> {
    Ok(OriginAccessControlConfig::builder()
        .name(name)
        .description("cdnctl: CloudFront reads the private bucket")
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .build()?)
}

/// Returns the new OAC's id.
pub async fn create(cf: &Client, name: &str) -> anyhow::Result<String> {
    let created = cf
        .create_origin_access_control()
        .origin_access_control_config(config(name)?)
        .send()
        .await;
    created_or_found(
        format!("origin access control {name}: CreateOriginAccessControl"),
        created,
        |out| {
            out.origin_access_control()
                .map(|o| o.id().to_string())
                .unwrap_or_default()
        },
        || async {
            observe(cf, name)
                .await?
                .map(|o| o.id)
                .ok_or_else(|| anyhow::anyhow!("origin access control {name}: reported to exist but not listed"))
        },
    )
    .await
}

pub async fn update(cf: &Client, id: &str, name: &str) -> anyhow::Result<()> {
    let config = config(name)?;
    guarded(name, "UpdateOriginAccessControl")
        .update(
            || cf.get_origin_access_control().id(id).send(),
            |current| current.e_tag().map(String::from),
            |etag| {
                cf.update_origin_access_control()
                    .id(id)
                    .set_if_match(etag)
                    .origin_access_control_config(config)
                    .send()
            },
        )
        .await?;
    Ok(())
}

/// Delete the OAC. CloudFront counts it in use for a while after the
/// distribution that used it was deleted: wait through that (the plan deletes
/// it only when no distribution lists it any more).
pub async fn delete(
    cf: &Client,
    id: &str,
    name: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    guarded(name, "DeleteOriginAccessControl")
        .delete(
            || cf.get_origin_access_control().id(id).send(),
            |current| current.e_tag().map(String::from),
            |etag| cf.delete_origin_access_control().id(id).set_if_match(etag).send(),
            waiting,
            progress,
        )
        .await
}

fn guarded(name: &str, write: &'static str) -> Guarded {
    Guarded {
        what: format!("origin access control {name}"),
        get: "GetOriginAccessControl",
        write,
    }
}

/// The origin access control's steps, for `up` and `down`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create,
    Update { id: String },
    Delete { id: String },
}

impl Action for Step {
    const KIND: Kind = Kind::OriginAccessControl;

    fn needs(&self) -> Vec<Fact> {
        match self {
            Step::Create | Step::Update { .. } => vec![],
            // Once no distribution of the stack's uses it.
            Step::Delete { .. } => Fact::unused_by(Kind::Distribution),
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![Fact::Exists(Self::KIND)],
            Step::Update { .. } => vec![Fact::Written(Self::KIND)],
            Step::Delete { .. } => vec![Fact::Gone(Self::KIND)],
        }
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        apply(self, cx).await
    }
}

async fn apply(step: &Step, cx: &Cx<'_>) -> anyhow::Result<Learned> {
    let (cf, name) = (&cx.clients.cloudfront, &cx.spec.oac_name);
    Ok(match step {
        Step::Create => Learned::Known(Kind::OriginAccessControl, Known::id(create(cf, name).await?)),
        Step::Update { id } => {
            update(cf, id, name).await?;
            Learned::Nothing
        }
        Step::Delete { id } => {
            let label = format!("origin access control {name}");
            let progress = crate::events::on_refusal(
                cx.events,
                &label,
                "waiting for CloudFront to release it (minutes after the distribution is deleted)",
            );
            delete(cf, id, name, cx.waiting, progress).await?;
            Learned::Nothing
        }
    })
}

/// `down`: delete it once no distribution uses it.
pub fn down(observed: &Observed, users: &[String], name: &str) -> Part<Step> {
    let delete = Step::Delete {
        id: observed.id.clone(),
    };
    Part::delete_when_unused(delete, &format!("origin access control {name}"), users)
}

/// `up`: create it, or correct what differs.
pub fn up(observed: Option<&Observed>, name: &str) -> Part<Step> {
    let mut part = Part::default();
    let r = format!("origin access control {name}");
    match observed {
        None => part.step(Step::Create, &r, "create", vec![]),
        Some(actual) => {
            let diff = differences(actual);
            if !diff.is_empty() {
                part.step(Step::Update { id: actual.id.clone() }, &r, "update", diff);
            }
        }
    }
    part
}
