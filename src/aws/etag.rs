//! The ETag lifecycle that CloudFront's configuration resources share
//! (origin access controls, response headers policies, functions, key value
//! stores): every update and delete names the version it replaces
//! (`If-Match`), and a delete waits through "still in use" while CloudFront
//! lets go of it. Written once here; each resource module says only which
//! calls to make.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{delete_through, describe, is_in_use, optional, Waiting};

/// One resource's ETag-guarded calls: `what` names it in errors
/// ("origin access control example-oac"), `get` and the write name the
/// operations ("GetOriginAccessControl").
pub struct Guarded {
    pub what: String,
    pub get: &'static str,
    pub write: &'static str,
}

impl Guarded {
    fn op(&self, op: &str) -> String {
        format!("{}: {op}", self.what)
    }

    /// Read the current version's ETag (`etag` takes it from `get`'s
    /// answer), then `write` with it as If-Match.
    pub async fn update<G, W, GO, GE, WO, WE>(
        &self,
        get: impl FnOnce() -> G,
        etag: impl FnOnce(&GO) -> Option<String>,
        write: impl FnOnce(Option<String>) -> W,
    ) -> anyhow::Result<WO>
    where
        G: Future<Output = Result<GO, SdkError<GE, HttpResponse>>>,
        W: Future<Output = Result<WO, SdkError<WE, HttpResponse>>>,
        GE: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        WE: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let current = get().await.map_err(|e| describe(self.op(self.get), e))?;
        write(etag(&current))
            .await
            .map_err(|e| describe(self.op(self.write), e))
    }

    /// Delete the current version (If-Match its ETag), sending the delete
    /// again while CloudFront says it is still in use, within `waiting`
    /// (`progress` hears each refusal). A resource already gone is fine.
    pub async fn delete<G, W, GO, GE, WO, WE>(
        &self,
        get: impl FnOnce() -> G,
        etag: impl FnOnce(&GO) -> Option<String>,
        write: impl Fn(Option<String>) -> W,
        waiting: &Waiting,
        progress: impl FnMut(&str, Duration),
    ) -> anyhow::Result<()>
    where
        G: Future<Output = Result<GO, SdkError<GE, HttpResponse>>>,
        W: Future<Output = Result<WO, SdkError<WE, HttpResponse>>>,
        GE: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        WE: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let Some(current) = optional(self.op(self.get), get().await)? else {
            return Ok(());
        };
        let etag = etag(&current);
        delete_through(Some(waiting), is_in_use, progress, || write(etag.clone()))
            .await
            .map_err(|e| describe(self.op(self.write), e))
    }
}
