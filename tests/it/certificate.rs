//! Certificates: requested and validated through DNS when none is given,
//! reused on later runs, checked when given, and deleted only when cdnctl
//! requested them. (The emulator issues a certificate only once its
//! validation record is in a hosted zone, as ACM does.)

use crate::harness::{block_on, clients, Clients, Stack};
use crate::inspect::{self, distribution_of, issued_certificate, records_of};

/// A certificate as ACM holds it: (arn, status, tags).
type Found = (String, String, Vec<(String, String)>);

/// The certificates ACM holds for `domain`.
fn certificates_for(c: &Clients, domain: &str) -> Vec<Found> {
    block_on(async {
        let list = c.acm.list_certificates().send().await.unwrap();
        let mut out = Vec::new();
        for s in list
            .certificate_summary_list()
            .iter()
            .filter(|s| s.domain_name() == Some(domain))
        {
            let arn = s.certificate_arn().unwrap().to_string();
            let cert = inspect::describe_certificate(c, &arn).await;
            let tags = c
                .acm
                .list_tags_for_certificate()
                .certificate_arn(&arn)
                .send()
                .await
                .unwrap();
            let tags = tags
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
                .collect();
            out.push((arn, cert.status.unwrap().as_str().to_string(), tags));
        }
        out
    })
}

#[test]
fn up_requests_validates_and_attaches_a_certificate_then_reuses_it() {
    let (stack, zone_id, domain) = Stack::new("acm").with_domain();
    let c = clients(&stack);
    stack.run(&["up"]).ok();

    let certs = certificates_for(&c, &domain);
    assert_eq!(certs.len(), 1, "{certs:?}");
    let (arn, status, tags) = &certs[0];
    assert_eq!(status, "ISSUED");
    assert!(
        tags.contains(&("cdnctl:stack".to_string(), stack.bucket.clone())),
        "{tags:?}"
    );
    // Validated through a record in the zone.
    let zone = block_on(c.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send()).unwrap();
    assert!(
        zone.resource_record_sets()
            .iter()
            .any(|r| r.r#type().as_str() == "CNAME" && r.name().ends_with(&format!(".{domain}."))),
        "no validation record in the zone"
    );
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert_eq!(
        d.config.viewer_certificate.unwrap().acm_certificate_arn.as_deref(),
        Some(arn.as_str())
    );
    assert_eq!(block_on(records_of(&c, &zone_id, &domain)).len(), 2);

    let report = stack.run(&["status", "--json"]).ok().json();
    let cert = inspect::resource(&report, "certificate");
    assert_eq!(
        (cert["name"].as_str(), cert["owned"].as_bool(), cert["health"].as_str()),
        (Some(arn.as_str()), Some(true), Some("ok"))
    );

    stack.run_without_writes(&["up"]).ok();
    assert_eq!(certificates_for(&c, &domain).len(), 1);
}

#[test]
fn a_validation_that_does_not_finish_in_time_says_what_to_check_and_resumes() {
    let (mut stack, _zone_id, domain) = Stack::new("acmwait").with_domain();
    let c = clients(&stack);
    // Give up long before the emulator issues it (one second after the record appears).
    stack.set("CDN_WAIT_MINUTES", "0.001");
    let run = stack.run(&["up"]).code(1);
    assert!(
        run.stderr.contains("name servers") && run.stderr.contains("run `cdnctl up` again"),
        "{}",
        run.stderr
    );
    let pending = certificates_for(&c, &domain);
    assert_eq!(pending.len(), 1);

    let report = stack.run(&["status", "--json"]).code(3).json();
    let cert = inspect::resource(&report, "certificate");
    assert!(["pending", "ok"].contains(&cert["health"].as_str().unwrap()), "{cert}");

    stack.unset("CDN_WAIT_MINUTES");
    stack.run(&["up"]).ok();
    let certs = certificates_for(&c, &domain);
    assert_eq!(certs.len(), 1, "a second certificate was requested: {certs:?}");
    assert_eq!(certs[0].0, pending[0].0);
    stack.run(&["status"]).ok();
}

#[test]
fn a_given_certificate_that_is_not_issued_is_refused() {
    let (stack, _zone, domain) = Stack::new("pendingcert").with_domain();
    let c = clients(&stack);
    let pending = block_on(inspect::pending_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &pending);
    let run = stack.run(&["up"]).code(1);
    assert!(run.stderr.contains("PENDING_VALIDATION, not ISSUED"), "{}", run.stderr);
    assert!(stack.writes().is_empty(), "refused, yet wrote: {:?}", stack.writes());
}

#[test]
fn down_deletes_the_certificate_it_requested_and_its_validation_record() {
    let (stack, zone_id, domain) = Stack::new("acmdown").with_domain();
    let c = clients(&stack);
    stack.run(&["up"]).ok();
    assert_eq!(certificates_for(&c, &domain).len(), 1);

    stack.run(&["down", "--yes"]).ok();
    assert!(
        certificates_for(&c, &domain).is_empty(),
        "the requested certificate is left"
    );
    let zone = block_on(c.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send()).unwrap();
    let left: Vec<_> = zone
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().ends_with(&format!("{domain}.")))
        .collect();
    assert!(left.is_empty(), "records left: {left:?}");

    // A certificate someone else made for the domain is not cdnctl's to delete.
    let theirs = block_on(issued_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &theirs);
    stack.run(&["up"]).ok();
    stack.run(&["down", "--yes"]).ok();
    assert_eq!(certificates_for(&c, &domain).len(), 1);
}
