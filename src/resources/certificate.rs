//! The ACM certificate (us-east-1) that CloudFront serves for the custom domain.

use aws_sdk_acm::Client;

use crate::aws::optional;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    /// ISSUED, PENDING_VALIDATION, FAILED, EXPIRED, …
    pub status: String,
    /// The domain name and every subject alternative name.
    pub names: Vec<String>,
    /// Seconds since the epoch, when known.
    pub not_after: Option<i64>,
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
        Observed {
            arn: arn.to_string(),
            status: c.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            names,
            not_after: c.not_after.map(|t| t.secs()),
        }
    }))
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
