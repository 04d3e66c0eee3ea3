//! S3 as the source of log objects, streamed: the body goes through the gunzip and the parser
//! as it arrives, so memory does not grow with the object.

use alb_findings::{Diagnosis, Options};
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use tokio_util::io::SyncIoBridge;

use crate::Error;

/// An S3 client for `config`, with path-style addressing when an endpoint URL is set (local
/// emulators do not resolve `<bucket>.<host>` names).
pub fn s3_client(config: &SdkConfig) -> Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    Client::from_conf(s3)
}

/// Log objects in S3.
#[derive(Clone, Debug)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    /// Reads objects with this client.
    pub fn new(client: Client) -> Self {
        S3Objects { client }
    }

    /// Streams `s3://bucket/key` (the given version, else the latest) through
    /// [`alb_findings::diagnose`].
    ///
    /// The body is bridged to a blocking [`std::io::Read`] and decoded on a blocking thread, so
    /// at most a few buffers of the object are in memory at any time.
    ///
    /// # Errors
    ///
    /// [`Error::ObjectNotFound`] for a missing bucket or key, [`Error::Aws`] for other
    /// `GetObject` failures, [`Error::Read`] when the object is not gzip, is truncated or
    /// corrupt, or passes the size cap; all name the bucket and key.
    pub async fn diagnose(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        options: &Options,
    ) -> Result<Diagnosis, Error> {
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(Into::into));
        let output = request.send().await.map_err(|error| match &error {
            SdkError::ServiceError(service)
                if matches!(service.err(), GetObjectError::NoSuchKey(_))
                    || service.raw().status().as_u16() == 404 =>
            {
                Error::ObjectNotFound {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    message: aws_sdk_s3::error::DisplayErrorContext(&error).to_string(),
                }
            }
            _ => crate::error::aws("GetObject", format!("s3://{bucket}/{key}"), &error),
        })?;
        let reader = SyncIoBridge::new(Box::pin(output.body.into_async_read()));
        let options = *options;
        let diagnosis =
            tokio::task::spawn_blocking(move || alb_findings::diagnose(reader, &options))
                .await
                .map_err(|join| Error::Task {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    message: join.to_string(),
                })?;
        diagnosis.map_err(|source| Error::Read {
            bucket: bucket.to_string(),
            key: key.to_string(),
            source,
        })
    }
}
