//! The invocation: event in, result out. Translates the event into object reads and the
//! diagnoses into the result; the decisions live in `alb_findings` and `alb_actions`.

use std::time::{Duration, SystemTime};

use alb_actions::aws::{self, S3Objects};
use alb_actions::metrics::{self, Metric, Unit};
use alb_actions::{DetectorResult, Finding, ObjectOutcome, ObjectReport, Source, arn};
use alb_findings::Verdict;
use lambda_runtime::tracing::{self, Instrument};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

use crate::config::Config;
use crate::events::{
    self, BatchEvent, BatchResponse, BatchResult, Event, EventError, ObjectRef, ResultCode,
};
use crate::keys::{self, KeyKind};

/// What the handler needs, built once at cold start.
#[derive(Debug)]
pub struct Deps {
    /// Where the log objects are read from.
    pub objects: S3Objects,
    /// The detector's configuration.
    pub config: Config,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The event has the wrong shape (retrying will not help).
    #[error("invalid event: {0}")]
    Event(#[from] EventError),
    /// An object could not be read to its end; the message names bucket and key.
    #[error(transparent)]
    Object(#[from] alb_actions::Error),
    /// The result could not be turned into JSON.
    #[error("cannot serialize the result: {0}")]
    Result(#[from] serde_json::Error),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::Event(_) => "InvalidEvent",
            HandlerError::Object(alb_actions::Error::ObjectNotFound { .. }) => "ObjectNotFound",
            HandlerError::Object(alb_actions::Error::ObjectAccessDenied { .. }) => {
                "ObjectAccessDenied"
            }
            HandlerError::Object(e) if e.is_retryable() => "Retryable",
            HandlerError::Object(_) => "UnreadableObject",
            HandlerError::Result(_) => "InternalError",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Handles one invocation.
///
/// For S3 notifications and EventBridge the result is a [`DetectorResult`]; for S3 Batch
/// Operations it is the response Batch Operations requires, one result per task.
///
/// # Errors
///
/// An event of the wrong shape, or (outside batch jobs) an object that is missing or cannot
/// be read to its end: the invocation fails so that Lambda retries it and finally hands it to
/// the failure destination.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let deadline = event.context.deadline();
    let deps = &Invocation { deps, deadline };
    match events::parse(&event.payload)? {
        Event::Test => {
            tracing::info!(decision = "skipped", reason = "s3:TestEvent", "test event");
            Ok(serde_json::to_value(DetectorResult::default())?)
        }
        Event::Objects(objects) => {
            let mut result = DetectorResult::default();
            for object in &objects {
                let (report, findings) = detect(deps, object).instrument(span(object)).await?;
                result.objects.push(report);
                result.findings.extend(findings);
            }
            Ok(serde_json::to_value(result)?)
        }
        Event::Batch(batch) => Ok(serde_json::to_value(run_batch(deps, batch).await)?),
    }
}

async fn run_batch(deps: &Invocation<'_>, batch: BatchEvent) -> BatchResponse {
    let mut results = Vec::with_capacity(batch.tasks.len());
    for task in &batch.tasks {
        let outcome = detect(deps, &task.object).instrument(span(&task.object)).await;
        let (result_code, result_string) = match outcome {
            Ok((report, findings)) => (ResultCode::Succeeded, summary(&report, &findings)),
            Err(error) if error.is_retryable() => (ResultCode::TemporaryFailure, error.to_string()),
            Err(error) => (ResultCode::PermanentFailure, error.to_string()),
        };
        results.push(BatchResult { task_id: task.task_id.clone(), result_code, result_string });
    }
    BatchResponse {
        invocation_schema_version: batch.invocation_schema_version,
        treat_missing_keys_as: ResultCode::PermanentFailure,
        invocation_id: batch.invocation_id,
        results,
    }
}

/// One line for the batch completion report: the outcome and, per finding, the load balancer
/// and the numbers that matter.
fn summary(report: &ObjectReport, findings: &[Finding]) -> String {
    let findings: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "load_balancer_arn": f.load_balancer_arn,
                "keepalive_502": f.keepalive_502,
                "estimated_backend_keepalive_ms": f.estimated_backend_keepalive_ms,
            })
        })
        .collect();
    let mut value = serde_json::to_value(&report.outcome).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("findings".into(), Value::Array(findings));
    }
    value.to_string()
}

/// Every log line about one object carries its bucket and key.
fn span(object: &ObjectRef) -> tracing::Span {
    tracing::info_span!("object", bucket = %object.bucket, key = %object.key)
}

/// Attempts at reading one object when the connection breaks or stalls part way: each starts
/// from the first byte with a fresh diagnosis.
pub const READ_ATTEMPTS: u32 = 3;
/// Work on an object stops this long before the invocation's deadline, so that the failure
/// names the object rather than being Lambda's bare timeout.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// The dependencies and the deadline of one invocation.
struct Invocation<'a> {
    deps: &'a Deps,
    deadline: SystemTime,
}

/// Reads and diagnoses one object, or skips it if it is not an ALB access log; gives up
/// [`DEADLINE_MARGIN`] before the invocation's deadline.
async fn detect(
    invocation: &Invocation<'_>,
    object: &ObjectRef,
) -> Result<(ObjectReport, Vec<Finding>), alb_actions::Error> {
    let work = detect_object(invocation.deps, object);
    let Some(left) = aws::time_left(invocation.deadline, SystemTime::now(), DEADLINE_MARGIN) else {
        return work.await;
    };
    tokio::time::timeout(left, work).await.unwrap_or_else(|_| {
        Err(alb_actions::Error::Deadline {
            resource: format!("s3://{}/{}", object.bucket, object.key),
            margin_ms: u64::try_from(DEADLINE_MARGIN.as_millis()).unwrap_or(u64::MAX),
            what: "reading and diagnosing the object".into(),
        })
    })
}

/// Reads the object; a broken or stalled body is read again from the start, at most
/// [`READ_ATTEMPTS`] times in all.
async fn read_object(
    deps: &Deps,
    bucket: &str,
    key: &str,
    version: Option<&str>,
    options: &alb_findings::Options,
) -> Result<alb_findings::Diagnosis, alb_actions::Error> {
    let mut attempt = 1;
    loop {
        match deps.objects.diagnose(bucket, key, version, options).await {
            Err(error @ alb_actions::Error::Read { .. })
                if error.is_retryable() && attempt < READ_ATTEMPTS =>
            {
                tracing::warn!(bucket, key, attempt, error = %error, "reading again from the start");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn detect_object(
    deps: &Deps,
    object: &ObjectRef,
) -> Result<(ObjectReport, Vec<Finding>), alb_actions::Error> {
    let bucket = object.bucket.as_str();
    let kind = match &object.skip {
        Some(reason) => KeyKind::Skip(reason.clone()),
        None => keys::classify(&object.key),
    };
    let log_key = match kind {
        KeyKind::AccessLog(log_key) => log_key,
        KeyKind::Skip(reason) => {
            tracing::info!(bucket, key = %object.key, decision = "skipped", reason = %reason, "object");
            let outcome = ObjectOutcome::Skipped { reason };
            return Ok((
                ObjectReport { bucket: bucket.into(), key: object.key.clone(), outcome },
                vec![],
            ));
        }
    };
    let options = deps.config.options();
    let started = std::time::Instant::now();
    let mut key = object.key.clone();
    let version = object.version_id.as_deref();
    // Without s3:ListBucket (the role has none) S3 answers a missing key with 403, not 404: both
    // mean "maybe the other reading of the key".
    let diagnosis = match read_object(deps, bucket, &key, version, &options).await {
        Err(
            alb_actions::Error::ObjectNotFound { .. }
            | alb_actions::Error::ObjectAccessDenied { .. },
        ) if object.alternative_key.is_some() => {
            key = object.alternative_key.clone().unwrap_or_default();
            tracing::info!(bucket, key = %key, "not found as given; trying the form-decoded key");
            read_object(deps, bucket, &key, version, &options).await
        }
        other => other,
    }
    .inspect_err(|error| tracing::error!(bucket, key = %key, error = %error, "object"))?;
    let scan_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    emit_metrics(
        &deps.config.metrics_namespace,
        &diagnosis,
        &log_key.load_balancer,
        bucket,
        &key,
        scan_ms,
    );
    let source = Source { bucket: bucket.to_string(), key: key.clone() };
    // Only the load balancer the key names can be acted on: entries of any other one (a copied
    // or forged object) are counted and named in the report, never findings.
    let (own, foreign): (Vec<_>, Vec<_>) =
        diagnosis.load_balancers.iter().partition(|lb| lb.load_balancer == log_key.load_balancer);
    let findings: Vec<Finding> = own
        .iter()
        .filter(|lb| lb.verdict == Verdict::KeepaliveRace)
        .map(|lb| {
            let lb_arn =
                arn::load_balancer_arn(&log_key.region, &log_key.account, &lb.load_balancer);
            Finding::new(lb, lb_arn, source.clone())
        })
        .collect();
    let keepalive_502: u64 = own.iter().map(|lb| lb.keepalive_502).sum();
    let foreign_entries: u64 = foreign.iter().map(|lb| lb.requests).sum();
    let foreign_load_balancers: Vec<String> =
        foreign.iter().take(MAX_FOREIGN_NAMES).map(|lb| lb.load_balancer.clone()).collect();
    if foreign_entries > 0 {
        tracing::warn!(
            bucket,
            key = %key,
            expected = %log_key.load_balancer,
            foreign_entries,
            foreign = ?foreign_load_balancers,
            "entries of other load balancers than the key names; not findings"
        );
    }
    tracing::info!(
        bucket,
        key = %key,
        lines = diagnosis.lines,
        malformed = diagnosis.malformed_lines,
        warnings = diagnosis.warning_lines,
        keepalive_502,
        decision = if findings.is_empty() { "no-race" } else { "keepalive-race" },
        "object"
    );
    let outcome = ObjectOutcome::Diagnosed {
        lines: diagnosis.lines,
        malformed_lines: diagnosis.malformed_lines,
        keepalive_502,
        warning_lines: diagnosis.warning_lines,
        foreign_entries,
        foreign_load_balancers,
    };
    Ok((ObjectReport { bucket: bucket.into(), key, outcome }, findings))
}

/// Foreign load balancers named in an object report; the count covers the rest.
const MAX_FOREIGN_NAMES: usize = 5;

/// One EMF document for the load balancer the key names (CloudWatch extracts the metrics from
/// the function's log): requests, 502s (all, keep-alive races, each class), the estimate, and
/// the object's malformed lines and scan time. Other load balancers found in the object are
/// not its own (a copied or forged object) and get no metric dimension.
fn emit_metrics(
    namespace: &str,
    diagnosis: &alb_findings::Diagnosis,
    own_load_balancer: &str,
    bucket: &str,
    key: &str,
    scan_ms: u64,
) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    for lb in diagnosis.load_balancers.iter().filter(|lb| lb.load_balancer == own_load_balancer) {
        let document = metrics::emf_document(
            namespace,
            &lb.load_balancer,
            &lb_metrics(lb, diagnosis, scan_ms),
            now_ms,
            &[
                ("object", json!(format!("s3://{bucket}/{key}"))),
                ("verdict", json!(lb.verdict.as_str())),
            ],
        );
        metrics::print(&document);
    }
}

/// The metrics of one load balancer in one object.
pub fn lb_metrics(
    lb: &alb_findings::LoadBalancerFindings,
    diagnosis: &alb_findings::Diagnosis,
    scan_ms: u64,
) -> Vec<Metric> {
    let count = |v: u64| v as f64;
    let mut list = vec![
        Metric::new("Requests", Unit::Count, count(lb.requests)),
        Metric::new("ELB502", Unit::Count, count(lb.elb_502)),
        Metric::new("KeepAliveRace502", Unit::Count, count(lb.keepalive_502)),
    ];
    for class in alb_findings::Elb502Class::ALL {
        list.push(Metric::new(
            format!("ELB502_{}", class.name()),
            Unit::Count,
            count(lb.elb_502_by_class.get(class)),
        ));
    }
    if let Some(ms) = lb.estimated_backend_keepalive_ms {
        list.push(Metric::new("EstimatedBackendKeepAliveMs", Unit::Milliseconds, f64::from(ms)));
    }
    list.push(Metric::new("MalformedLines", Unit::Count, count(diagnosis.malformed_lines)));
    list.push(Metric::new("ScanTime", Unit::Milliseconds, count(scan_ms)));
    list
}
