//! CORS and security headers come from a CloudFront response headers policy
//! on the distribution, added to every response, not from whichever request
//! happened to fill the cache: a managed policy where one fits, else one of
//! the stack's own, updated in place and removed when no longer needed.

use aws_sdk_cloudfront::types::{
    ResponseHeadersPolicyAccessControlAllowHeaders, ResponseHeadersPolicyAccessControlAllowMethods,
    ResponseHeadersPolicyAccessControlAllowMethodsValues, ResponseHeadersPolicyAccessControlAllowOrigins,
    ResponseHeadersPolicyConfig, ResponseHeadersPolicyCorsConfig,
};

use crate::harness::{block_on, clients, Stack};
use crate::inspect::{self, distribution_of};

const CORS_AND_SECURITY: &str = "eaab4381-ed33-4a86-88ca-d9558dc6cd63";
const CORS_WITH_PREFLIGHT: &str = "5cc3b908-e619-4b99-88e5-2cf7f45965bd";

fn policy_name(stack: &Stack) -> String {
    format!("cdnctl-{}", stack.bucket)
}

/// (response headers policy id, allowed methods, cached methods) of the default behavior.
fn behavior(stack: &Stack) -> (String, Vec<String>, Vec<String>) {
    let d = block_on(distribution_of(&clients(stack), &stack.bucket)).unwrap();
    let b = d.config.default_cache_behavior.unwrap();
    let methods = b.allowed_methods.unwrap();
    let mut allowed: Vec<String> = methods.items.iter().map(|m| m.as_str().to_string()).collect();
    let mut cached: Vec<String> = methods
        .cached_methods
        .map(|c| c.items.iter().map(|m| m.as_str().to_string()).collect())
        .unwrap_or_default();
    allowed.sort();
    cached.sort();
    (b.response_headers_policy_id.unwrap_or_default(), allowed, cached)
}

fn origins(config: &ResponseHeadersPolicyConfig) -> Vec<String> {
    config
        .cors_config()
        .and_then(|c| c.access_control_allow_origins())
        .map(|o| o.items().to_vec())
        .unwrap_or_default()
}

#[test]
fn default_settings_use_the_managed_cors_policy_with_preflight() {
    let stack = Stack::new("corsdefault");
    stack.run(&["up"]).ok();
    let (policy, allowed, cached) = behavior(&stack);
    assert_eq!(policy, CORS_AND_SECURITY);
    assert_eq!(allowed, ["GET", "HEAD", "OPTIONS"]);
    assert_eq!(cached, ["GET", "HEAD", "OPTIONS"]);
    assert!(block_on(inspect::headers_policies(&clients(&stack), &policy_name(&stack))).is_empty());
    let report = stack.run(&["status", "--json"]).ok().json();
    assert_eq!(inspect::resource(&report, "response_headers_policy")["owned"], false);

    let mut stack = stack;
    stack.set("CDN_SECURITY_HEADERS", "off");
    stack.run(&["up"]).ok();
    assert_eq!(behavior(&stack).0, CORS_WITH_PREFLIGHT);
}

#[test]
fn a_list_of_origins_gets_a_policy_of_its_own_updated_in_place_and_removed() {
    let mut stack = Stack::new("corslist").with("CDN_CORS_ORIGINS", "https://www.example.com,https://app.example.com");
    let c = clients(&stack);
    stack.run(&["up"]).ok();
    let policies = block_on(inspect::headers_policies(&c, &policy_name(&stack)));
    assert_eq!(policies.len(), 1);
    let (id, config) = &policies[0];
    assert_eq!(origins(config), ["https://www.example.com", "https://app.example.com"]);
    let cors = config.cors_config().unwrap();
    assert!(cors.origin_override());
    let mut methods: Vec<&str> = cors
        .access_control_allow_methods()
        .unwrap()
        .items()
        .iter()
        .map(|m| m.as_str())
        .collect();
    methods.sort();
    assert_eq!(methods, ["GET", "HEAD", "OPTIONS"]);
    let security = config.security_headers_config().unwrap();
    assert!(security.content_type_options().is_some());
    assert!(security.referrer_policy().is_some());
    assert!(
        security.strict_transport_security().is_none(),
        "HSTS without a custom domain"
    );
    assert_eq!(&behavior(&stack).0, id);
    stack.run(&["status"]).ok();

    stack.set("CDN_CORS_ORIGINS", "https://www.example.com");
    let dry = stack.run(&["up", "--dry-run"]).code(3);
    assert!(dry.stderr.contains("CORS origins"), "{}", dry.stderr);
    stack.run(&["up"]).ok();
    let policies = block_on(inspect::headers_policies(&c, &policy_name(&stack)));
    assert_eq!(policies.len(), 1, "a second policy was made");
    assert_eq!(&policies[0].0, id, "updated in place");
    assert_eq!(origins(&policies[0].1), ["https://www.example.com"]);

    stack.unset("CDN_CORS_ORIGINS");
    stack.run(&["up"]).ok();
    assert_eq!(behavior(&stack).0, CORS_AND_SECURITY);
    assert!(block_on(inspect::headers_policies(&c, &policy_name(&stack))).is_empty());
    stack.run(&["status"]).ok();

    stack.set("CDN_CORS_ORIGINS", "https://www.example.com");
    stack.run(&["up"]).ok();
    stack.run(&["down", "--yes"]).ok();
    assert!(block_on(inspect::headers_policies(&c, &policy_name(&stack))).is_empty());
}

#[test]
fn hsts_directives_of_ones_own_for_a_custom_domain() {
    let (stack, _zone, _domain) = Stack::new("hsts").with_domain();
    let stack = stack.with("CDN_HSTS", "max-age=63072000; includeSubDomains; preload");
    stack.run(&["up"]).ok();
    let policies = block_on(inspect::headers_policies(&clients(&stack), &policy_name(&stack)));
    let hsts = policies[0]
        .1
        .security_headers_config()
        .unwrap()
        .strict_transport_security()
        .unwrap()
        .clone();
    assert_eq!(hsts.access_control_max_age_sec(), 63072000);
    assert_eq!(hsts.include_subdomains(), Some(true));
    assert_eq!(hsts.preload(), Some(true));
    assert_eq!(origins(&policies[0].1), ["*"]);
    stack.run(&["status"]).ok();
}

fn foreign_policy(name: &str) -> ResponseHeadersPolicyConfig {
    ResponseHeadersPolicyConfig::builder()
        .name(name)
        .comment("made by hand")
        .cors_config(
            ResponseHeadersPolicyCorsConfig::builder()
                .access_control_allow_origins(
                    ResponseHeadersPolicyAccessControlAllowOrigins::builder()
                        .quantity(1)
                        .items("https://other.example")
                        .build()
                        .unwrap(),
                )
                .access_control_allow_headers(
                    ResponseHeadersPolicyAccessControlAllowHeaders::builder()
                        .quantity(1)
                        .items("*")
                        .build()
                        .unwrap(),
                )
                .access_control_allow_methods(
                    ResponseHeadersPolicyAccessControlAllowMethods::builder()
                        .quantity(1)
                        .items(ResponseHeadersPolicyAccessControlAllowMethodsValues::Get)
                        .build()
                        .unwrap(),
                )
                .access_control_allow_credentials(false)
                .origin_override(false)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[test]
fn a_policy_cdnctl_did_not_make_is_never_changed_or_deleted() {
    let stack = Stack::new("corsforeign").with("CDN_CORS_ORIGINS", "https://www.example.com");
    let c = clients(&stack);
    let theirs = foreign_policy(&policy_name(&stack));
    block_on(
        c.cloudfront
            .create_response_headers_policy()
            .response_headers_policy_config(theirs.clone())
            .send(),
    )
    .unwrap();

    let run = stack.run_without_writes(&["up"]).code(1);
    assert!(run.stderr.contains("not made by cdnctl"), "{}", run.stderr);
    stack.run_without_writes(&["down", "--yes"]).ok();
    let left = block_on(inspect::headers_policies(&c, &policy_name(&stack)));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1, theirs);
}

#[test]
fn an_unknown_policy_id_is_refused_as_by_aws() {
    let stack = Stack::new("corsunknown");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    let current = block_on(c.cloudfront.get_distribution_config().id(&d.id).send()).unwrap();
    let mut config = current.distribution_config.unwrap();
    let mut b = config.default_cache_behavior.take().unwrap();
    b.response_headers_policy_id = Some("00000000-0000-0000-0000-000000000000".into());
    config.default_cache_behavior = Some(b);
    let err = block_on(
        c.cloudfront
            .update_distribution()
            .id(&d.id)
            .if_match(current.e_tag.unwrap())
            .distribution_config(config)
            .send(),
    )
    .unwrap_err();
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    assert_eq!(err.code(), Some("NoSuchResponseHeadersPolicy"));
}

#[test]
fn a_stack_made_before_response_headers_policies_converges() {
    let stack = Stack::new("corsold");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    // As an earlier cdnctl left it: no policy, GET and HEAD only.
    block_on(inspect::edit_distribution(&c, &stack.bucket, |d| {
        use aws_sdk_cloudfront::types::{AllowedMethods, CachedMethods, Method};
        let b = d.default_cache_behavior.as_mut().unwrap();
        b.response_headers_policy_id = None;
        let two = vec![Method::Get, Method::Head];
        b.allowed_methods = Some(
            AllowedMethods::builder()
                .quantity(2)
                .set_items(Some(two.clone()))
                .cached_methods(
                    CachedMethods::builder()
                        .quantity(2)
                        .set_items(Some(two))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
    }));

    let dry = stack.run(&["up", "--dry-run"]).code(3);
    assert!(
        dry.stderr.contains("response headers policy") && dry.stderr.contains("allowed methods"),
        "{}",
        dry.stderr
    );
    let report = stack.run(&["status", "--json"]).code(3).json();
    let drift = inspect::resource(&report, "distribution")["differences"].to_string();
    assert!(drift.contains("response headers policy"), "{drift}");
    stack.run(&["up"]).ok();
    assert_eq!(behavior(&stack).0, CORS_AND_SECURITY);
    stack.run(&["status"]).ok();
}
