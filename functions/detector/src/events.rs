//! The shapes the detector is invoked with, told apart by their fields: the S3 event
//! notification (`Records`), S3's `s3:TestEvent`, EventBridge "Object Created" (`detail-type`)
//! and S3 Batch Operations (`invocationSchemaVersion` 1.0 or 2.0). Each becomes a list of
//! objects with decoded keys; a wrong shape is an error naming the field.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys;

/// An event the detector cannot work with; the message names the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventError(pub String);

/// One object to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket name.
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    /// Another reading of the key to try if the first is not found (EventBridge keys: AWS does
    /// not say whether they are encoded, so the form-decoded key is the second guess).
    pub alternative_key: Option<String>,
    /// The version the event names (versioned buckets): that version is read, not the latest.
    pub version_id: Option<String>,
    /// Why the object is not read although the event names it: the notification is not about a
    /// new object (`ObjectRemoved:Delete`, `ObjectRestore:Completed`, ...). It is reported as
    /// skipped with this reason.
    pub skip: Option<String>,
}

/// What the detector was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Objects from an S3 notification or EventBridge.
    Objects(Vec<ObjectRef>),
    /// S3's `s3:TestEvent` when a notification is configured: nothing to read.
    Test,
    /// An S3 Batch Operations job's tasks.
    Batch(BatchEvent),
}

/// An S3 Batch Operations invocation (schemas 1.0 and 2.0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchEvent {
    /// Echoed in the response.
    pub invocation_schema_version: String,
    /// Echoed in the response.
    pub invocation_id: String,
    /// The tasks, each one object.
    pub tasks: Vec<BatchTask>,
}

/// One task of a batch job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchTask {
    /// Echoed in the result.
    pub task_id: String,
    /// The object, with its key percent-decoded.
    pub object: ObjectRef,
}

/// An S3 event notification, reduced to what the detector reads. `eventTime`,
/// `userIdentity`, `requestParameters` and the rest are not needed, so they are not required.
#[derive(Deserialize)]
struct RawNotification {
    #[serde(rename = "Records")]
    records: Vec<RawRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecord {
    #[serde(default)]
    event_name: Option<String>,
    s3: RawEntity,
}

#[derive(Deserialize)]
struct RawEntity {
    bucket: NameField,
    object: RawObject,
}

#[derive(Deserialize)]
struct RawObject {
    #[serde(default)]
    key: Option<String>,
    #[serde(default, rename = "versionId")]
    version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBatch {
    invocation_schema_version: String,
    invocation_id: String,
    #[allow(dead_code)]
    job: Value,
    tasks: Vec<RawTask>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTask {
    task_id: String,
    s3_key: String,
    #[serde(default)]
    s3_bucket_arn: Option<String>,
    #[serde(default)]
    s3_bucket: Option<String>,
    #[serde(default)]
    s3_version_id: Option<String>,
}

/// The `detail` of EventBridge's S3 "Object Created" (the fields the detector reads).
#[derive(Deserialize, Serialize)]
struct ObjectCreated {
    #[serde(default)]
    bucket: Option<NameField>,
    #[serde(default)]
    object: Option<KeyField>,
}

#[derive(Deserialize, Serialize)]
struct NameField {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct KeyField {
    #[serde(default)]
    key: Option<String>,
    #[serde(default, rename = "version-id")]
    version_id: Option<String>,
}

/// The response S3 Batch Operations requires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The request's schema version.
    pub invocation_schema_version: String,
    /// `PermanentFailure`: a task missing from `results` is not retried.
    pub treat_missing_keys_as: ResultCode,
    /// The request's invocation id.
    pub invocation_id: String,
    /// One per task.
    pub results: Vec<BatchResult>,
}

/// The outcome of one task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    /// The request's task id.
    pub task_id: String,
    /// Succeeded, or a failure to retry or not.
    pub result_code: ResultCode,
    /// Goes into the job's completion report.
    pub result_string: String,
}

/// S3 Batch Operations' result codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultCode {
    /// Done.
    Succeeded,
    /// Batch Operations tries again.
    TemporaryFailure,
    /// Batch Operations gives up on the task.
    PermanentFailure,
}

/// Tells the shape of `event` and extracts its objects.
///
/// # Errors
///
/// An [`EventError`] naming the missing or malformed field, or saying which top-level fields
/// were expected.
pub fn parse(event: &Value) -> Result<Event, EventError> {
    let Some(object) = event.as_object() else {
        return Err(EventError(format!("event must be a JSON object, got {}", kind(event))));
    };
    if object.contains_key("Records") {
        return s3_notification(event);
    }
    if object.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Event::Test);
    }
    if object.contains_key("detail-type") {
        return eventbridge(event);
    }
    if object.contains_key("invocationSchemaVersion") {
        return batch(event);
    }
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.truncate(8);
    Err(EventError(format!(
        "unrecognised event: expected Records (S3 notification), detail-type (EventBridge), invocationSchemaVersion (S3 Batch Operations) or Event s3:TestEvent; found fields {keys:?}"
    )))
}

fn typed<T: DeserializeOwned>(event: &Value) -> Result<T, EventError> {
    serde_path_to_error::deserialize(event).map_err(|error| {
        let path = error.path().to_string();
        EventError(format!("{path}: {}", error.into_inner()))
    })
}

fn s3_notification(event: &Value) -> Result<Event, EventError> {
    if !event["Records"].is_array() {
        return Err(EventError(format!(
            "Records must be an array, got {}",
            kind(&event["Records"])
        )));
    }
    let notification: RawNotification = typed(event)?;
    let mut objects = Vec::with_capacity(notification.records.len());
    for (i, record) in notification.records.into_iter().enumerate() {
        let bucket = record
            .s3
            .bucket
            .name
            .filter(|name| !name.is_empty())
            .ok_or_else(|| EventError(format!("Records[{i}].s3.bucket.name missing")))?;
        let raw = record
            .s3
            .object
            .key
            .filter(|key| !key.is_empty())
            .ok_or_else(|| EventError(format!("Records[{i}].s3.object.key missing")))?;
        let key = keys::form_decode(&raw).ok_or_else(|| {
            EventError(format!(
                "Records[{i}].s3.object.key {raw:?} is not valid UTF-8 once decoded"
            ))
        })?;
        let version_id = record.s3.object.version_id.filter(|v| !v.is_empty());
        // A notification without eventName (hand-made, or a future shape) is read; one that
        // names another kind of event is not: the object may be gone.
        let skip =
            record.event_name.filter(|name| !name.starts_with("ObjectCreated:")).map(|name| {
                format!("event {name:?} is not about a new object (ObjectCreated:*); not read")
            });
        objects.push(ObjectRef { bucket, key, alternative_key: None, version_id, skip });
    }
    Ok(Event::Objects(objects))
}

fn eventbridge(event: &Value) -> Result<Event, EventError> {
    let event: EventBridgeEvent<ObjectCreated> = typed(event)?;
    if event.source != "aws.s3" {
        return Err(EventError(format!("source is {:?}, expected \"aws.s3\"", event.source)));
    }
    if event.detail_type != "Object Created" {
        return Err(EventError(format!(
            "detail-type is {:?}, expected \"Object Created\"",
            event.detail_type
        )));
    }
    let bucket = event
        .detail
        .bucket
        .and_then(|b| b.name)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| EventError("detail.bucket.name missing".into()))?;
    let object = event.detail.object.ok_or_else(|| EventError("detail.object missing".into()))?;
    let key = object
        .key
        .filter(|key| !key.is_empty())
        .ok_or_else(|| EventError("detail.object.key missing".into()))?;
    let alternative_key = keys::form_decode(&key).filter(|decoded| *decoded != key);
    let version_id = object.version_id.filter(|v| !v.is_empty());
    Ok(Event::Objects(vec![ObjectRef { bucket, key, alternative_key, version_id, skip: None }]))
}

fn batch(event: &Value) -> Result<Event, EventError> {
    let raw: RawBatch = typed(event)?;
    let version = raw.invocation_schema_version.as_str();
    if version != "1.0" && version != "2.0" {
        return Err(EventError(format!(
            "invocationSchemaVersion {version:?} is not supported (1.0 or 2.0)"
        )));
    }
    let mut tasks = Vec::with_capacity(raw.tasks.len());
    for (i, task) in raw.tasks.into_iter().enumerate() {
        let bucket = if version == "1.0" {
            let arn = task.s3_bucket_arn.ok_or_else(|| {
                EventError(format!("tasks[{i}].s3BucketArn missing (schema 1.0)"))
            })?;
            bucket_from_arn(&arn).ok_or_else(|| {
                EventError(format!("tasks[{i}].s3BucketArn {arn:?} is not an S3 bucket ARN"))
            })?
        } else {
            task.s3_bucket
                .filter(|name| !name.is_empty())
                .ok_or_else(|| EventError(format!("tasks[{i}].s3Bucket missing (schema 2.0)")))?
        };
        let key = keys::percent_decode(&task.s3_key).ok_or_else(|| {
            EventError(format!(
                "tasks[{i}].s3Key {:?} is not valid UTF-8 once decoded",
                task.s3_key
            ))
        })?;
        let version_id = task.s3_version_id.filter(|v| !v.is_empty());
        tasks.push(BatchTask {
            task_id: task.task_id,
            object: ObjectRef { bucket, key, alternative_key: None, version_id, skip: None },
        });
    }
    Ok(Event::Batch(BatchEvent {
        invocation_schema_version: raw.invocation_schema_version,
        invocation_id: raw.invocation_id,
        tasks,
    }))
}

/// `arn:<partition>:s3:::<bucket>` -> `<bucket>`.
fn bucket_from_arn(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let bucket = rest.strip_prefix("s3:::")?;
    (!bucket.is_empty() && !bucket.contains('/')).then(|| bucket.to_string())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn s3_record(key: Value) -> Value {
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-27T09:35:03.123Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "198.51.100.10"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "alb-logs",
                "bucket": {"name": "logs", "ownerIdentity": {"principalId": "A3"}, "arn": "arn:aws:s3:::logs"},
                "object": {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}}
        })
    }

    #[test]
    fn s3_notification_yields_every_record_with_form_decoded_keys() {
        let event = json!({"Records": [s3_record(json!("my+logs/a%2Bb.log.gz")), s3_record(json!("x%20y"))]});
        let Event::Objects(objects) = parse(&event).unwrap() else { panic!("not objects") };
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].bucket, "logs");
        assert_eq!(objects[0].key, "my logs/a+b.log.gz");
        assert_eq!(objects[1].key, "x y");
        assert_eq!(objects[0].version_id, None);
        let mut versioned = s3_record(json!("k.log.gz"));
        versioned["s3"]["object"]["versionId"] = json!("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
        let Event::Objects(objects) = parse(&json!({"Records": [versioned]})).unwrap() else {
            panic!()
        };
        assert_eq!(objects[0].version_id.as_deref(), Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"));
    }

    #[test]
    fn s3_notification_needs_neither_event_time_nor_the_other_unused_fields() {
        let mut record = s3_record(json!("k.log.gz"));
        for unused in ["eventTime", "userIdentity", "requestParameters", "responseElements"] {
            record.as_object_mut().unwrap().remove(unused);
        }
        let Event::Objects(objects) = parse(&json!({"Records": [record]})).unwrap() else {
            panic!()
        };
        assert_eq!((objects[0].key.as_str(), objects[0].skip.as_deref()), ("k.log.gz", None));
        let mut record = s3_record(json!("k.log.gz"));
        record["eventTime"] = json!("not a time");
        assert!(parse(&json!({"Records": [record]})).is_ok(), "eventTime is never read");
    }

    #[test]
    fn s3_notification_of_anything_but_a_new_object_is_skipped_with_the_reason() {
        let mut removed = s3_record(json!("gone.log.gz"));
        removed["eventName"] = json!("ObjectRemoved:Delete");
        let mut unnamed = s3_record(json!("unnamed.log.gz"));
        unnamed.as_object_mut().unwrap().remove("eventName");
        let event = json!({"Records": [s3_record(json!("new.log.gz")), removed, unnamed]});
        let Event::Objects(objects) = parse(&event).unwrap() else { panic!() };
        assert_eq!(objects[0].skip, None);
        let reason = objects[1].skip.as_deref().unwrap();
        assert!(reason.contains("ObjectRemoved:Delete") && reason.contains("not read"), "{reason}");
        assert_eq!(objects[2].skip, None, "no eventName: read");
    }

    #[test]
    fn s3_notification_without_key_names_the_field() {
        let mut record = s3_record(json!("k"));
        record["s3"]["object"].as_object_mut().unwrap().remove("key");
        let error = parse(&json!({"Records": [s3_record(json!("k")), record]})).unwrap_err();
        assert_eq!(error.0, "Records[1].s3.object.key missing");
        let mut record = s3_record(json!("k"));
        record["s3"]["bucket"].as_object_mut().unwrap().remove("name");
        let error = parse(&json!({"Records": [record]})).unwrap_err();
        assert_eq!(error.0, "Records[0].s3.bucket.name missing");
    }

    #[test]
    fn s3_notification_with_wrong_types_names_the_path() {
        let error = parse(&json!({"Records": {}})).unwrap_err();
        assert!(error.0.starts_with("Records must be an array"), "{}", error.0);
        let mut record = s3_record(json!("k"));
        record["s3"]["object"]["key"] = json!(42);
        let error = parse(&json!({"Records": [record]})).unwrap_err();
        assert!(error.0.starts_with("Records[0].s3.object.key:"), "{}", error.0);
        let mut record = s3_record(json!("k"));
        record.as_object_mut().unwrap().remove("s3");
        let error = parse(&json!({"Records": [record]})).unwrap_err();
        assert!(error.0.starts_with("Records[0]:") && error.0.contains("s3"), "{}", error.0);
    }

    #[test]
    fn test_event_is_recognised() {
        let event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-27T09:00:00.000Z",
            "Bucket": "logs", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw"});
        assert_eq!(parse(&event), Ok(Event::Test));
    }

    fn eventbridge_event(key: &str) -> Value {
        json!({"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
            "source": "aws.s3", "account": "123456789012", "time": "2026-11-27T09:35:03Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::logs"],
            "detail": {"version": "0", "bucket": {"name": "logs"},
                "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "sequencer": "617f08299329d189"},
                "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "1.2.3.4", "reason": "PutObject"}})
    }

    #[test]
    fn eventbridge_key_is_used_as_given_with_the_decoded_one_as_fallback() {
        let Event::Objects(objects) = parse(&eventbridge_event("AWSLogs/a.log.gz")).unwrap() else {
            panic!()
        };
        assert_eq!(
            objects,
            vec![ObjectRef {
                bucket: "logs".into(),
                key: "AWSLogs/a.log.gz".into(),
                alternative_key: None,
                version_id: Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e".into()),
                skip: None,
            }]
        );
        let Event::Objects(objects) = parse(&eventbridge_event("my+logs/a.log.gz")).unwrap() else {
            panic!()
        };
        assert_eq!(objects[0].key, "my+logs/a.log.gz");
        assert_eq!(objects[0].alternative_key.as_deref(), Some("my logs/a.log.gz"));
    }

    #[test]
    fn eventbridge_of_the_wrong_kind_names_the_field() {
        let mut event = eventbridge_event("k");
        event["detail-type"] = json!("Object Deleted");
        assert!(parse(&event).unwrap_err().0.starts_with("detail-type is \"Object Deleted\""));
        let mut event = eventbridge_event("k");
        event["detail"]["object"].as_object_mut().unwrap().remove("key");
        assert_eq!(parse(&event).unwrap_err().0, "detail.object.key missing");
        let mut event = eventbridge_event("k");
        event["source"] = json!("aws.ec2");
        assert!(parse(&event).unwrap_err().0.starts_with("source is \"aws.ec2\""));
    }

    #[test]
    fn batch_1_0_takes_the_bucket_from_its_arn_and_percent_decodes_keys() {
        let event = json!({"invocationSchemaVersion": "1.0", "invocationId": "inv", "job": {"id": "job"},
            "tasks": [{"taskId": "t1", "s3Key": "my%20logs/a+b.log.gz", "s3VersionId": "1", "s3BucketArn": "arn:aws:s3:::logs"}]});
        let Event::Batch(batch) = parse(&event).unwrap() else { panic!() };
        assert_eq!(batch.invocation_schema_version, "1.0");
        assert_eq!(batch.invocation_id, "inv");
        assert_eq!(batch.tasks[0].task_id, "t1");
        assert_eq!(batch.tasks[0].object.bucket, "logs");
        assert_eq!(batch.tasks[0].object.key, "my logs/a+b.log.gz");
        assert_eq!(batch.tasks[0].object.version_id.as_deref(), Some("1"));
    }

    #[test]
    fn batch_2_0_takes_the_bucket_name() {
        let event = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv",
            "job": {"id": "job", "userArguments": {"k": "v"}},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3VersionId": null, "s3Bucket": "logs"}]});
        let Event::Batch(batch) = parse(&event).unwrap() else { panic!() };
        assert_eq!(batch.tasks[0].object.bucket, "logs");
        assert_eq!(batch.tasks[0].object.version_id, None, "null version: the latest is read");
    }

    #[test]
    fn batch_with_the_other_schemas_bucket_field_is_rejected() {
        let event = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "j"},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3BucketArn": "arn:aws:s3:::logs"}]});
        assert_eq!(parse(&event).unwrap_err().0, "tasks[0].s3Bucket missing (schema 2.0)");
        let event = json!({"invocationSchemaVersion": "1.0", "invocationId": "inv", "job": {"id": "j"},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3BucketArn": "logs"}]});
        assert!(parse(&event).unwrap_err().0.starts_with("tasks[0].s3BucketArn \"logs\""));
        let event = json!({"invocationSchemaVersion": "3.0", "invocationId": "inv", "job": {}, "tasks": []});
        assert!(parse(&event).unwrap_err().0.contains("not supported"));
        let event = json!({"invocationSchemaVersion": "1.0", "invocationId": "inv", "job": {}, "tasks": [{"s3Key": "k"}]});
        assert!(parse(&event).unwrap_err().0.starts_with("tasks[0]:"));
    }

    #[test]
    fn unknown_shapes_are_rejected_with_the_expected_fields() {
        let error = parse(&json!({"hello": "world"})).unwrap_err();
        assert!(error.0.contains("Records") && error.0.contains("hello"), "{}", error.0);
        assert!(parse(&json!([])).unwrap_err().0.contains("JSON object"));
    }
}
