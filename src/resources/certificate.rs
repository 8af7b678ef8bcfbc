//! The ACM certificate (us-east-1) that CloudFront serves for the custom
//! domain: a given one is checked; otherwise cdnctl requests one, tagged as the
//! stack's, and validates it through DNS.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};
use aws_sdk_acm::Client;
use futures_util::future::join_all;

use crate::aws::{code, describe, optional};
use crate::spec::{stable_hash, Spec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    /// ISSUED, PENDING_VALIDATION, FAILED, EXPIRED, …
    pub status: String,
    /// The domain name and every subject alternative name.
    pub names: Vec<String>,
    /// Seconds since the epoch, when known.
    pub not_after: Option<i64>,
    /// The CNAME (name, value) that proves control of the domain, once ACM has made it.
    pub validation: Option<(String, String)>,
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
        let validation = c
            .domain_validation_options()
            .iter()
            .find_map(|o| o.resource_record())
            .map(|r| (r.name().to_string(), r.value().to_string()));
        Observed {
            arn: arn.to_string(),
            status: c.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            names,
            not_after: c.not_after.map(|t| t.secs()),
            validation,
            owned: false,
        }
    }))
}

/// The stack's own pending or issued certificate for its domain, if any: the
/// newest issued one, else the newest pending one.
pub async fn find_owned(acm: &Client, spec: &Spec, domain: &str) -> anyhow::Result<Option<Observed>> {
    let mut arns = Vec::new();
    let mut pages = acm
        .list_certificates()
        .certificate_statuses(CertificateStatus::Issued)
        .certificate_statuses(CertificateStatus::PendingValidation)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe("certificate: ListCertificates", e))?;
        for summary in page.certificate_summary_list() {
            if summary.domain_name() == Some(domain) {
                arns.extend(summary.certificate_arn().map(String::from));
            }
        }
    }
    let found = join_all(arns.iter().map(|arn| async move {
        let (tags, cert) = tokio::join!(
            acm.list_tags_for_certificate().certificate_arn(arn).send(),
            observe(acm, arn)
        );
        let tags: BTreeMap<String, String> = optional(format!("certificate {arn}: ListTagsForCertificate"), tags)?
            .map(|t| {
                t.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
                    .collect()
            })
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
    owned.sort_by_key(|c| (c.status == "ISSUED", c.not_after));
    Ok(owned.pop())
}

/// Request a DNS-validated certificate for the domain, tagged as the stack's.
/// The idempotency token makes a retried request return the same certificate.
pub async fn request(acm: &Client, spec: &Spec, domain: &str) -> anyhow::Result<String> {
    let tags = spec
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    let out = acm
        .request_certificate()
        .domain_name(domain)
        .validation_method(ValidationMethod::Dns)
        .idempotency_token(idempotency_token(&spec.bucket, domain))
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| describe(format!("certificate for {domain}: RequestCertificate"), e))?;
    out.certificate_arn
        .ok_or_else(|| anyhow!("certificate for {domain}: RequestCertificate returned no ARN"))
}

/// At most 32 word characters, stable for the stack and domain.
fn idempotency_token(bucket: &str, domain: &str) -> String {
    format!("cdnctl{:016x}", stable_hash(&format!("{bucket}/{domain}")))
}

/// ACM adds the validation record to the certificate a few seconds after the
/// request: poll for it.
pub async fn validation_record(acm: &Client, arn: &str, every: Duration) -> anyhow::Result<(String, String)> {
    for _ in 0..60 {
        if let Some(record) = observe(acm, arn).await?.and_then(|c| c.validation) {
            return Ok(record);
        }
        tokio::time::sleep(every.min(Duration::from_secs(2))).await;
    }
    Err(anyhow!(
        "certificate {arn}: ACM did not provide its DNS validation record: run `cdnctl up` again"
    ))
}

/// Poll until ISSUED; a failed validation or a timeout is an error that says
/// what to check. (The SDK's certificate_validated waiter polls no more than
/// once a minute, and says nothing meanwhile.)
pub async fn wait_issued(
    acm: &Client,
    arn: &str,
    domain: &str,
    every: Duration,
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<()> {
    let start = tokio::time::Instant::now();
    loop {
        let status = observe(acm, arn).await?.map(|c| c.status).unwrap_or_default();
        progress(&status);
        match status.as_str() {
            "ISSUED" => return Ok(()),
            "PENDING_VALIDATION" if start.elapsed() < timeout => tokio::time::sleep(every).await,
            "PENDING_VALIDATION" => {
                return Err(anyhow!(
                    "certificate {arn}: still waiting for DNS validation of {domain} after {} minutes: check that the \
                     domain is delegated to this hosted zone's name servers (its NS records at the registrar); \
                     run `cdnctl up` again to keep waiting",
                    timeout.as_secs() / 60
                ))
            }
            other => {
                return Err(anyhow!(
                "certificate {arn}: validation ended {other}: delete it in ACM and run `cdnctl up` to request another"
            ))
            }
        }
    }
}

pub async fn delete(acm: &Client, arn: &str) -> anyhow::Result<()> {
    match acm.delete_certificate().certificate_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(describe(format!("certificate {arn}: DeleteCertificate"), e)),
    }
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
    if cert.status != "ISSUED" {
        return Some(format!(
            "CERTIFICATE_ARN: certificate {} is {}, not ISSUED: finish its validation in ACM, or remove CERTIFICATE_ARN",
            cert.arn, cert.status
        ));
    }
    if cert.not_after.is_some_and(|t| t <= now) {
        return Some(format!(
            "CERTIFICATE_ARN: certificate {} has expired: renew or replace it",
            cert.arn
        ));
    }
    if !cert.names.iter().any(|n| covers(n, domain)) {
        return Some(format!(
            "CERTIFICATE_ARN: certificate {} covers {}, not {domain}: use a certificate for {domain}",
            cert.arn,
            cert.names.join(", ")
        ));
    }
    None
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
