//! What the remediator is invoked with: the detector's result as is, the same wrapped in a
//! Lambda destination envelope (`responsePayload`), or a rollback request. A wrong shape is an
//! error naming the field.

use alb_actions::DetectorResult;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An event the remediator cannot work with; the message names the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventError(pub String);

/// What the remediator was asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Remediate these findings.
    Findings(DetectorResult),
    /// Undo the remediator's changes to one load balancer (`app/<name>/<id>` or ARN).
    Rollback {
        /// The load balancer.
        load_balancer: String,
    },
    /// The periodic review (`{"review": {}}`, an hourly schedule): verify changes that held,
    /// send events left unsent.
    Review,
}

/// Tells the shape of `event`.
///
/// # Errors
///
/// An [`EventError`] naming the missing or malformed field.
pub fn parse(event: &Value) -> Result<Request, EventError> {
    let Some(object) = event.as_object() else {
        return Err(EventError("event must be a JSON object".into()));
    };
    if let Some(review) = object.get("review") {
        return if review.as_object().is_some_and(serde_json::Map::is_empty) {
            Ok(Request::Review)
        } else {
            Err(EventError("review must be an empty object: {\"review\": {}}".into()))
        };
    }
    if let Some(rollback) = object.get("rollback") {
        return match rollback.get("load_balancer").and_then(Value::as_str) {
            Some(lb) if !lb.trim().is_empty() => {
                Ok(Request::Rollback { load_balancer: lb.trim().to_string() })
            }
            Some(_) => Err(EventError("rollback.load_balancer is empty".into())),
            None => Err(EventError(
                "rollback.load_balancer missing (app/<name>/<id> or a load balancer ARN)".into(),
            )),
        };
    }
    if let Some(payload) = object.get("responsePayload") {
        // The destination envelope of an asynchronous invocation of the detector.
        if !payload.is_object() {
            return Err(EventError("responsePayload must be the detector's result object".into()));
        }
        return findings(payload, "responsePayload.");
    }
    if object.contains_key("findings") {
        return findings(event, "");
    }
    let keys: Vec<&str> = object.keys().map(String::as_str).take(8).collect();
    Err(EventError(format!(
        "unrecognised event: expected findings (detector result), responsePayload (destination envelope), rollback or review; found fields {keys:?}"
    )))
}

fn findings(value: &Value, prefix: &str) -> Result<Request, EventError> {
    if !value.get("findings").is_some_and(Value::is_array) {
        return Err(EventError(format!("{prefix}findings missing or not an array")));
    }
    typed(value, prefix).map(Request::Findings)
}

fn typed<T: DeserializeOwned>(value: &Value, prefix: &str) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        EventError(format!("{prefix}{path}: {}", error.into_inner()))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn finding() -> Value {
        json!({
            "load_balancer": "app/shop-web/50dc6c495c0c9188",
            "load_balancer_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-web/50dc6c495c0c9188",
            "keepalive_502": 4,
            "target_groups": [{"target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-tg/73e2d6bc24d8a067", "keepalive_502": 4}],
            "estimated_backend_keepalive_ms": 5000,
            "source": {"bucket": "b", "key": "k"}
        })
    }

    #[test]
    fn the_detector_result_is_accepted_as_is() {
        let Request::Findings(result) =
            parse(&json!({"findings": [finding()], "objects": []})).unwrap()
        else {
            panic!()
        };
        assert_eq!(result.findings.len(), 1);
        assert_eq!(result.findings[0].keepalive_502, 4);
        assert_eq!(result.findings[0].estimated_backend_keepalive_ms, Some(5000));
    }

    #[test]
    fn the_destination_envelope_is_unwrapped() {
        let envelope = json!({"version": "1.0", "timestamp": "2026-11-27T09:40:01.000Z",
            "requestContext": {"requestId": "r", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:detector:$LATEST", "condition": "Success", "approximateInvokeCount": 1},
            "requestPayload": {"Records": []},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": {"findings": [finding()], "objects": []}});
        let Request::Findings(result) = parse(&envelope).unwrap() else { panic!() };
        assert_eq!(result.findings[0].load_balancer, "app/shop-web/50dc6c495c0c9188");
    }

    #[test]
    fn rollback_takes_an_id_or_arn() {
        assert_eq!(
            parse(&json!({"rollback": {"load_balancer": "app/shop-web/50dc6c495c0c9188"}})),
            Ok(Request::Rollback { load_balancer: "app/shop-web/50dc6c495c0c9188".into() })
        );
        assert!(
            parse(&json!({"rollback": {}}))
                .unwrap_err()
                .0
                .starts_with("rollback.load_balancer missing")
        );
    }

    #[test]
    fn review_is_an_empty_object() {
        assert_eq!(parse(&json!({"review": {}})), Ok(Request::Review));
        assert!(parse(&json!({"review": {"x": 1}})).unwrap_err().0.starts_with("review"));
        assert!(parse(&json!({"review": true})).unwrap_err().0.starts_with("review"));
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let mut bad = finding();
        bad.as_object_mut().unwrap().remove("load_balancer_arn");
        let error = parse(&json!({"findings": [finding(), bad]})).unwrap_err();
        assert!(
            error.0.starts_with("findings[1]") && error.0.contains("load_balancer_arn"),
            "{}",
            error.0
        );
        let mut bad = finding();
        bad["keepalive_502"] = json!("many");
        let error = parse(&json!({"responsePayload": {"findings": [bad]}})).unwrap_err();
        assert!(error.0.starts_with("responsePayload.findings[0].keepalive_502:"), "{}", error.0);
        assert!(
            parse(&json!({"responsePayload": null})).unwrap_err().0.contains("responsePayload")
        );
        assert!(
            parse(&json!({"findings": {}}))
                .unwrap_err()
                .0
                .starts_with("findings missing or not an array")
        );
        assert!(parse(&json!({"Records": []})).unwrap_err().0.contains("unrecognised"));
    }
}
