//! The CloudFormation stack being taken over: what it holds (read-only), and
//! the two writes that detach it (a change set setting Retain everywhere,
//! then DeleteStack), each checked before it runs.

use anyhow::{anyhow, bail};
use aws_sdk_cloudformation::types::{
    ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Replacement, StackDriftDetectionStatus,
    StackResourceDriftStatus, TemplateStage,
};
use aws_sdk_cloudformation::Client;
use serde_json::Value;

use crate::aws::{describe, message, Poll, Waiting};
use crate::events::Events;

/// What DescribeStacks, GetTemplate and DescribeStackResources tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub status: String,
    pub parameters: Vec<String>,
    /// The template as the stack runs it (Original stage).
    pub template: Value,
    pub resources: Vec<Resource>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub logical_id: String,
    pub kind: String,
    pub physical_id: String,
    pub status: String,
}

/// The stack by its name; a stack of that name deleted since (by an earlier
/// run of `adopt`, its resources retained) when there is none, as
/// CloudFormation keeps a deleted stack's template and resources for 90
/// days; `None` when neither exists.
pub async fn observe(cfn: &Client, name: &str) -> anyhow::Result<Option<Observed>> {
    let id = match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out.stacks().first().and_then(|s| s.stack_id()).map(String::from),
        Err(e) if message(&e).is_some_and(|m| m.contains("does not exist")) => None,
        Err(e) => return Err(describe(format!("stack {name}: DescribeStacks"), e)),
    };
    let id = match id {
        Some(id) => id,
        None => match deleted(cfn, name).await? {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    read(cfn, name, &id).await.map(Some)
}

/// The id of the latest stack of this name that was deleted.
async fn deleted(cfn: &Client, name: &str) -> anyhow::Result<Option<String>> {
    let mut pages = cfn
        .list_stacks()
        .stack_status_filter(aws_sdk_cloudformation::types::StackStatus::DeleteComplete)
        .into_paginator()
        .send();
    let mut latest: Option<(aws_smithy_types::DateTime, String)> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe(format!("stack {name}: ListStacks"), e))?;
        for s in page.stack_summaries().iter().filter(|s| s.stack_name() == Some(name)) {
            let when = s.deletion_time().or(s.creation_time()).cloned();
            if let (Some(when), Some(id)) = (when, s.stack_id()) {
                if latest.as_ref().is_none_or(|(t, _)| when.as_nanos() > t.as_nanos()) {
                    latest = Some((when, id.to_string()));
                }
            }
        }
    }
    Ok(latest.map(|(_, id)| id))
}

/// The stack by its id (a deleted one too): DescribeStacks, GetTemplate,
/// DescribeStackResources.
async fn read(cfn: &Client, name: &str, id: &str) -> anyhow::Result<Observed> {
    let stacks = cfn
        .describe_stacks()
        .stack_name(id)
        .send()
        .await
        .map_err(|e| describe(format!("stack {name}: DescribeStacks"), e))?;
    let s = stacks
        .stacks()
        .first()
        .ok_or_else(|| anyhow!("stack {name}: DescribeStacks of {id} answered no stack"))?;
    let id = id.to_string();
    let status = s.stack_status().map(|s| s.as_str().to_string()).unwrap_or_default();
    let parameters = s
        .parameters()
        .iter()
        .filter_map(|p| p.parameter_key().map(String::from))
        .collect();
    let template = cfn
        .get_template()
        .stack_name(&id)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| describe(format!("stack {name}: GetTemplate"), e))?;
    let body = template.template_body().unwrap_or("{}");
    let template: Value = serde_json::from_str(body).map_err(|e| {
        anyhow!(
            "stack {name}: its template is not JSON ({e}): only a JSON template (as `cdk synth` writes) is taken over"
        )
    })?;
    let resources = cfn
        .describe_stack_resources()
        .stack_name(&id)
        .send()
        .await
        .map_err(|e| describe(format!("stack {name}: DescribeStackResources"), e))?;
    let resources = resources
        .stack_resources()
        .iter()
        .map(|r| Resource {
            logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
            kind: r.resource_type().unwrap_or_default().to_string(),
            physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
            status: r.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        })
        .collect();
    Ok(Observed {
        id,
        name: name.to_string(),
        status,
        parameters,
        template,
        resources,
    })
}

/// An operation is running (a change set under review is not one).
pub fn in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

impl Observed {
    /// Deleted by an earlier run: what is left is to finish the migration.
    pub fn is_deleted(&self) -> bool {
        self.status == "DELETE_COMPLETE"
    }
}

/// Drift on any of the stack's resources, one line each ("CdnBucket…
/// MODIFIED: /CorsConfiguration/… expected …, actual …"). DetectStackDrift
/// writes nothing to the resources; it starts a detection, polled here.
pub async fn drift(
    cfn: &Client,
    stack: &Observed,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Vec<String>> {
    let name = &stack.name;
    let detection = cfn
        .detect_stack_drift()
        .stack_name(&stack.id)
        .send()
        .await
        .map_err(|e| describe(format!("stack {name}: DetectStackDrift"), e))?;
    let detection = detection.stack_drift_detection_id().unwrap_or_default().to_string();
    let progress = events.progress(&format!("stack {name}"), "detecting drift");
    let look = || async {
        let out = cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&detection)
            .send()
            .await
            .map_err(|e| describe(format!("stack {name}: DescribeStackDriftDetectionStatus"), e))?;
        Ok(match out.detection_status() {
            Some(StackDriftDetectionStatus::DetectionComplete) => Poll::Ready(Ok(())),
            Some(StackDriftDetectionStatus::DetectionFailed) => Poll::Ready(Err(anyhow!(
                "stack {name}: drift detection failed ({}): cdnctl takes over only a stack whose resources it can compare",
                out.detection_status_reason().unwrap_or("no reason given")
            ))),
            other => Poll::Pending(other.map(|s| s.as_str().to_string()).unwrap_or_default()),
        })
    };
    let done = waiting
        .until(
            |s| progress.status(s),
            look,
            |s, w| anyhow!("stack {name}: drift detection still {s} after {}s", w.as_secs()),
        )
        .await;
    drop(progress);
    done??;
    let drifts = cfn
        .describe_stack_resource_drifts()
        .stack_name(&stack.id)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
        .send()
        .await
        .map_err(|e| describe(format!("stack {name}: DescribeStackResourceDrifts"), e))?;
    let mut out = Vec::new();
    for d in drifts.stack_resource_drifts() {
        let differences: Vec<String> = d
            .property_differences()
            .iter()
            .map(|p| {
                format!(
                    "{} expected {}, actual {}",
                    p.property_path().unwrap_or_default(),
                    p.expected_value().unwrap_or_default(),
                    p.actual_value().unwrap_or_default()
                )
            })
            .collect();
        let what = if differences.is_empty() {
            String::new()
        } else {
            format!(": {}", differences.join("; "))
        };
        out.push(format!(
            "{} ({}) {}{what}",
            d.logical_resource_id().unwrap_or_default(),
            d.resource_type().unwrap_or_default(),
            d.stack_resource_drift_status().map(|s| s.as_str()).unwrap_or_default()
        ));
    }
    Ok(out)
}

/// The template with DeletionPolicy and UpdateReplacePolicy Retain on every
/// resource; `None` when it has them already.
pub fn retained(template: &Value) -> Option<Value> {
    let mut out = template.clone();
    let mut changed = false;
    if let Some(resources) = out.get_mut("Resources").and_then(Value::as_object_mut) {
        for r in resources.values_mut() {
            for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
                if r.get(policy).and_then(Value::as_str) != Some("Retain") {
                    r[policy] = Value::String("Retain".into());
                    changed = true;
                }
            }
        }
    }
    changed.then_some(out)
}

/// The resources whose deletion policy is not Retain: a DeleteStack would
/// delete them.
pub fn not_retained(template: &Value) -> Vec<String> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .map(|r| {
            r.iter()
                .filter(|(_, r)| r.get("DeletionPolicy").and_then(Value::as_str) != Some("Retain"))
                .map(|(id, _)| id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// One change of a change set, as DescribeChangeSet lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub logical_id: String,
    pub kind: String,
    pub action: String,
    pub replacement: String,
    pub policy_action: String,
    pub scope: Vec<String>,
}

impl Change {
    /// "CdnDistributionA3885507 (AWS::CloudFront::Distribution): Modify, replacement False (DeletionPolicy, UpdateReplacePolicy)"
    pub fn line(&self) -> String {
        let mut out = format!("{} ({}): {}", self.logical_id, self.kind, self.action);
        if !self.replacement.is_empty() {
            out.push_str(&format!(", replacement {}", self.replacement));
        }
        if !self.policy_action.is_empty() {
            out.push_str(&format!(", policy {}", self.policy_action));
        }
        if !self.scope.is_empty() {
            out.push_str(&format!(" ({})", self.scope.join(", ")));
        }
        out
    }

    /// Only a Modify that replaces nothing leaves the resource as it is.
    pub fn is_harmless(&self) -> bool {
        self.action == ChangeAction::Modify.as_str() && self.replacement == Replacement::False.as_str()
    }
}

/// Create the change set that sets Retain everywhere and wait until it is
/// ready; its changes. Every parameter (the CDK's BootstrapVersion) keeps
/// its previous value, so that the rule checking it passes as before.
pub async fn retain_change_set(
    cfn: &Client,
    stack: &Observed,
    template: &Value,
    change_set: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Vec<Change>> {
    let name = &stack.name;
    let parameters: Vec<Parameter> = stack
        .parameters
        .iter()
        .map(|p| Parameter::builder().parameter_key(p).use_previous_value(true).build())
        .collect();
    cfn.create_change_set()
        .stack_name(&stack.id)
        .change_set_name(change_set)
        .change_set_type(ChangeSetType::Update)
        .template_body(template.to_string())
        .set_parameters(Some(parameters))
        .description("cdnctl adopt: DeletionPolicy and UpdateReplacePolicy Retain on every resource")
        .send()
        .await
        .map_err(|e| describe(format!("stack {name}: CreateChangeSet {change_set}"), e))?;
    let progress = events.progress(
        &format!("stack {name}"),
        &format!("waiting for change set {change_set}"),
    );
    let look = || async {
        let out = cfn
            .describe_change_set()
            .stack_name(&stack.id)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| describe(format!("stack {name}: DescribeChangeSet {change_set}"), e))?;
        Ok(match out.status() {
            Some(ChangeSetStatus::CreateComplete) => Poll::Ready(Ok(changes(&out))),
            Some(ChangeSetStatus::Failed) => Poll::Ready(Err(anyhow!(
                "stack {name}: change set {change_set} failed: {}",
                out.status_reason().unwrap_or("no reason given")
            ))),
            other => Poll::Pending(other.map(|s| s.as_str().to_string()).unwrap_or_default()),
        })
    };
    let ready = waiting
        .until(
            |s| progress.status(s),
            look,
            |s, w| anyhow!("stack {name}: change set {change_set} still {s} after {}s", w.as_secs()),
        )
        .await;
    drop(progress);
    ready?
}

fn changes(out: &aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput) -> Vec<Change> {
    out.changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|r| Change {
            logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
            kind: r.resource_type().unwrap_or_default().to_string(),
            action: r.action().map(|a| a.as_str().to_string()).unwrap_or_default(),
            replacement: r.replacement().map(|a| a.as_str().to_string()).unwrap_or_default(),
            policy_action: r.policy_action().map(|a| a.as_str().to_string()).unwrap_or_default(),
            scope: r.scope().iter().map(|s| s.as_str().to_string()).collect(),
        })
        .collect()
}

pub async fn delete_change_set(cfn: &Client, stack: &Observed, change_set: &str) -> anyhow::Result<()> {
    cfn.delete_change_set()
        .stack_name(&stack.id)
        .change_set_name(change_set)
        .send()
        .await
        .map_err(|e| describe(format!("stack {}: DeleteChangeSet {change_set}", stack.name), e))?;
    Ok(())
}

/// Execute the change set and wait until the stack is UPDATE_COMPLETE.
pub async fn execute(
    cfn: &Client,
    stack: &Observed,
    change_set: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<()> {
    cfn.execute_change_set()
        .stack_name(&stack.id)
        .change_set_name(change_set)
        .send()
        .await
        .map_err(|e| describe(format!("stack {}: ExecuteChangeSet {change_set}", stack.name), e))?;
    settle(cfn, stack, "UPDATE_COMPLETE", waiting, events).await
}

/// Delete the stack (every resource retained) and wait until it is gone.
pub async fn delete(cfn: &Client, stack: &Observed, waiting: &Waiting, events: &dyn Events) -> anyhow::Result<()> {
    cfn.delete_stack()
        .stack_name(&stack.id)
        .send()
        .await
        .map_err(|e| describe(format!("stack {}: DeleteStack", stack.name), e))?;
    settle(cfn, stack, "DELETE_COMPLETE", waiting, events).await
}

/// Wait until the stack's operation (one an interrupted run started, or
/// this run's) has finished: its status and the reason given.
pub async fn at_rest(
    cfn: &Client,
    stack: &Observed,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<(String, Option<String>)> {
    let name = &stack.name;
    let progress = events.progress(&format!("stack {name}"), "waiting for CloudFormation");
    let look = || async {
        let out = cfn
            .describe_stacks()
            .stack_name(&stack.id)
            .send()
            .await
            .map_err(|e| describe(format!("stack {name}: DescribeStacks"), e))?;
        let s = out.stacks().first();
        let status = s
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        Ok(if in_progress(&status) {
            Poll::Pending(status)
        } else {
            Poll::Ready((status, s.and_then(|s| s.stack_status_reason()).map(String::from)))
        })
    };
    let done = waiting
        .until(
            |s| progress.status(s),
            look,
            |s, w| {
                anyhow!(
                    "stack {name}: still {s} after {}s: run `cdnctl adopt` again later",
                    w.as_secs()
                )
            },
        )
        .await;
    drop(progress);
    done
}

/// Poll the stack (by id: a deleted one is found by it) until it is no
/// longer in progress; anything but `want` is an error naming the status.
async fn settle(
    cfn: &Client,
    stack: &Observed,
    want: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<()> {
    let name = &stack.name;
    let (status, reason) = at_rest(cfn, stack, waiting, events).await?;
    if status != want {
        bail!(
            "stack {name}: {status}{}, expected {want}: nothing was deleted (every resource is retained); see the stack's events, then run `cdnctl adopt` again",
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        );
    }
    events.done(&format!("stack {name}: {want}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retain_everywhere_once() {
        let t = json!({"Resources": {
            "B": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
            "D": {"Type": "AWS::CloudFront::Distribution"}
        }, "Parameters": {"BootstrapVersion": {"Type": "String"}}});
        assert_eq!(not_retained(&t), vec!["D".to_string()]);
        let r = retained(&t).unwrap();
        assert_eq!(r["Resources"]["D"]["DeletionPolicy"], "Retain");
        assert_eq!(r["Resources"]["D"]["UpdateReplacePolicy"], "Retain");
        assert_eq!(r["Parameters"], t["Parameters"]);
        assert!(not_retained(&r).is_empty());
        assert_eq!(retained(&r), None);
    }

    #[test]
    fn only_a_modify_without_replacement_is_harmless() {
        let c = |action: &str, replacement: &str| Change {
            logical_id: "D".into(),
            kind: "AWS::CloudFront::Distribution".into(),
            action: action.into(),
            replacement: replacement.into(),
            policy_action: String::new(),
            scope: vec!["DeletionPolicy".into()],
        };
        assert!(c("Modify", "False").is_harmless());
        assert!(!c("Modify", "True").is_harmless());
        assert!(!c("Modify", "Conditional").is_harmless());
        assert!(!c("Remove", "").is_harmless());
        assert_eq!(
            c("Modify", "False").line(),
            "D (AWS::CloudFront::Distribution): Modify, replacement False (DeletionPolicy)"
        );
    }
}
