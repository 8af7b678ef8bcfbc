//! Plan: a pure diff from what exists (`World`) to what should (`Spec` for
//! `up`, nothing for `down`), as an ordered list of changes. `up`, `down` and
//! `status` all go through here; only `up` and `down` apply the result.

use aws_sdk_cloudfront::types::DistributionConfig;
use aws_sdk_route53::types::ResourceRecordSet;

use crate::observe::World;
pub use crate::resources::certificate::{spare_reason, validation_missing};
use crate::resources::{bucket, bucket_policy, certificate, distribution, dns, domain_move, oac, response_headers};
use crate::spec::{Headers, Spec};

/// One write, and the stage it runs in: a stage starts when every change of
/// the stages before it is done; changes within a stage run concurrently.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    CreateBucket,
    PutBucket(bucket::Setting),
    /// Request a certificate for these names (the first is the primary),
    /// write its validation records, wait until issued.
    RequestCertificate {
        names: Vec<String>,
        /// The distribution takes it in this run (not while a domain move
        /// keeps serving with the certificate it has).
        serve: bool,
    },
    /// Write the validation record of a pending certificate, wait until issued.
    ValidateCertificate {
        arn: String,
    },
    CreateOac,
    UpdateOac {
        id: String,
    },
    CreateHeadersPolicy,
    UpdateHeadersPolicy {
        id: String,
    },
    /// The stack's own response headers policy, once no distribution uses it.
    DeleteHeadersPolicy {
        id: String,
    },
    CreateDistribution,
    UpdateDistribution {
        id: String,
        etag: String,
        config: Box<DistributionConfig>,
    },
    TagDistribution {
        arn: String,
    },
    UpsertRecords {
        zone_id: String,
    },
    DeleteRecords {
        zone_id: String,
        name: String,
        records: Vec<ResourceRecordSet>,
    },
    DisableDistribution {
        id: String,
        etag: String,
        config: Box<DistributionConfig>,
    },
    WaitDeployed {
        id: String,
    },
    DeleteDistribution {
        id: String,
    },
    DeleteOac {
        id: String,
    },
    /// Delete a certificate cdnctl requested, then its validation record
    /// unless another certificate still needs it. With `wait`, wait through
    /// ACM's "in use" window; without, leave it for a later run if in use.
    DeleteCertificate {
        arn: String,
        /// The zone of its validation record, when known.
        zone_id: Option<String>,
        wait: bool,
    },
    EmptyBucket,
    DeleteBucket,
}

impl Step {
    pub fn stage(&self) -> u8 {
        match self {
            // up: bucket ∥ OAC → bucket settings ∥ distribution → policy ∥ DNS → wait
            Step::CreateBucket
            | Step::CreateOac
            | Step::UpdateOac { .. }
            | Step::CreateHeadersPolicy
            | Step::UpdateHeadersPolicy { .. }
            | Step::RequestCertificate { .. }
            | Step::ValidateCertificate { .. } => 0,
            Step::PutBucket(bucket::Setting::Policy) | Step::UpsertRecords { .. } => 2,
            Step::PutBucket(_)
            | Step::CreateDistribution
            | Step::UpdateDistribution { .. }
            | Step::TagDistribution { .. } => 1,
            // down: DNS ∥ disable → wait → delete distribution → OAC ∥
            // certificates → files, last: only once everything that can
            // refuse has succeeded → bucket
            Step::DeleteRecords { .. } | Step::DisableDistribution { .. } => 0,
            Step::WaitDeployed { .. } => 3,
            Step::DeleteDistribution { .. } => 4,
            Step::DeleteOac { .. } | Step::DeleteCertificate { .. } | Step::DeleteHeadersPolicy { .. } => 5,
            Step::EmptyBucket => 6,
            Step::DeleteBucket => 7,
        }
    }

    pub fn is_write(&self) -> bool {
        !matches!(self, Step::WaitDeployed { .. })
    }
}

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
    pub fn writes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.step.is_write())
    }

    fn push(&mut self, step: Step, resource: &str, action: &str, details: Vec<String>) {
        self.changes.push(Change {
            step,
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

/// Reasons not to write anything: a write would fail, or would touch what is
/// not this stack's.
pub fn preflight(spec: &Spec, world: &World, opts: &UpOptions) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    match &world.bucket {
        bucket::State::Foreign => {
            refusals.push(Refusal(format!(
                "BUCKET_NAME: bucket {:?} exists but belongs to another AWS account (or these credentials may not read it): choose another name",
                spec.bucket
            )));
        }
        bucket::State::Present(o) if !spec.is_owned(&o.tags) && !opts.adopt => {
            refusals.push(Refusal(format!(
                "bucket {}: exists but was not created by cdnctl for this stack (no cdnctl:stack tag): \
                 run `cdnctl up --adopt` to take it over (its settings are corrected and cdnctl's statements added to its policy; \
                 the policy's other statements and its files are kept)",
                spec.bucket
            )));
        }
        _ => {}
    }
    if let bucket::State::Present(o) = &world.bucket {
        if !opts.end_public_access {
            let desired = world.distribution.as_ref().map(|d| spec.policy(&d.arn));
            refusals.extend(bucket_policy::refusal(spec, desired.as_ref(), o).map(Refusal));
        }
    }
    let dist = world.distribution.as_ref();
    if let Some(d) = dist {
        if !spec.is_owned(&d.tags) && !opts.adopt {
            refusals.push(Refusal(format!(
                "distribution {}: carries this stack's comment but not its cdnctl:stack tag: run `cdnctl up --adopt` to take it over",
                d.id
            )));
        }
    }
    if !world.duplicate_distributions.is_empty() {
        refusals.push(Refusal(format!(
            "distribution: several carry this stack's comment ({} besides the first): delete the extra ones by hand",
            world.duplicate_distributions.join(", ")
        )));
    }
    if let (Some(taken), Some(domain)) = (&world.alias_taken_by, &spec.domain) {
        refusals.push(Refusal(format!(
            "SUBDOMAIN: {} is already an alias of distribution {taken}: remove it there first (CloudFront allows one distribution per alias)",
            domain.name
        )));
    }
    if let (Some(arn), Some(domain)) = (&spec.distribution.certificate_arn, &spec.domain) {
        match &world.certificate {
            None => refusals.push(Refusal(format!(
                "CERTIFICATE_ARN: certificate {arn} does not exist in us-east-1 in this account"
            ))),
            Some(cert) => refusals.extend(certificate::problem(cert, &domain.name, opts.now).map(Refusal)),
        }
    }
    if let Some(dns::Zone::Unusable(why)) = &world.zone {
        refusals.push(Refusal(why.clone()));
    }
    if let (Headers::Owned(want), Some(p)) = (&spec.headers, &world.headers_policy) {
        if !p.is_owned(&want.comment) {
            refusals.push(Refusal(format!(
                "response headers policy {}: exists but was not made by cdnctl for this stack (its comment is not {:?}): \
                 rename or delete it, cdnctl will not change it",
                want.name, want.comment
            )));
        }
    }
    if let (Some(records), Some(domain)) = (&world.records, &spec.domain) {
        let dist_domain = dist.map(|d| d.domain_name.as_str());
        refusals.extend(
            dns::refusals(records, &domain.name, dist_domain, opts.adopt)
                .into_iter()
                .map(Refusal),
        );
    }
    refusals
}

/// The changes that make the world match the spec, as if every resource
/// found were this stack's (`preflight` says when they are not).
pub fn changes(spec: &Spec, world: &World, opts: &UpOptions) -> Plan {
    let mut plan = Plan::default();
    let b = format!("bucket {}", spec.bucket);
    let dist = world.distribution.as_ref();
    let owned_bucket = match &world.bucket {
        bucket::State::Present(o) => Some(o),
        _ => None,
    };

    // The bucket.
    let desired_policy = dist.map(|d| spec.policy(&d.arn));
    match owned_bucket {
        None => {
            plan.push(Step::CreateBucket, &b, "create", vec![format!("in {}", spec.region)]);
            // Tags are given at creation; the tags step only checks them
            // (beside the distribution's creation, not before it).
            for setting in [
                bucket::Setting::PublicAccessBlock,
                bucket::Setting::Encryption,
                bucket::Setting::Cors,
                bucket::Setting::Tags,
                bucket::Setting::Policy,
            ] {
                plan.push(Step::PutBucket(setting), &b, setting.name(), vec![]);
            }
        }
        Some(actual) => {
            let mut settings = bucket::differences(actual, spec, desired_policy.as_ref());
            if opts.end_public_access {
                plan.drop_public_reads = bucket_policy::end_public_access(actual, &mut settings);
            }
            if desired_policy.is_none() {
                settings.push((
                    bucket::Setting::Policy,
                    vec!["bucket policy: will name the new distribution".into()],
                ));
            }
            for (setting, details) in settings {
                plan.push(Step::PutBucket(setting), &b, setting.name(), details);
            }
        }
    }

    // The origin access control.
    let o = format!("origin access control {}", spec.oac_name);
    match &world.oac {
        None => plan.push(Step::CreateOac, &o, "create", vec![]),
        Some(actual) => {
            let diff = oac::differences(actual);
            if !diff.is_empty() {
                plan.push(Step::UpdateOac { id: actual.id.clone() }, &o, "update", diff);
            }
        }
    }

    // The response headers policy, when no managed one gives what is asked.
    let owned_policy = world
        .headers_policy
        .as_ref()
        .filter(|p| p.is_owned(&crate::spec::comment(&spec.bucket)));
    if let Headers::Owned(want) = &spec.headers {
        let r = format!("response headers policy {}", want.name);
        match owned_policy {
            None => plan.push(Step::CreateHeadersPolicy, &r, "create", vec![]),
            Some(p) => {
                let diff = response_headers::differences(p, want).unwrap_or_default();
                if !diff.is_empty() {
                    plan.push(Step::UpdateHeadersPolicy { id: p.id.clone() }, &r, "update", diff);
                }
            }
        }
    }

    // The certificate, when cdnctl provides it.
    if let (Some(domain), None) = (&spec.domain, &spec.distribution.certificate_arn) {
        let r = format!("certificate for {}", domain.name);
        match &world.certificate {
            None => plan.push(
                Step::RequestCertificate {
                    names: domain_move::certificate_names(spec, &world.moving),
                    serve: world.moving.serving_certificate().is_none(),
                },
                &r,
                "request, validate through DNS",
                vec![],
            ),
            Some(c) if c.status != "ISSUED" => plan.push(
                Step::ValidateCertificate { arn: c.arn.clone() },
                &r,
                "validate through DNS",
                vec![format!("{} is {}", c.arn, c.status)],
            ),
            // ACM renews a certificate only while its validation record resolves.
            Some(c) if world.validation_record == Some(false) => plan.push(
                Step::ValidateCertificate { arn: c.arn.clone() },
                &r,
                "restore its DNS validation record",
                vec![validation_missing(c)],
            ),
            Some(_) => {}
        }
    }

    // The distribution. The ids it links to are the observed ones; where one
    // is created in this run, the apply step fills it in.
    let links = distribution::Links {
        oac_id: world.oac.as_ref().map(|o| o.id.as_str()).unwrap_or("(new)"),
        headers_policy_id: headers_policy_id(spec, world).unwrap_or("(new)"),
        certificate_arn: certificate_arn(spec, world).or(spec.domain.as_ref().map(|_| "(new)")),
        keep_aliases: world.moving.keep_aliases(),
    };
    match dist {
        None => plan.push(
            Step::CreateDistribution,
            "distribution",
            "create",
            vec![spec.distribution.comment.clone()],
        ),
        Some(d) => {
            let r = format!("distribution {}", d.id);
            if let Ok((config, details)) = distribution::reconcile(&d.config, spec, links) {
                if !details.is_empty() {
                    plan.push(
                        Step::UpdateDistribution {
                            id: d.id.clone(),
                            etag: d.etag.clone(),
                            config: Box::new(config),
                        },
                        &r,
                        "update",
                        details,
                    );
                }
            }
            let tags = distribution::tag_differences(&d.tags, spec);
            if !tags.is_empty() {
                plan.push(Step::TagDistribution { arn: d.arn.clone() }, &r, "tag", tags);
            }
        }
    }

    // DNS.
    if let (Some(domain), Some(zone_id)) = (&spec.domain, &world.zone_id) {
        let in_place = (world.records.as_ref()).is_some_and(|rs| dist.is_some_and(|d| rs.points_at(&d.domain_name)));
        if !in_place {
            plan.push(
                Step::UpsertRecords {
                    zone_id: zone_id.clone(),
                },
                &format!("DNS {}", domain.name),
                "point A and AAAA at the distribution",
                vec![],
            );
        }
    }

    // What the stack owns and no longer needs: records of a domain removed
    // from the settings, and certificates it requested that are dead or no
    // longer wanted (deleted once the distribution no longer uses them).
    // During a move to another name they go only once the new name serves.
    if dist.is_some_and(|d| spec.is_owned(&d.tags)) && world.moving.old_records_may_go() {
        for (zone_id, name, records) in &world.stale_records {
            plan.push(
                Step::DeleteRecords {
                    zone_id: zone_id.clone(),
                    name: name.clone(),
                    records: records.clone(),
                },
                &format!("DNS {name}"),
                "delete (no longer in the settings)",
                vec![],
            );
        }
    }
    if let (Headers::Managed { name, .. }, Some(p)) = (&spec.headers, owned_policy) {
        let r = format!("response headers policy {}", p.config.name());
        if !opts.wait {
            plan.notes.push(format!(
                "{r}: no longer needed ({name} replaces it); `cdnctl up` deletes it once the distribution has deployed"
            ));
        } else if world.listing.using_headers_policy(&p.id).is_empty() {
            plan.push(
                Step::DeleteHeadersPolicy { id: p.id.clone() },
                &r,
                "delete (no longer needed)",
                vec![format!(
                    "the settings need no policy of the stack's own: {name} replaces it"
                )],
            );
        }
    }
    for c in &world.spare_certificates {
        let serving = world.moving.serving_certificate() == Some(c.arn.as_str());
        if world.listing.using_certificate(&c.arn).is_empty() && !serving {
            plan.push(
                Step::DeleteCertificate {
                    arn: c.arn.clone(),
                    zone_id: None,
                    wait: opts.wait,
                },
                &format!("certificate {}", c.arn),
                "delete (no longer needed)",
                vec![spare_reason(c)],
            );
        }
    }

    if opts.wait {
        let deployed = dist.is_some_and(|d| d.status == "Deployed");
        let touches_distribution = plan
            .changes
            .iter()
            .any(|c| matches!(c.step, Step::CreateDistribution | Step::UpdateDistribution { .. }));
        if !deployed || touches_distribution {
            let id = dist.map(|d| d.id.clone()).unwrap_or_default();
            plan.push(Step::WaitDeployed { id }, "distribution", "wait until deployed", vec![]);
        }
    }
    plan
}

/// The response headers policy the distribution should use: the managed
/// one, or the stack's own once it exists.
pub fn headers_policy_id<'a>(spec: &'a Spec, world: &'a World) -> Option<&'a str> {
    match &spec.headers {
        Headers::Managed { id, .. } => Some(id),
        Headers::Owned(want) => world
            .headers_policy
            .as_ref()
            .filter(|p| p.is_owned(&want.comment))
            .map(|p| p.id.as_str()),
    }
}

/// The certificate the distribution should use: the given one, else the
/// stack's own once it is issued.
pub fn certificate_arn<'a>(spec: &'a Spec, world: &'a World) -> Option<&'a str> {
    let given = spec.distribution.certificate_arn.as_deref();
    given.or(world.moving.serving_certificate()).or_else(|| {
        world
            .certificate
            .as_ref()
            .filter(|c| c.owned && c.status == "ISSUED")
            .map(|c| c.arn.as_str())
    })
}

pub struct DownOptions {
    pub wait: bool,
    pub purge: bool,
    pub max_deletes: u64,
}

/// Everything `down` must do to remove this stack's resources, and only them.
pub fn down(spec: &Spec, world: &World, opts: &DownOptions) -> Result<Plan, Vec<Refusal>> {
    let mut plan = Plan::default();
    let dist = world.owned_distribution(spec);
    // A distribution with the stack's comment but not its tag is not the
    // stack's: it, and everything it may use, is left alone.
    let untagged = world.distribution.as_ref().filter(|d| !spec.is_owned(&d.tags));

    // Never empty a bucket that a live distribution other than the stack's
    // own still serves: refuse the whole run, before any write.
    if opts.purge && world.objects.unwrap_or(0) > 0 {
        let mut serving = world.listing.serving(&spec.bucket);
        if let Some(d) = untagged.filter(|d| distribution::reads_from(&d.config, &spec.bucket)) {
            serving.insert(0, d.id.clone());
        }
        if !serving.is_empty() {
            return Err(vec![Refusal(format!(
                "bucket {}: --purge refused: distribution {} still serves files from it: \
                 remove this bucket from its origins (or delete that distribution) first",
                spec.bucket,
                serving.join(", ")
            ))]);
        }
    }
    if let Some(d) = untagged {
        plan.notes.push(format!(
            "distribution {}: carries this stack's comment but not its cdnctl:stack tag: left alone, \
             and with it the origin access control, certificate and bucket it may use",
            d.id
        ));
    }

    // DNS records, only where they point at this stack's distribution.
    if let (Some(records), Some(zone_id), Some(domain)) = (&world.records, &world.zone_id, &spec.domain) {
        let (ours, theirs): (Vec<_>, Vec<_>) = records
            .records()
            .cloned()
            .partition(|r| dist.is_some_and(|d| dns::points_at(r, &d.domain_name)));
        for r in &theirs {
            plan.notes.push(format!(
                "DNS {}: the {} record points at {}, not at this stack's distribution: left alone",
                domain.name,
                r.r#type().as_str(),
                dns::target(r)
            ));
        }
        if !ours.is_empty() {
            let types = ours
                .iter()
                .map(|r| r.r#type().as_str().to_string())
                .collect::<Vec<_>>()
                .join(" and ");
            plan.push(
                Step::DeleteRecords {
                    zone_id: zone_id.clone(),
                    name: domain.name.clone(),
                    records: ours,
                },
                &format!("DNS {}", domain.name),
                &format!("delete {types}"),
                vec![],
            );
        }
    }
    if let (Some(dns::Zone::Unusable(why)), Some(domain)) = (&world.zone, &spec.domain) {
        plan.notes.push(format!(
            "DNS {}: the records could not be checked ({why}); the rest is removed",
            domain.name
        ));
    }
    for (zone_id, name, records) in world.stale_records.iter().filter(|_| dist.is_some()) {
        plan.push(
            Step::DeleteRecords {
                zone_id: zone_id.clone(),
                name: name.clone(),
                records: records.clone(),
            },
            &format!("DNS {name}"),
            "delete",
            vec![],
        );
    }

    // The distribution: disable, wait, delete. The OAC, certificates and
    // bucket follow only once it is gone, so a `--no-wait` run leaves them
    // for the next one.
    let mut distribution_gone = dist.is_none();
    if let Some(d) = dist {
        let r = format!("distribution {}", d.id);
        if d.config.enabled {
            plan.push(
                Step::DisableDistribution {
                    id: d.id.clone(),
                    etag: d.etag.clone(),
                    config: Box::new(d.config.clone()),
                },
                &r,
                "disable",
                vec![],
            );
        }
        let deployed_disabled = !d.config.enabled && d.status == "Deployed";
        if deployed_disabled || opts.wait {
            if !deployed_disabled {
                plan.push(
                    Step::WaitDeployed { id: d.id.clone() },
                    &r,
                    "wait until disabled everywhere",
                    vec![],
                );
            }
            plan.push(Step::DeleteDistribution { id: d.id.clone() }, &r, "delete", vec![]);
            distribution_gone = true;
        } else {
            plan.notes.push(format!(
                "distribution {}: disabling takes CloudFront several minutes; run `cdnctl down` again to delete it, the origin access control and the bucket",
                d.id
            ));
        }
    }
    let free = distribution_gone && untagged.is_none();

    if let Some(o) = world.oac.as_ref().filter(|_| free) {
        let users = world.listing.using_oac(&o.id);
        if users.is_empty() {
            plan.push(
                Step::DeleteOac { id: o.id.clone() },
                &format!("origin access control {}", spec.oac_name),
                "delete",
                vec![],
            );
        } else {
            plan.notes.push(format!(
                "origin access control {}: still used by distribution {}: left alone",
                spec.oac_name,
                users.join(", ")
            ));
        }
    }

    let comment = crate::spec::comment(&spec.bucket);
    if let Some(p) = world.headers_policy.as_ref().filter(|p| free && p.is_owned(&comment)) {
        let users = world.listing.using_headers_policy(&p.id);
        let r = format!("response headers policy {}", p.config.name());
        if users.is_empty() {
            plan.push(Step::DeleteHeadersPolicy { id: p.id.clone() }, &r, "delete", vec![]);
        } else {
            plan.notes.push(format!(
                "{r}: still used by distribution {}: left alone",
                users.join(", ")
            ));
        }
    }

    let owned_certs = world
        .certificate
        .iter()
        .filter(|c| c.owned)
        .chain(world.spare_certificates.iter());
    for c in owned_certs.filter(|_| free) {
        let users = world.listing.using_certificate(&c.arn);
        if !users.is_empty() {
            plan.notes.push(format!(
                "certificate {}: still used by distribution {}: left alone",
                c.arn,
                users.join(", ")
            ));
            continue;
        }
        let zone_id = match &spec.domain {
            Some(d) if c.names.contains(&d.name) => world.zone_id.clone(),
            _ => None,
        };
        plan.push(
            Step::DeleteCertificate {
                arn: c.arn.clone(),
                zone_id,
                wait: opts.wait,
            },
            &format!("certificate {}", c.arn),
            "delete, then its validation record",
            vec![],
        );
    }

    let b = format!("bucket {}", spec.bucket);
    match &world.bucket {
        // Left for a later run while the distribution still exists (the note
        // about the distribution says so).
        bucket::State::Present(o) if spec.is_owned(&o.tags) && !free => {}
        bucket::State::Present(o) if spec.is_owned(&o.tags) => {
            let objects = world.objects.unwrap_or(0);
            if objects == 0 {
                plan.push(Step::DeleteBucket, &b, "delete (empty)", vec![]);
            } else if !opts.purge {
                plan.notes.push(format!(
                    "bucket {}: kept, it holds {} object version(s); run `cdnctl down --purge` to delete them and the bucket",
                    spec.bucket,
                    count(objects, opts.max_deletes)
                ));
            } else if objects > opts.max_deletes {
                return Err(vec![Refusal(format!(
                    "bucket {}: holds more than {} object versions, the --max-deletes limit: raise it (e.g. --max-deletes {}) to purge them all",
                    spec.bucket,
                    opts.max_deletes,
                    opts.max_deletes.saturating_mul(10)
                ))]);
            } else {
                plan.push(
                    Step::EmptyBucket,
                    &b,
                    &format!("delete {objects} object version(s)"),
                    vec![],
                );
                plan.push(Step::DeleteBucket, &b, "delete", vec![]);
            }
        }
        bucket::State::Present(o) if !spec.is_owned(&o.tags) => plan.notes.push(format!(
            "bucket {}: not tagged as this stack's, left alone",
            spec.bucket
        )),
        bucket::State::Present(_) => {}
        bucket::State::Foreign => plan.notes.push(format!(
            "bucket {}: belongs to another account, left alone",
            spec.bucket
        )),
        bucket::State::Absent => {}
    }
    Ok(plan)
}

fn count(objects: u64, limit: u64) -> String {
    if objects > limit {
        format!("more than {limit}")
    } else {
        objects.to_string()
    }
}
