//! `-v`: one line per request cdnctl sends, saying whether it reads or
//! writes, which service and operation, on which resource, and AWS's answer.
//! The SDK's own detail stays for `-vv`.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

#[derive(Debug)]
pub struct Trace;

/// What was sent, kept from transmit until the attempt's answer.
#[derive(Debug, Clone)]
struct Sent {
    line: String,
    at: Instant,
}

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Trace {
    fn name(&self) -> &'static str {
        "Trace"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return Ok(());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_default();
        let request = context.request();
        let line = describe(&service, &operation, request.uri());
        cfg.interceptor_state().store_put(Sent {
            line,
            at: Instant::now(),
        });
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(sent) = cfg.load::<Sent>() else {
            return Ok(());
        };
        let answer = match context.response() {
            Some(r) => r.status().as_u16().to_string(),
            None => "no answer".to_string(),
        };
        tracing::debug!(target: "cdnctl", "{}: {answer} ({} ms)", sent.line, sent.at.elapsed().as_millis());
        Ok(())
    }
}

/// `read S3 GetBucketPolicy /bucket?policy`: reads are Get/List/Head/Describe
/// operations (ACM sends even those as POST), everything else writes. The
/// resource is the request's path and query, without the SDK's `x-id`.
fn describe(service: &str, operation: &str, uri: &str) -> String {
    let read = ["Get", "List", "Head", "Describe"]
        .iter()
        .any(|p| operation.starts_with(p));
    let verb = if read { "read " } else { "write" };
    let rest = uri.split_once("://").map(|(_, rest)| rest).unwrap_or(uri);
    let (host, path) = rest.find('/').map(|i| rest.split_at(i)).unwrap_or((rest, "/"));
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    // S3's virtual-hosted style names the bucket in the host.
    let path = match host.split_once(".s3.") {
        Some((bucket, _)) if service == "S3" => format!("/{bucket}{path}"),
        _ => path.to_string(),
    };
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        &path
    };
    let query: Vec<&str> = query
        .split('&')
        .filter(|q| !q.is_empty() && !q.starts_with("x-id="))
        .collect();
    let resource = match (path, query.is_empty()) {
        ("/", true) => String::new(),
        (p, true) => format!(" {p}"),
        (p, false) => format!(" {p}?{}", query.join("&")),
    };
    format!("{verb} {service} {operation}{resource}")
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn lines_say_read_or_write_and_the_resource() {
        assert_eq!(
            describe("S3", "GetBucketPolicy", "https://127.0.0.1:4566/b?policy"),
            "read  S3 GetBucketPolicy /b?policy"
        );
        assert_eq!(
            describe("S3", "PutObject", "https://127.0.0.1:4566/b/css/a.css?x-id=PutObject"),
            "write S3 PutObject /b/css/a.css"
        );
        assert_eq!(
            describe("ACM", "DescribeCertificate", "https://acm.us-east-1.amazonaws.com/"),
            "read  ACM DescribeCertificate"
        );
        assert_eq!(
            describe(
                "S3",
                "GetBucketTagging",
                "https://b.s3.eu-west-1.amazonaws.com/?tagging"
            ),
            "read  S3 GetBucketTagging /b?tagging"
        );
        assert_eq!(
            describe(
                "CloudFront",
                "GetDistributionConfig",
                "https://cloudfront.amazonaws.com/2020-05-31/distribution/E1/config"
            ),
            "read  CloudFront GetDistributionConfig /2020-05-31/distribution/E1/config"
        );
    }
}
