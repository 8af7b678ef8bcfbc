//! The CloudFront Origin Access Identity: the older way a distribution read a
//! private bucket, which the CDK's `S3Origin` made. cdnctl never creates one;
//! it finds the one a distribution it adopts uses, and deletes it once no
//! origin uses it and the bucket policy no longer grants it (AWS's order for
//! moving from an OAI to an OAC: grant both, switch the origin, wait until
//! deployed, then remove the OAI's grant).

use std::time::Duration;

use aws_sdk_cloudfront::types::DistributionConfig;
use aws_sdk_cloudfront::Client;
use serde_json::Value;

use crate::aws::{optional, Guarded, Waiting};
use crate::resources::kit::{Action, Cx, Fact, Learned, Part};
use crate::resources::Kind;

/// What an origin's `S3OriginConfig.OriginAccessIdentity` holds before the id.
const ORIGIN_PREFIX: &str = "origin-access-identity/cloudfront/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    /// The S3 canonical user a bucket policy may grant it as.
    pub canonical_user: String,
    pub comment: String,
}

/// The OAI, by its id (`None` when it is gone).
pub async fn observe(cf: &Client, id: &str) -> anyhow::Result<Option<Observed>> {
    let out = optional(
        format!("origin access identity {id}: GetCloudFrontOriginAccessIdentity"),
        cf.get_cloud_front_origin_access_identity().id(id).send().await,
    )?;
    Ok(out
        .and_then(|o| o.cloud_front_origin_access_identity)
        .map(|o| Observed {
            comment: o
                .cloud_front_origin_access_identity_config()
                .map(|c| c.comment().to_string())
                .unwrap_or_default(),
            id: o.id,
            canonical_user: o.s3_canonical_user_id,
        }))
}

/// The OAI's id in an origin's `OriginAccessIdentity` value; `None` for an
/// origin without one (`""`, or an OAC's origin).
pub fn id_in_origin(value: &str) -> Option<&str> {
    value.strip_prefix(ORIGIN_PREFIX).filter(|id| !id.is_empty())
}

/// The ids of the OAIs this distribution's origins use, in origin order.
pub fn used_by(config: &DistributionConfig) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for o in config.origins.as_ref().map(|o| o.items()).unwrap_or_default() {
        let value = o.s3_origin_config.as_ref().map(|s| s.origin_access_identity.as_str());
        if let Some(id) = value.and_then(id_in_origin) {
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// The IAM ARN that S3 shows for a grant to the OAI (whichever way it was
/// written).
pub fn principal_arn(id: &str) -> String {
    format!("arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {id}")
}

/// Whether a statement grants the OAI anything: its principal names the
/// OAI's ARN or its canonical user, alone or among others.
pub fn grants(statement: &Value, oai: &Observed) -> bool {
    let arn = principal_arn(&oai.id);
    let names = |v: Option<&Value>, want: &str| match v {
        Some(Value::String(s)) => s == want,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(want)),
        _ => false,
    };
    let principal = statement.get("Principal");
    names(principal.and_then(|p| p.get("AWS")), &arn)
        || (!oai.canonical_user.is_empty()
            && names(principal.and_then(|p| p.get("CanonicalUser")), &oai.canonical_user))
}

/// The policy without its grants to the OAI; `None` when it has none. A
/// statement that names the OAI among other principals is refused rather
/// than narrowed: that is a hand-written grant cdnctl does not rewrite.
pub fn without_grants(policy: &Value, oai: &Observed) -> anyhow::Result<Option<Value>> {
    let statements = crate::resources::bucket_policy::statements(policy);
    let (granting, kept): (Vec<Value>, Vec<Value>) = statements.into_iter().partition(|s| grants(s, oai));
    if granting.is_empty() {
        return Ok(None);
    }
    for s in &granting {
        let principal = s.get("Principal").cloned().unwrap_or(Value::Null);
        let count = |v: Option<&Value>| match v {
            Some(Value::Array(items)) => items.len(),
            Some(_) => 1,
            None => 0,
        };
        if count(principal.get("AWS")) + count(principal.get("CanonicalUser")) > 1 {
            anyhow::bail!(
                "bucket policy: a statement grants origin access identity {} together with other principals ({principal}): remove the identity from it by hand, then run the command again",
                oai.id
            );
        }
    }
    let mut out = policy.clone();
    out["Statement"] = Value::Array(kept);
    Ok(Some(out))
}

/// The account's identities that `policy` grants anything (by ARN or
/// canonical user): what an interrupted takeover left to retire.
pub async fn granted(cf: &Client, policy: &Value) -> anyhow::Result<Vec<Observed>> {
    let statements = crate::resources::bucket_policy::statements(policy);
    let mentions = policy.to_string();
    if !mentions.contains("CloudFront Origin Access Identity") && !mentions.contains("CanonicalUser") {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut pages = cf.list_cloud_front_origin_access_identities().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| crate::aws::describe("origin access identity: ListCloudFrontOriginAccessIdentities", e))?;
        for o in page
            .cloud_front_origin_access_identity_list()
            .map(|l| l.items())
            .unwrap_or_default()
        {
            let oai = Observed {
                id: o.id().to_string(),
                canonical_user: o.s3_canonical_user_id().to_string(),
                comment: o.comment().to_string(),
            };
            if statements.iter().any(|s| grants(s, &oai)) {
                out.push(oai);
            }
        }
    }
    Ok(out)
}

/// Delete the OAI. CloudFront answers CloudFrontOriginAccessIdentityInUse
/// for a while after the last origin let go of it: wait through that.
pub async fn delete(
    cf: &Client,
    id: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    Guarded {
        what: format!("origin access identity {id}"),
        get: "GetCloudFrontOriginAccessIdentity",
        write: "DeleteCloudFrontOriginAccessIdentity",
    }
    .delete(
        || cf.get_cloud_front_origin_access_identity().id(id).send(),
        |current| current.e_tag().map(String::from),
        |etag| {
            cf.delete_cloud_front_origin_access_identity()
                .id(id)
                .set_if_match(etag)
                .send()
        },
        waiting,
        progress,
    )
    .await
}

/// The OAI's one step: its delete.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Delete { id: String },
}

impl Action for Step {
    const KIND: Kind = Kind::OriginAccessIdentity;

    fn needs(&self) -> Vec<Fact> {
        match self {
            // Once the distribution reads through the OAC everywhere and the
            // bucket policy no longer grants the identity.
            Step::Delete { .. } => vec![
                Fact::Written(Kind::Distribution),
                Fact::Deployed(Kind::Distribution),
                Fact::Gone(Kind::Distribution),
                Fact::Written(Kind::Bucket),
            ],
        }
    }

    fn provides(&self) -> Vec<Fact> {
        vec![Fact::Gone(Self::KIND)]
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        let Step::Delete { id } = self;
        let label = format!("origin access identity {id}");
        let progress = crate::events::on_refusal(
            cx.events,
            &label,
            "waiting for CloudFront to release it (minutes after the origin stopped using it)",
        );
        delete(&cx.clients.cloudfront, id, cx.waiting, progress).await?;
        Ok(Learned::Nothing)
    }
}

/// Delete the OAI once no origin of any distribution (`users`) uses it.
pub fn down(observed: &Observed, users: &[String]) -> Part<Step> {
    let delete = Step::Delete {
        id: observed.id.clone(),
    };
    Part::delete_when_unused(delete, &format!("origin access identity {}", observed.id), users)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudfront::types::{Origin, Origins, S3OriginConfig};
    use serde_json::json;

    fn oai() -> Observed {
        Observed {
            id: "E2OAI".into(),
            canonical_user: "c".repeat(96),
            comment: String::new(),
        }
    }

    fn config(values: &[&str]) -> DistributionConfig {
        let items = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Origin::builder()
                    .id(format!("o{i}"))
                    .domain_name("b.s3.eu-west-1.amazonaws.com")
                    .s3_origin_config(S3OriginConfig::builder().origin_access_identity(*v).build())
                    .build()
                    .unwrap()
            })
            .collect::<Vec<_>>();
        DistributionConfig::builder()
            .caller_reference("r")
            .comment("")
            .enabled(true)
            .origins(
                Origins::builder()
                    .quantity(items.len() as i32)
                    .set_items(Some(items))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn finds_the_identities_origins_use() {
        let c = config(&[
            "origin-access-identity/cloudfront/E2OAI",
            "",
            "origin-access-identity/cloudfront/E2OAI",
            "origin-access-identity/cloudfront/E3OTHER",
        ]);
        assert_eq!(used_by(&c), vec!["E2OAI".to_string(), "E3OTHER".to_string()]);
        assert!(used_by(&config(&[""])).is_empty());
        assert_eq!(id_in_origin("origin-access-identity/cloudfront/"), None);
    }

    #[test]
    fn removes_the_grant_by_arn_or_canonical_user_and_keeps_the_rest() {
        let deploy = json!({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:user/d"]}, "Action": "s3:*", "Resource": "*"});
        for principal in [
            json!({"AWS": principal_arn("E2OAI")}),
            json!({"CanonicalUser": "c".repeat(96)}),
        ] {
            let grant = json!({"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "*"});
            let policy = json!({"Version": "2012-10-17", "Statement": [deploy.clone(), grant]});
            let out = without_grants(&policy, &oai()).unwrap().unwrap();
            assert_eq!(out, json!({"Version": "2012-10-17", "Statement": [deploy.clone()]}));
        }
        let none = json!({"Version": "2012-10-17", "Statement": [deploy.clone()]});
        assert_eq!(without_grants(&none, &oai()).unwrap(), None);
    }

    #[test]
    fn refuses_to_narrow_a_shared_grant() {
        let shared = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": [principal_arn("E2OAI"), "arn:aws:iam::1:role/r"]}, "Action": "s3:GetObject", "Resource": "*"}]});
        let err = without_grants(&shared, &oai()).unwrap_err().to_string();
        assert!(err.contains("together with other principals"), "{err}");
    }

    #[test]
    fn delete_waits_for_the_distribution_and_the_policy() {
        let step = Step::Delete { id: "E2OAI".into() };
        assert!(step.needs().contains(&Fact::Deployed(Kind::Distribution)));
        assert!(step.needs().contains(&Fact::Written(Kind::Bucket)));
        assert_eq!(step.provides(), vec![Fact::Gone(Kind::OriginAccessIdentity)]);
    }
}
