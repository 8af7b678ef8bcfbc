//! The seed stack's shape: which resources a stack holds that cdnctl can take
//! over (the CDK stack cdnctl replaces, as `cdk synth` emits it), and
//! anything else named as a refusal. Pure.

use serde_json::Value;

use super::stack::Observed;

pub const BUCKET: &str = "AWS::S3::Bucket";
pub const POLICY: &str = "AWS::S3::BucketPolicy";
pub const OAI: &str = "AWS::CloudFront::CloudFrontOriginAccessIdentity";
pub const DISTRIBUTION: &str = "AWS::CloudFront::Distribution";
pub const RECORD: &str = "AWS::Route53::RecordSet";
/// The CDK's own bookkeeping: no AWS resource behind it.
pub const CDK_METADATA: &str = "AWS::CDK::Metadata";

/// The seed stack's resources, by physical id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub bucket: String,
    pub oai: Option<String>,
    pub distribution: String,
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub logical_id: String,
    /// "A" or "AAAA".
    pub kind: String,
    /// Without the final dot.
    pub name: String,
    pub zone_id: String,
}

impl Seed {
    /// The custom domain and its zone id, from the records.
    pub fn domain(&self) -> Option<(&str, &str)> {
        self.records.first().map(|r| (r.name.as_str(), r.zone_id.as_str()))
    }
}

/// The stack's resources as the seed's, or every way it differs (one line
/// each, naming the resource).
pub fn seed(stack: &Observed) -> Result<Seed, Vec<String>> {
    let mut refusals = Vec::new();
    let name = &stack.name;
    if !stack.status.ends_with("_COMPLETE") || stack.status == "ROLLBACK_COMPLETE" {
        refusals.push(format!(
            "stack {name}: {}: cdnctl takes over a stack only once an operation has completed (CREATE_COMPLETE, UPDATE_COMPLETE, …)",
            stack.status
        ));
    }
    let of = |kind: &str| stack.resources.iter().filter(|r| r.kind == kind).collect::<Vec<_>>();
    for r in &stack.resources {
        if ![BUCKET, POLICY, OAI, DISTRIBUTION, RECORD, CDK_METADATA].contains(&r.kind.as_str()) {
            refusals.push(format!(
                "stack {name}: {} ({}) is not a resource cdnctl manages: remove it from the stack (or move it to another) first",
                r.logical_id, r.kind
            ));
        }
        if stack.is_deleted() && r.status != "DELETE_SKIPPED" && r.kind != CDK_METADATA {
            refusals.push(format!(
                "stack {name}: was deleted, and {} ({}) with it ({}): there is nothing of it to take over",
                r.logical_id, r.kind, r.status
            ));
        } else if !stack.is_deleted() && !r.status.ends_with("_COMPLETE") {
            refusals.push(format!("stack {name}: {} is {}", r.logical_id, r.status));
        }
    }
    for (kind, what, at_most) in [
        (BUCKET, "bucket", 1),
        (POLICY, "bucket policy", 1),
        (OAI, "origin access identity", 1),
        (DISTRIBUTION, "distribution", 1),
        (RECORD, "DNS records (A and AAAA)", 2),
    ] {
        let found = of(kind);
        let required = kind == BUCKET || kind == DISTRIBUTION;
        if found.len() > at_most || (required && found.is_empty()) {
            refusals.push(format!(
                "stack {name}: holds {} {kind} ({}), the CDK stack cdnctl replaces holds {} {what}",
                found.len(),
                found
                    .iter()
                    .map(|r| r.logical_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if required { "one" } else { "at most that" }
            ));
        }
    }
    let resources = stack.template.get("Resources").cloned().unwrap_or(Value::Null);
    let mut records = Vec::new();
    for r in of(RECORD) {
        let props = &resources[&r.logical_id]["Properties"];
        let kind = props["Type"].as_str().unwrap_or("").to_string();
        let alias = props.get("AliasTarget").is_some();
        let zone_id = props["HostedZoneId"].as_str().unwrap_or("").to_string();
        if !(kind == "A" || kind == "AAAA") || !alias || zone_id.is_empty() {
            refusals.push(format!(
                "stack {name}: {} is not an A or AAAA alias record in a zone given by its id: cdnctl manages only those",
                r.logical_id
            ));
        }
        records.push(Record {
            logical_id: r.logical_id.clone(),
            kind,
            name: props["Name"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches('.')
                .to_ascii_lowercase(),
            zone_id: zone_id.trim_start_matches("/hostedzone/").to_string(),
        });
    }
    if records
        .windows(2)
        .any(|w| w[0].name != w[1].name || w[0].zone_id != w[1].zone_id)
    {
        refusals.push(format!(
            "stack {name}: its records name different domains ({}): cdnctl manages one custom domain",
            records.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let physical = |kind: &str| of(kind).first().map(|r| r.physical_id.clone());
    Ok(Seed {
        bucket: physical(BUCKET).unwrap_or_default(),
        oai: physical(OAI),
        distribution: physical(DISTRIBUTION).unwrap_or_default(),
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::takeover::stack::Resource;
    use serde_json::json;

    fn stack(extra: &[(&str, &str)], status: &str) -> Observed {
        let mut resources: Vec<Resource> = [
            ("Bucket", BUCKET, "b"),
            ("Policy", POLICY, "b"),
            ("Oai", OAI, "E2OAI"),
            ("Dist", DISTRIBUTION, "E1DIST"),
            ("A", RECORD, "static.example.com"),
            ("Aaaa", RECORD, "static.example.com"),
        ]
        .iter()
        .chain(extra.iter().map(|(l, k)| (*l, *k, "x")).collect::<Vec<_>>().iter())
        .map(|(l, k, p)| Resource {
            logical_id: l.to_string(),
            kind: k.to_string(),
            physical_id: p.to_string(),
            status: "CREATE_COMPLETE".into(),
        })
        .collect();
        resources.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
        let record = |t: &str| {
            json!({"Type": RECORD, "Properties": {"Type": t, "Name": "static.example.com.", "HostedZoneId": "Z1",
                "AliasTarget": {"DNSName": "d.cloudfront.net", "HostedZoneId": "Z2FDTNDATAQYW2"}}})
        };
        Observed {
            id: "arn:stack".into(),
            name: "Seed".into(),
            status: status.into(),
            parameters: vec!["BootstrapVersion".into()],
            template: json!({"Resources": {"A": record("A"), "Aaaa": record("AAAA")}}),
            resources,
        }
    }

    #[test]
    fn the_seed_stack() {
        let seed = seed(&stack(&[], "CREATE_COMPLETE")).unwrap();
        assert_eq!(seed.bucket, "b");
        assert_eq!(seed.oai.as_deref(), Some("E2OAI"));
        assert_eq!(seed.distribution, "E1DIST");
        assert_eq!(seed.domain(), Some(("static.example.com", "Z1")));
    }

    #[test]
    fn another_resource_or_state_is_refused_by_name() {
        let refusals = seed(&stack(&[("Queue", "AWS::SQS::Queue")], "UPDATE_COMPLETE")).unwrap_err();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(
            refusals[0].contains("Queue (AWS::SQS::Queue) is not a resource cdnctl manages"),
            "{refusals:?}"
        );
        let refusals = seed(&stack(&[("Second", DISTRIBUTION)], "CREATE_COMPLETE")).unwrap_err();
        assert!(
            refusals[0].contains("holds 2 AWS::CloudFront::Distribution (Dist, Second)"),
            "{refusals:?}"
        );
        let refusals = seed(&stack(&[], "UPDATE_IN_PROGRESS")).unwrap_err();
        assert!(refusals[0].contains("UPDATE_IN_PROGRESS"), "{refusals:?}");
        assert!(seed(&stack(&[("CDKMetadata", CDK_METADATA)], "UPDATE_ROLLBACK_COMPLETE")).is_ok());
    }
}
