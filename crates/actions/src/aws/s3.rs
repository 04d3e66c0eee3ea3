//! S3 as the source of log objects, streamed: the body goes through the gunzip and the parser
//! as it arrives, so memory does not grow with the object.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use alb_findings::{Diagnosis, Options};
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::SyncIoBridge;

use super::Limits;
use crate::Error;
use crate::error::sdk_message;

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
    body_stall: Duration,
}

impl S3Objects {
    /// Reads objects with this client; a body that stalls for [`Limits::body_stall`] is given
    /// up.
    pub fn new(client: Client) -> Self {
        S3Objects { client, body_stall: Limits::default().body_stall }
    }

    /// Gives up a body that sends nothing for `stall` (shorter in tests).
    pub fn with_body_stall(mut self, stall: Duration) -> Self {
        self.body_stall = stall;
        self
    }

    /// Streams `s3://bucket/key` (the given version, else the latest) through
    /// [`alb_findings::diagnose`].
    ///
    /// The body is bridged to a blocking [`std::io::Read`] and decoded on a blocking thread, so
    /// at most a few buffers of the object are in memory at any time.
    ///
    /// # Errors
    ///
    /// [`Error::ObjectNotFound`] for a missing bucket or key (404),
    /// [`Error::ObjectAccessDenied`] for a 403 (what S3 answers for a missing key when the
    /// caller lacks `s3:ListBucket`), [`Error::Aws`] for other `GetObject` failures,
    /// [`Error::Read`] when the object is not gzip, is truncated or corrupt, passes the size
    /// cap, or the connection broke or stalled mid-body (then retryable); all name the bucket
    /// and key.
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
        let output = request.send().await.map_err(|error| {
            let status = match &error {
                SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
                _ => None,
            };
            let message = sdk_message(&error);
            let (bucket, key) = (bucket.to_string(), key.to_string());
            match &error {
                SdkError::ServiceError(service)
                    if matches!(service.err(), GetObjectError::NoSuchKey(_))
                        || status == Some(404) =>
                {
                    Error::ObjectNotFound { bucket, key, message }
                }
                _ if status == Some(403) => Error::ObjectAccessDenied { bucket, key, message },
                _ => crate::error::aws("GetObject", format!("s3://{bucket}/{key}"), &error),
            }
        })?;
        let body = StallGuard::new(output.body.into_async_read(), self.body_stall);
        let reader = SyncIoBridge::new(Box::pin(body));
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

/// The object body with two changes: a pause longer than `stall` between chunks ends the read
/// with `TimedOut`, and a broken connection reads as one sentence with its innermost cause and
/// the `ConnectionAborted` kind (the SDK's own message is "streaming error", and an early end
/// must not look like a truncated gzip, which is permanent).
struct StallGuard<R> {
    inner: R,
    stall: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    received: u64,
}

impl<R> StallGuard<R> {
    fn new(inner: R, stall: Duration) -> Self {
        StallGuard { inner, stall, timer: Box::pin(tokio::time::sleep(stall)), received: 0 }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for StallGuard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len() - before;
                this.received = this.received.saturating_add(read as u64);
                let next = tokio::time::Instant::now() + this.stall;
                this.timer.as_mut().reset(next);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => {
                let cause = crate::error::innermost(&error);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!(
                        "the connection to S3 broke after {} bytes of the object: {cause}",
                        this.received
                    ),
                )))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "S3 sent nothing for {} s after {} bytes of the object",
                        this.stall.as_secs_f32(),
                        this.received
                    ),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
