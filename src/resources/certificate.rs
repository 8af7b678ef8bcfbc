//! The ACM certificate (us-east-1) that CloudFront serves for the custom
//! domain: a given one is checked; otherwise cdnctl requests one, tagged as the
//! stack's, and validates it through DNS.

mod steps;
pub use steps::{down, retire, up, Step};

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_acm::types::{Tag, ValidationMethod};
use aws_sdk_acm::Client;
use futures_util::future::join_all;

use crate::aws::{delete_through, describe, is_in_use, is_not_found, optional, tag_map, Poll, Waiting};
use crate::settings::Setting::CertificateArn;
use crate::spec::{stable_hash, Spec};

/// ACM's status of a certificate, read once when observed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    Issued,
    PendingValidation,
    Expired,
    /// FAILED, VALIDATION_TIMED_OUT, INACTIVE, REVOKED, … as ACM says it
    /// (empty when it said nothing): none will ever serve.
    #[default]
    Unknown,
    Other(String),
}

impl Status {
    pub fn parse(s: &str) -> Status {
        match s {
            "ISSUED" => Status::Issued,
            "PENDING_VALIDATION" => Status::PendingValidation,
            "EXPIRED" => Status::Expired,
            "" => Status::Unknown,
            other => Status::Other(other.to_string()),
        }
    }

    /// As ACM spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Issued => "ISSUED",
            Status::PendingValidation => "PENDING_VALIDATION",
            Status::Expired => "EXPIRED",
            Status::Unknown => "",
            Status::Other(s) => s,
        }
    }

    /// Issued, or awaiting validation. The others (FAILED,
    /// VALIDATION_TIMED_OUT, EXPIRED, INACTIVE, REVOKED) never will serve.
    pub fn is_live(&self) -> bool {
        matches!(self, Status::Issued | Status::PendingValidation)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Status {
    fn from(s: &str) -> Status {
        Status::parse(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    pub status: Status,
    /// The domain name and every subject alternative name.
    pub names: Vec<String>,
    /// Seconds since the epoch, when known.
    pub not_after: Option<i64>,
    /// The CNAME (name, value) that proves control of the domain, once ACM has made it.
    pub validation: Option<(String, String)>,
    /// The CNAMEs of every name (one each; names under one wildcard share one).
    pub validations: Vec<(String, String)>,
    /// RSA_2048, EC_prime256v1, …
    pub key_algorithm: Option<String>,
    /// Requested by cdnctl for this stack (tagged), as opposed to given.
    pub owned: bool,
}

pub async fn observe(acm: &Client, arn: &str) -> anyhow::Result<Option<Observed>> {
    let out = optional(
        format!("certificate {arn}: DescribeCertificate"),
        acm.describe_certificate().certificate_arn(arn).send().await,
    )?;
    Ok(out.and_then(|o| o.certificate).map(|c| {
        let mut names: Vec<String> = c.domain_name.iter().cloned().collect();
        for n in c.subject_alternative_names() {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        let record = |o: &aws_sdk_acm::types::DomainValidation| {
            o.resource_record()
                .map(|r| (r.name().to_string(), r.value().to_string()))
        };
        let options = c.domain_validation_options();
        let validation = options
            .iter()
            .find(|o| Some(o.domain_name()) == c.domain_name.as_deref())
            .and_then(record)
            .or_else(|| options.iter().find_map(record));
        let mut validations: Vec<(String, String)> = Vec::new();
        for r in options.iter().filter_map(record) {
            if !validations.contains(&r) {
                validations.push(r);
            }
        }
        Observed {
            arn: arn.to_string(),
            status: c.status.map(|s| Status::parse(s.as_str())).unwrap_or_default(),
            names,
            not_after: c.not_after.map(|t| t.secs()),
            validation,
            validations,
            key_algorithm: c.key_algorithm.map(|k| k.as_str().to_string()),
            owned: false,
        }
    }))
}

/// ACM answers ResourceNotFoundException for several seconds after
/// RequestCertificate: that is not "no certificate".
const DESCRIBE_LAG: Duration = Duration::from_secs(30);

/// Describe a certificate requested moments ago, waiting through the seconds
/// in which ACM does not know it yet. `None` if it stays unknown (an
/// idempotency token that named a certificate deleted since).
pub async fn observe_new(acm: &Client, arn: &str, waiting: &Waiting) -> anyhow::Result<Option<Observed>> {
    let described = waiting
        .at_most(DESCRIBE_LAG)
        .through(
            is_not_found,
            |_, _| {},
            || acm.describe_certificate().certificate_arn(arn).send(),
        )
        .await;
    match described {
        Ok(_) => observe(acm, arn).await,
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(describe(format!("certificate {arn}: DescribeCertificate"), e)),
    }
}

/// One line of ListCertificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub arn: String,
    /// The primary name.
    pub domain: String,
    /// Every name: the primary and the subject alternative names.
    pub names: Vec<String>,
    /// More names than the summary lists (DescribeCertificate has them all).
    pub more_names: bool,
    pub status: Status,
}

/// The key algorithms CloudFront accepts for a viewer certificate: RSA of
/// 1024 to 4096 bits and ECDSA P-256 (CloudFront developer guide and ACM user
/// guide, "Prerequisites for importing ACM certificates").
pub const CLOUDFRONT_KEY_ALGORITHMS: &[&str] = &["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1"];

/// Every certificate in the account (us-east-1), of every status and key
/// type: failed, timed-out and expired ones stay until deleted, and a filter
/// on ISSUED and PENDING_VALIDATION would hide the stack's dead ones from
/// `down`; without `Includes.keyTypes` ACM lists RSA_2048 ones only.
pub async fn list(acm: &Client) -> anyhow::Result<Vec<Summary>> {
    let mut out = Vec::new();
    let every_key_type = aws_sdk_acm::types::Filters::builder()
        .set_key_types(Some(
            aws_sdk_acm::types::KeyAlgorithm::values()
                .iter()
                .map(|k| aws_sdk_acm::types::KeyAlgorithm::from(*k))
                .collect(),
        ))
        .build();
    let mut pages = acm.list_certificates().includes(every_key_type).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe("certificate: ListCertificates", e))?;
        for s in page.certificate_summary_list() {
            if let Some(arn) = s.certificate_arn() {
                let domain = s.domain_name().unwrap_or("").to_ascii_lowercase();
                let mut names = vec![domain.clone()];
                for n in s.subject_alternative_name_summaries() {
                    let n = n.to_ascii_lowercase();
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
                out.push(Summary {
                    arn: arn.to_string(),
                    domain,
                    names,
                    more_names: s.has_additional_subject_alternative_names().unwrap_or(false),
                    status: s.status().map(|s| Status::parse(s.as_str())).unwrap_or_default(),
                });
            }
        }
    }
    Ok(out)
}

/// Of these certificates, those tagged as this stack's, described.
pub async fn owned_among(acm: &Client, spec: &Spec, arns: &[String]) -> anyhow::Result<Vec<Observed>> {
    let found = join_all(arns.iter().map(|arn| async move {
        let (tags, cert) = tokio::join!(
            acm.list_tags_for_certificate().certificate_arn(arn).send(),
            observe(acm, arn)
        );
        let tags: BTreeMap<String, String> = optional(format!("certificate {arn}: ListTagsForCertificate"), tags)?
            .map(|t| tag_map(t.tags().iter().map(|t| (t.key(), t.value()))))
            .unwrap_or_default();
        anyhow::Ok(
            cert?
                .filter(|_| spec.is_owned(&tags))
                .map(|c| Observed { owned: true, ..c }),
        )
    }))
    .await;
    let mut owned = Vec::new();
    for f in found {
        owned.extend(f?);
    }
    Ok(owned)
}

/// Whether a certificate can still serve or become able to: issued or
/// awaiting validation.
pub fn is_live(status: &Status) -> bool {
    status.is_live()
}

/// The best of the stack's live certificates with exactly these names (in
/// any order): the newest issued one, else the newest pending one.
pub fn best_for<'a>(owned: &'a [Observed], names: &[String]) -> Option<&'a Observed> {
    let set = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|n| n.to_ascii_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    };
    let want = set(names);
    owned
        .iter()
        .filter(|c| is_live(&c.status) && set(&c.names) == want)
        .max_by_key(|c| (c.status == Status::Issued, c.not_after))
}

/// Request a DNS-validated certificate for the domain, tagged as the stack's.
///
/// The idempotency token makes a retried request return the same
/// certificate. ACM remembers a token for an hour and returns the earlier
/// certificate even if it has since been deleted (`up`, `down`, `up` within
/// the hour) or has failed: then request again with a token of this moment.
///
/// `names` are the primary name, then the subject alternative names (the
/// old name while the domain moves).
pub async fn request(acm: &Client, spec: &Spec, names: &[String], waiting: &Waiting) -> anyhow::Result<String> {
    let key = names.join(",");
    let arn = send_request(acm, spec, names, &idempotency_token(&spec.bucket, &key, None)).await?;
    // ACM does not know a new certificate for several seconds: that is not
    // "deleted since", and no reason to request a second one.
    if observe_new(acm, &arn, waiting)
        .await?
        .is_some_and(|c| is_live(&c.status))
    {
        return Ok(arn);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let arn = send_request(acm, spec, names, &idempotency_token(&spec.bucket, &key, Some(now))).await?;
    observe_new(acm, &arn, waiting).await?;
    Ok(arn)
}

async fn send_request(acm: &Client, spec: &Spec, names: &[String], token: &str) -> anyhow::Result<String> {
    let domain = names.first().map(String::as_str).unwrap_or("");
    let tags = spec
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    let out = acm
        .request_certificate()
        .domain_name(domain)
        .set_subject_alternative_names((names.len() > 1).then(|| names.to_vec()))
        .validation_method(ValidationMethod::Dns)
        .idempotency_token(token)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| describe(format!("certificate for {domain}: RequestCertificate"), e))?;
    out.certificate_arn
        .ok_or_else(|| anyhow!("certificate for {domain}: RequestCertificate returned no ARN"))
}

/// At most 32 word characters, stable for the stack and domain (and, for a
/// second attempt, the moment).
fn idempotency_token(bucket: &str, domain: &str, moment: Option<u64>) -> String {
    let seed = match moment {
        None => format!("{bucket}/{domain}"),
        Some(t) => format!("{bucket}/{domain}/{t}"),
    };
    format!("cdnctl{:016x}", stable_hash(&seed))
}

/// ACM adds the validation records to the certificate a few seconds after
/// the request: poll until every name has its record.
pub async fn validation_records(acm: &Client, arn: &str, waiting: &Waiting) -> anyhow::Result<Vec<(String, String)>> {
    let every = waiting.every.min(Duration::from_secs(2));
    let waiting = Waiting {
        every,
        timeout: every * 60,
    };
    let look = || async {
        let out = optional(
            format!("certificate {arn}: DescribeCertificate"),
            acm.describe_certificate().certificate_arn(arn).send().await,
        )?;
        let options = out
            .as_ref()
            .and_then(|o| o.certificate())
            .map(|c| c.domain_validation_options())
            .unwrap_or_default();
        if options.is_empty() || options.iter().any(|o| o.resource_record().is_none()) {
            return Ok(Poll::Pending("waiting for ACM's validation records".into()));
        }
        let mut records: Vec<(String, String)> = Vec::new();
        for r in options.iter().filter_map(|o| o.resource_record()) {
            let r = (r.name().to_string(), r.value().to_string());
            if !records.contains(&r) {
                records.push(r);
            }
        }
        Ok(Poll::Ready(records))
    };
    waiting
        .until(
            |_| {},
            look,
            |_, _| anyhow!("certificate {arn}: ACM did not provide its DNS validation records: run `cdnctl up` again"),
        )
        .await
}

/// Poll until ISSUED; a failed validation or a timeout is an error that says
/// what to check. (The SDK's certificate_validated waiter polls no more than
/// once a minute, and says nothing meanwhile.)
pub async fn wait_issued(
    acm: &Client,
    arn: &str,
    domain: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str),
) -> anyhow::Result<()> {
    let look = || async {
        match observe(acm, arn).await?.map(|c| c.status).unwrap_or_default() {
            Status::Issued => Ok(Poll::Ready(())),
            Status::PendingValidation => Ok(Poll::Pending(Status::PendingValidation.as_str().to_string())),
            other => Err(anyhow!(
                "certificate {arn}: validation ended {other}: run `cdnctl up` again to request a new one"
            )),
        }
    };
    let minutes = waiting.timeout.as_secs() / 60;
    waiting
        .until(progress, look, |_, _| {
            anyhow!(
                "certificate {arn}: still waiting for DNS validation of {domain} after {minutes} minutes: check that the \
                 domain is delegated to this hosted zone's name servers (its NS records at the registrar); \
                 run `cdnctl up` again to keep waiting"
            )
        })
        .await
}

/// What became of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Done,
    /// ACM still counts it in use (it does for minutes after the distribution
    /// that used it is deleted or stops using it).
    StillInUse,
}

/// Delete a certificate, waiting through ACM's "in use" window when
/// `waiting` allows (with `progress`); a certificate already gone is fine.
pub async fn delete(
    acm: &Client,
    arn: &str,
    waiting: Option<&Waiting>,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<Deleted> {
    let send = || acm.delete_certificate().certificate_arn(arn).send();
    match delete_through(waiting, is_in_use, progress, send).await {
        Ok(()) => Ok(Deleted::Done),
        Err(e) if is_in_use(&e) => Ok(Deleted::StillInUse),
        Err(e) => Err(describe(format!("certificate {arn}: DeleteCertificate"), e)),
    }
}

/// Whether another certificate in the account (other than `except`) still
/// uses the validation record `name` for `domain`: ACM gives every
/// certificate for the same name in an account the same record, and renews
/// each only while it resolves. Every key type is looked at, and every name
/// of each certificate, not only its primary one.
pub async fn validation_record_shared(
    acm: &Client,
    name: &str,
    domain: &str,
    except: &[String],
) -> anyhow::Result<bool> {
    let related = |n: &String| covers(n, domain) || covers(domain, n) || n == domain;
    let others: Vec<String> = list(acm)
        .await?
        .into_iter()
        .filter(|s| !except.contains(&s.arn))
        .filter(|s| s.more_names || s.names.iter().any(related))
        .map(|s| s.arn)
        .collect();
    let described = join_all(others.iter().map(|arn| observe(acm, arn))).await;
    let same = |n: &str| n.trim_end_matches('.').eq_ignore_ascii_case(name.trim_end_matches('.'));
    for cert in described {
        if cert?.is_some_and(|c| c.validations.iter().any(|(n, _)| same(n))) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a certificate name covers `domain`: the same name, or a wildcard one
/// label up (`*.example.com` covers `static.example.com`, not `a.b.example.com`).
pub fn covers(name: &str, domain: &str) -> bool {
    let (name, domain) = (name.to_ascii_lowercase(), domain.to_ascii_lowercase());
    if name == domain {
        return true;
    }
    match (name.strip_prefix("*."), domain.split_once('.')) {
        (Some(parent), Some((_, domain_parent))) => parent == domain_parent,
        _ => false,
    }
}

/// Why this certificate cannot serve `domain` now, if it cannot.
pub fn problem(cert: &Observed, domain: &str, now: i64) -> Option<String> {
    if cert.status != Status::Issued {
        return Some(format!(
            "{CertificateArn}: certificate {} is {}, not ISSUED: finish its validation in ACM, or remove {CertificateArn}",
            cert.arn, cert.status
        ));
    }
    if cert.not_after.is_some_and(|t| t <= now) {
        return Some(format!(
            "{CertificateArn}: certificate {} has expired: renew or replace it",
            cert.arn
        ));
    }
    if let Some(k) = cert
        .key_algorithm
        .as_deref()
        .filter(|k| !CLOUDFRONT_KEY_ALGORITHMS.contains(k))
    {
        return Some(format!(
            "{CertificateArn}: certificate {} has key algorithm {k}, which CloudFront does not accept \
             (it accepts {}): use an RSA_2048 or EC_prime256v1 certificate",
            cert.arn,
            CLOUDFRONT_KEY_ALGORITHMS.join(", ")
        ));
    }
    if !cert.names.iter().any(|n| covers(n, domain)) {
        return Some(format!(
            "{CertificateArn}: certificate {} covers {}, not {domain}: use a certificate for {domain}",
            cert.arn,
            cert.names.join(", ")
        ));
    }
    None
}

/// Why `up` must not start with the given certificate (`CertificateArn`):
/// missing, or unable to serve the domain now.
pub fn given_refusal(arn: &str, observed: Option<&Observed>, domain: &str, now: i64) -> Option<String> {
    match observed {
        None => Some(format!(
            "{CertificateArn}: certificate {arn} does not exist in us-east-1 in this account"
        )),
        Some(cert) => problem(cert, domain, now),
    }
}

/// One line for a certificate whose validation record is missing.
pub fn validation_missing(c: &Observed) -> String {
    let name = c.validation.as_ref().map(|(n, _)| n.as_str()).unwrap_or("?");
    format!("validation record {name} is missing: ACM cannot renew the certificate without it")
}

/// Why the stack no longer needs one of its certificates.
pub fn spare_reason(c: &Observed) -> String {
    if is_live(&c.status) {
        format!("{} for {}, no longer in the settings", c.status, c.names.join(", "))
    } else {
        format!("{}: it can never serve", c.status)
    }
}

pub fn days_left(cert: &Observed, now: i64) -> Option<i64> {
    cert.not_after.map(|t| (t - now) / 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(covers("static.example.com", "static.example.com"));
        assert!(covers("*.example.com", "static.example.com"));
        assert!(!covers("*.example.com", "a.static.example.com"));
        assert!(!covers("other.example.com", "static.example.com"));
        assert!(covers("*.Example.com", "STATIC.example.com"));
    }
}
