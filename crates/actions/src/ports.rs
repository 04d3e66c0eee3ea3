//! What the remediation needs from AWS, as three small traits named for the domain. The SDK
//! implementations are in [`crate::aws`]; the remediation itself never sees an SDK type.

use std::collections::BTreeMap;
use std::future::Future;

use crate::Error;

/// The load balancer side: its idle timeout, tags and target groups.
pub trait LoadBalancers: Sync {
    /// The ARN of the load balancer `app/<name>/<id>`, if it exists.
    fn find(
        &self,
        load_balancer: &str,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// `idle_timeout.timeout_seconds` (60 when the attribute has never been set).
    fn idle_timeout(&self, arn: &str) -> impl Future<Output = Result<u32, Error>> + Send;
    /// Sets `idle_timeout.timeout_seconds`.
    fn set_idle_timeout(
        &self,
        arn: &str,
        seconds: u32,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// The load balancer's tags.
    fn tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, Error>> + Send;
    /// Adds or overwrites tags.
    fn add_tags(
        &self,
        arn: &str,
        tags: &[(&str, String)],
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// ARNs of the target groups attached to the load balancer.
    fn target_groups(&self, arn: &str) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
    /// Ids of the EC2 instances registered in a target group (IP and Lambda targets left out).
    fn instance_targets(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
}

/// One stored version of a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterVersion {
    /// The version number.
    pub version: i64,
    /// The value.
    pub value: String,
    /// The description stored with this version.
    pub description: Option<String>,
}

/// The application's settings, as parameters.
pub trait Parameters: Sync {
    /// The current value, `None` when the parameter does not exist.
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// Writes a new version (a `String` parameter, overwriting).
    fn put(
        &self,
        name: &str,
        value: &str,
        description: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Adds or overwrites tags on the parameter.
    fn tag(
        &self,
        name: &str,
        tags: &[(&str, String)],
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Every stored version, oldest first (empty when the parameter does not exist).
    fn history(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<ParameterVersion>, Error>> + Send;
}

/// Makes running applications pick up new parameter values.
pub trait Reload: Sync {
    /// Runs `command` on the instances; returns an id to find the run by.
    fn run(
        &self,
        instance_ids: &[String],
        command: &str,
    ) -> impl Future<Output = Result<String, Error>> + Send;
}
