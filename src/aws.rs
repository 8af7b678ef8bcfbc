//! The one place that builds AWS clients, and the one place that reads SDK
//! errors ("not found", "already exists", unreachable endpoint).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

mod errors;
mod etag;
mod profile;
mod trace;

pub use errors::*;
pub use etag::Guarded;

/// CloudFront, Route53 and ACM-for-CloudFront live in us-east-1.
pub const GLOBAL_REGION: &str = "us-east-1";

/// A long `up` should ride out throttling rather than fail: more attempts than
/// the SDK's default of 3, with its standard exponential backoff.
const MAX_ATTEMPTS: u32 = 10;

/// The account, region and endpoint asked for on the command line
/// (`--profile`, `--region`, `--endpoint-url`); unset, the SDK reads its
/// own variables and files.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub route53: aws_sdk_route53::Client,
    pub acm: aws_sdk_acm::Client,
    /// The KeyValueStore's data plane (the release pointer).
    pub kvs: aws_sdk_cloudfrontkeyvaluestore::Client,
    /// The stack's region (`adopt --from-stack` reads a CloudFormation stack).
    pub cloudformation: aws_sdk_cloudformation::Client,
    /// The bucket's region.
    pub region: String,
}

impl Clients {
    /// S3 for uploads: Content-MD5 goes with every upload, so the SDK's own
    /// checksums (which would read each streamed body twice, or send it
    /// aws-chunked) are computed only where S3 requires them.
    pub fn uploading_s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            self.s3
                .config()
                .to_builder()
                .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                .build(),
        )
    }
}

impl Clients {
    pub async fn connect(target: &Target) -> anyhow::Result<Clients> {
        let retry = RetryConfig::standard()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20));
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
        if let Some(name) = profile::selected(target) {
            profile::ensure_exists(&name).await?;
            loader = loader.profile_name(name);
        }
        if let Some(region) = &target.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &target.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(client) = http_client_from_ca_bundle()? {
            loader = loader.http_client(client);
        }
        let mut config = loader.load().await;
        if let Some(name) = &target.profile {
            config = profile::credentials_win(config, name);
        }

        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            anyhow!("AWS region: not set: set AWS_REGION, pass --region, or set a region in your AWS profile")
        })?;
        validate_region(&region)?;

        let credentials = config
            .credentials_provider()
            .ok_or_else(|| anyhow!("AWS credentials: no credential provider is configured"))?;
        use aws_credential_types::provider::ProvideCredentials as _;
        credentials.provide_credentials().await.map_err(|e| match &target.profile {
            Some(name) => anyhow!("AWS credentials: profile `{name}` gives none ({e}): check that profile (or run `aws sso login --profile {name}`)"),
            None => anyhow!("AWS credentials: none found ({e}): set AWS_PROFILE (after `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        })?;

        let overridden = config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            // Against a local endpoint, `bucket.127.0.0.1` does not resolve.
            .force_path_style(overridden)
            .retry_classifier(S3OperationAborted)
            .retry_classifier(Unreachable)
            .interceptor(trace::Trace)
            .build();
        let global_region = Region::from_static(GLOBAL_REGION);
        Ok(Clients {
            kvs: kvs_client(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            cloudfront: aws_sdk_cloudfront::Client::from_conf(
                aws_sdk_cloudfront::config::Builder::from(&config)
                    .region(global_region.clone())
                    .retry_classifier(Unreachable)
                    .interceptor(trace::Trace)
                    .build(),
            ),
            route53: aws_sdk_route53::Client::from_conf(
                aws_sdk_route53::config::Builder::from(&config)
                    .region(global_region.clone())
                    .retry_classifier(Unreachable)
                    .interceptor(trace::Trace)
                    .build(),
            ),
            acm: aws_sdk_acm::Client::from_conf(
                aws_sdk_acm::config::Builder::from(&config)
                    .region(global_region)
                    .retry_classifier(Unreachable)
                    .interceptor(trace::Trace)
                    .build(),
            ),
            cloudformation: aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(&config)
                    .retry_classifier(Unreachable)
                    .interceptor(trace::Trace)
                    .build(),
            ),
            region,
        })
    }
}

/// The data plane's client: AWS's endpoint rules, or a custom endpoint as
/// given (`KvsEndpoint`).
fn kvs_client(config: &aws_config::SdkConfig) -> aws_sdk_cloudfrontkeyvaluestore::Client {
    let mut kvs = aws_sdk_cloudfrontkeyvaluestore::config::Builder::from(config)
        .retry_classifier(Unreachable)
        .interceptor(trace::Trace);
    if let Some(url) = config.endpoint_url() {
        kvs = kvs.endpoint_resolver(KvsEndpoint(url.to_string()));
    }
    aws_sdk_cloudfrontkeyvaluestore::Client::from_conf(kvs.build())
}

/// The KeyValueStore data plane's endpoint rules put the account id before
/// the host, a custom endpoint's too (`https://123456789012.127.0.0.1:PORT`,
/// which does not resolve). With a custom endpoint (a local emulator,
/// LocalStack) this keeps everything AWS's rules decide (SigV4A, its signing
/// name and region set) and sends to the endpoint as given. Without one it
/// is not installed: requests to AWS follow AWS's own rules unchanged.
#[derive(Debug)]
struct KvsEndpoint(String);

impl aws_sdk_cloudfrontkeyvaluestore::config::endpoint::ResolveEndpoint for KvsEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        params: &'a aws_sdk_cloudfrontkeyvaluestore::config::endpoint::Params,
    ) -> aws_sdk_cloudfrontkeyvaluestore::config::endpoint::EndpointFuture<'a> {
        use aws_sdk_cloudfrontkeyvaluestore::config::endpoint::{DefaultResolver, EndpointFuture};
        EndpointFuture::new(async move {
            let rules = DefaultResolver::new().resolve_endpoint(params).await?;
            Ok(rules.into_builder().url(self.0.clone()).build())
        })
    }
}

fn validate_region(region: &str) -> anyhow::Result<()> {
    let ok = region.split('-').count() >= 3
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        anyhow::bail!("AWS_REGION: {region:?} is not valid: expected a region name such as eu-west-1");
    }
    // ARNs, service principals and CloudFront itself differ outside the aws
    // partition (GovCloud has no CloudFront; China's takes no ACM certificate).
    for (prefix, partition) in [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-iso", "aws-iso"),
        ("eu-iso", "aws-iso"),
    ] {
        if region.starts_with(prefix) {
            anyhow::bail!(
                "AWS_REGION: {region} is in the {partition} partition, which cdnctl does not support: use a region of the aws partition, such as eu-west-1"
            );
        }
    }
    Ok(())
}

/// The SDK does not read AWS_CA_BUNDLE (the AWS CLI does): build an HTTP client
/// that trusts exactly the certificates in that PEM file.
fn http_client_from_ca_bundle() -> anyhow::Result<Option<aws_smithy_runtime_api::client::http::SharedHttpClient>> {
    let Some(path) = std::env::var_os("AWS_CA_BUNDLE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let shown = path.to_string_lossy().to_string();
    let pem = std::fs::read(&path).with_context(|| format!("AWS_CA_BUNDLE: cannot read {shown:?}"))?;
    use rustls_pki_types::pem::PemObject as _;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("AWS_CA_BUNDLE: {shown:?} is not a valid PEM file ({e}): expected PEM certificates"))?;
    if certs.is_empty() {
        anyhow::bail!("AWS_CA_BUNDLE: {shown:?} holds no certificate: expected a PEM bundle of CA certificates");
    }
    let trust = tls::TrustStore::empty().with_pem_certificate(pem);
    let context = tls::TlsContext::builder().with_trust_store(trust).build()?;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    Ok(Some(client))
}

/// Right after CreateBucket, S3 may answer 409 OperationAborted while the
/// bucket settles; that is worth a retry, like throttling.
#[derive(Debug)]
struct S3OperationAborted;

impl ClassifyRetry for S3OperationAborted {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let aborted = ctx.response().is_some_and(|r| {
            r.status().as_u16() == 409
                && r.body()
                    .bytes()
                    .is_some_and(|b| std::str::from_utf8(b).is_ok_and(|s| s.contains("<Code>OperationAborted</Code>")))
        });
        if aborted {
            RetryAction::transient_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "S3OperationAborted"
    }
}

/// Failures that will be the same on every attempt: do not spend the retry
/// budget (minutes of backoff) on them. An endpoint whose TLS certificate is
/// not trusted, that refuses connections or whose name does not resolve is a
/// setting to fix, said at once; throttling, 5xx and dropped connections keep
/// the full budget.
#[derive(Debug)]
struct Unreachable;

impl ClassifyRetry for Unreachable {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(connector) = err.as_connector_error() else {
            return RetryAction::NoActionIndicated;
        };
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(connector);
        while let Some(s) = source {
            let text = s.to_string();
            if PERMANENT.iter().any(|p| text.contains(p)) {
                return RetryAction::RetryForbidden;
            }
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return RetryAction::RetryForbidden;
                }
            }
            source = s.source();
        }
        RetryAction::NoActionIndicated
    }

    fn name(&self) -> &'static str {
        "Unreachable"
    }
}

/// What the connector says when a retry cannot help.
const PERMANENT: &[&str] = &[
    "invalid peer certificate",
    "UnknownIssuer",
    "Connection refused",
    "dns error",
    "failed to lookup address",
    "Name or service not known",
    "No address associated with hostname",
];

/// How often to poll and how long to wait for anything AWS does slowly:
/// deployments, validation, and the windows in which AWS refuses a request
/// that it will accept a little later (a certificate still "in use" minutes
/// after its distribution was deleted, a bucket not yet visible to its own
/// subresource calls, …).
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    pub every: Duration,
    pub timeout: Duration,
}

impl Waiting {
    /// The same polling, bounded by `limit` as well.
    pub fn at_most(self, limit: Duration) -> Waiting {
        Waiting {
            every: self.every,
            timeout: self.timeout.min(limit),
        }
    }

    /// Send `request` again while AWS refuses it in a way that ends by itself
    /// (`passing` says which refusals), backing off from a second up to the
    /// poll interval, until `timeout`; then the last answer stands.
    /// `progress` hears each refusal, with the time waited so far.
    pub async fn through<T, E, F, Fut>(
        &self,
        passing: impl Fn(&SdkError<E, HttpResponse>) -> bool,
        mut progress: impl FnMut(&str, Duration),
        mut request: F,
    ) -> Result<T, SdkError<E, HttpResponse>>
    where
        E: ProvideErrorMetadata,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        let start = tokio::time::Instant::now();
        let mut pause = self.every.min(Duration::from_secs(1));
        loop {
            match request().await {
                Err(e) if passing(&e) && start.elapsed() + pause <= self.timeout => {
                    progress(code(&e).unwrap_or("refused"), start.elapsed());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.every.max(pause));
                }
                other => return other,
            }
        }
    }
}

/// What one look at a settling resource found.
pub enum Poll<T> {
    /// Settled: the wait is over.
    Ready(T),
    /// Not yet, with the status to show ("InProgress", "PENDING_VALIDATION").
    Pending(String),
}

impl Waiting {
    /// Look (`check`) every `every` until it is ready; `progress` hears each
    /// pending status. Past `timeout` the wait ends with `timed_out(last
    /// status, time waited)`. A look that fails ends the wait with its error.
    /// Every poll of cdnctl's goes through here.
    pub async fn until<T, Fut>(
        &self,
        mut progress: impl FnMut(&str),
        mut check: impl FnMut() -> Fut,
        timed_out: impl FnOnce(&str, Duration) -> anyhow::Error,
    ) -> anyhow::Result<T>
    where
        Fut: Future<Output = anyhow::Result<Poll<T>>>,
    {
        let start = tokio::time::Instant::now();
        loop {
            match check().await? {
                Poll::Ready(value) => return Ok(value),
                Poll::Pending(status) => {
                    progress(&status);
                    if start.elapsed() >= self.timeout {
                        return Err(timed_out(&status, start.elapsed()));
                    }
                    tokio::time::sleep(self.every).await;
                }
            }
        }
    }
}

impl Waiting {
    /// `through`, with a failure described as `what` failed.
    pub async fn send<T, E, F, Fut>(
        &self,
        passing: impl Fn(&SdkError<E, HttpResponse>) -> bool,
        progress: impl FnMut(&str, Duration),
        what: impl fmt::Display,
        request: F,
    ) -> anyhow::Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        self.through(passing, progress, request)
            .await
            .map_err(|e| describe(what, e))
    }
}

/// The error code AWS answered with, if it answered.
pub fn code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// AWS's message for an error it answered with.
pub fn message<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().message(),
        _ => None,
    }
}

fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// `Ok(None)` for "not found", the value for success, a described error otherwise.
pub fn optional<T, E>(
    what: impl fmt::Display,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> anyhow::Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(describe(what, e)),
    }
}

/// One readable line for a failed request: what was being done, AWS's code and
/// message, or why the endpoint could not be reached.
pub fn describe<E>(what: impl fmt::Display, err: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(e) = &err {
        let inner = e.err();
        if let Some(code) = inner.code() {
            let message = inner.message().unwrap_or("");
            return anyhow!("{what}: {code}: {message}");
        }
    }
    // Transport failures: walk the source chain for the useful part.
    let mut chain = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let detail = chain.join(": ");
    let hint = if detail.contains("certificate") || detail.contains("UnknownIssuer") {
        " (the endpoint's TLS certificate is not trusted: set AWS_CA_BUNDLE to a PEM bundle that includes its CA)"
    } else if detail.contains("Connection refused") {
        " (nothing listens there: check AWS_ENDPOINT_URL / --endpoint-url, or the network)"
    } else if detail.contains("dns error") || detail.contains("lookup") {
        " (the endpoint's name does not resolve: check AWS_ENDPOINT_URL / --endpoint-url, or the network)"
    } else {
        ""
    };
    anyhow!("{what}: {detail}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudfrontkeyvaluestore::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

    const ARN: &str = "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d";

    /// A custom endpoint gets the request as given, signed as AWS's rules
    /// say (SigV4A for cloudfront-keyvaluestore, every region); AWS itself
    /// is reached by its own rules, at the account's host.
    #[tokio::test]
    async fn the_store_is_reached_at_a_custom_endpoint_as_given_and_signed_as_for_aws() {
        let local = "https://127.0.0.1:4566";
        let params = Params::builder().kvs_arn(ARN).endpoint(local).build().unwrap();
        let endpoint = KvsEndpoint(local.into()).resolve_endpoint(&params).await.unwrap();
        assert_eq!(endpoint.url(), local);
        let rules = DefaultResolver::new().resolve_endpoint(&params).await.unwrap();
        assert_eq!(rules.url(), "https://123456789012.127.0.0.1:4566");
        assert_eq!(endpoint.auth_schemes(), rules.auth_schemes());
        let scheme = &endpoint.auth_schemes()[0];
        assert_eq!(scheme.name(), "sigv4a");
        assert_eq!(
            scheme.get("signingName").and_then(|d| d.as_string()),
            Some("cloudfront-keyvaluestore")
        );

        let aws = Params::builder().kvs_arn(ARN).build().unwrap();
        let endpoint = DefaultResolver::new().resolve_endpoint(&aws).await.unwrap();
        assert_eq!(endpoint.url(), "https://123456789012.cloudfront-kvs.global.api.aws");
        assert_eq!(endpoint.auth_schemes()[0].name(), "sigv4a");
    }

    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use std::sync::{Arc, Mutex};

    /// Keeps the request's URL and Authorization, and answers nothing.
    #[derive(Debug, Clone, Default)]
    struct Capture(Arc<Mutex<Option<(String, String)>>>);

    impl HttpConnector for Capture {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let auth = request.headers().get("authorization").unwrap_or_default().to_string();
            *self.0.lock().unwrap() = Some((request.uri().to_string(), auth));
            HttpConnectorFuture::ready(Err(ConnectorError::other("captured".into(), None)))
        }
    }

    impl HttpClient for Capture {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    /// What cdnctl's data-plane client sends, with and without a custom endpoint.
    async fn sent(endpoint: Option<&str>) -> (String, String) {
        let capture = Capture::default();
        let credentials = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let mut config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
                credentials,
            ))
            .retry_config(RetryConfig::disabled())
            .http_client(capture.clone());
        if let Some(url) = endpoint {
            config = config.endpoint_url(url);
        }
        let client = kvs_client(&config.build());
        let _ = client.get_key().kvs_arn(ARN).key("live").send().await;
        let sent = capture.0.lock().unwrap().clone();
        sent.expect("a request was sent")
    }

    /// The request is signed SigV4A either way: the custom endpoint changes
    /// where it goes, not how it is signed.
    #[tokio::test]
    async fn the_data_plane_signs_sigv4a_to_aws_and_to_a_custom_endpoint() {
        let (url, auth) = sent(Some("https://127.0.0.1:4566")).await;
        assert!(url.starts_with("https://127.0.0.1:4566/key-value-stores/"), "{url}");
        assert!(
            auth.starts_with("AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/cloudfront-keyvaluestore/aws4_request"), "{auth}");
        let (url, auth) = sent(None).await;
        assert!(
            url.starts_with("https://123456789012.cloudfront-kvs.global.api.aws/key-value-stores/"),
            "{url}"
        );
        assert!(auth.starts_with("AWS4-ECDSA-P256-SHA256 "), "{auth}");
    }
}
