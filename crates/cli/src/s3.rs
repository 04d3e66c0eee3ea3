//! `s3://bucket/prefix/`: list the prefix, keep access-log objects by name (and the name
//! filters) before any GET, and open objects as blocking readers for the scan's workers.
//!
//! Credentials, region and endpoint come from the SDK's standard chain (environment, profile,
//! SSO, instance or container role; `AWS_ENDPOINT_URL`). With a custom endpoint (an emulator
//! such as moto or MinIO) requests use path-style addressing, which emulators expect.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_sdk_s3::error::DisplayErrorContext;

use crate::filter::NameFilter;
use crate::inputs::{Input, Inputs, Skipped};

/// `s3://bucket/prefix` as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl Location {
    /// `Ok(None)` when `path` is not an `s3://` URL.
    pub fn parse(path: &Path) -> Result<Option<Location>> {
        let Some(rest) = path.to_str().and_then(|p| p.strip_prefix("s3://")) else {
            return Ok(None);
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("{}: no bucket name (expected s3://bucket/prefix/)", path.display());
        }
        Ok(Some(Location { bucket: bucket.to_string(), prefix: prefix.to_string() }))
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One object found in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// Stored (compressed) size from the listing.
    pub size: u64,
}

impl ObjectRef {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The S3 client and the runtime that drives it; readers bridge its async bodies to `Read`.
pub struct S3 {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

impl S3 {
    pub fn new() -> Result<S3> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("alb-keepalive-s3")
            .enable_all()
            .build()
            .context("cannot start the S3 runtime")?;
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .build();
        let shared = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .timeout_config(timeouts)
                .load(),
        );
        let custom_endpoint = shared.endpoint_url().is_some();
        let config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(custom_endpoint).build();
        Ok(S3 { runtime, client: aws_sdk_s3::Client::from_conf(config) })
    }

    /// Lists `location` (ListObjectsV2, 1,000 keys a page) into `inputs`: access-log objects
    /// that pass `filter` are scanned, everything else is skipped with the reason.
    pub fn list(
        &self,
        location: &Location,
        filter: &NameFilter,
        inputs: &mut Inputs,
    ) -> Result<()> {
        self.runtime.block_on(async {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&location.bucket)
                .prefix(&location.prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    anyhow::anyhow!("{}: cannot list: {}", location.url(), DisplayErrorContext(e))
                })?;
                for object in page.contents() {
                    let Some(key) = object.key() else { continue };
                    let checked = alb_lines::access_log_name(key)
                        .map_err(|reason| reason.to_string())
                        .and_then(|name| filter.check(&name));
                    let size = object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                    let object =
                        ObjectRef { bucket: location.bucket.clone(), key: key.to_string(), size };
                    match checked {
                        Ok(()) => inputs.objects.push(Input::S3(object)),
                        Err(reason) => inputs.skipped.push(Skipped { name: object.url(), reason }),
                    }
                }
            }
            Ok(())
        })
    }

    /// The object's body as a blocking reader (a GetObject; the body streams as it is read).
    pub fn open(&self, object: &ObjectRef) -> Result<Box<dyn Read + Send>> {
        let output = self
            .runtime
            .block_on(self.client.get_object().bucket(&object.bucket).key(&object.key).send())
            .map_err(|e| anyhow::anyhow!("GetObject failed: {}", DisplayErrorContext(e)))?;
        let body = output.body.into_async_read();
        Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
            body,
            self.runtime.handle().clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let parsed = Location::parse(Path::new("s3://logs/AWSLogs/1/")).unwrap().unwrap();
        assert_eq!(parsed, Location { bucket: "logs".into(), prefix: "AWSLogs/1/".into() });
        let whole = Location::parse(Path::new("s3://logs")).unwrap().unwrap();
        assert_eq!(whole.prefix, "");
        assert!(Location::parse(Path::new("logs/AWSLogs")).unwrap().is_none());
        let err = Location::parse(Path::new("s3:///x")).unwrap_err();
        assert!(err.to_string().contains("no bucket"), "{err}");
    }
}
