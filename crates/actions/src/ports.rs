//! What the remediation needs from AWS, as small traits named for the domain. The SDK
//! implementations are in [`crate::aws`]; the remediation itself never sees an SDK type.

use std::collections::BTreeMap;
use std::future::Future;

use crate::Error;
use crate::journal::{ChangeRecord, JournalState};

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

/// The journal (DynamoDB): per load balancer, a lease and a [`JournalState`].
pub trait Journal: Sync {
    /// Takes the lease on `load_balancer` for `holder` until `until` (unix seconds) when it is
    /// free, expired at `now`, or already `holder`'s. `false` when another holder has it.
    fn acquire(
        &self,
        load_balancer: &str,
        holder: &str,
        now: u64,
        until: u64,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
    /// Gives the lease back (no-op when `holder` no longer has it).
    fn release(
        &self,
        load_balancer: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// The state (empty when the load balancer was never seen).
    fn load(&self, load_balancer: &str)
    -> impl Future<Output = Result<JournalState, Error>> + Send;
    /// Stores the state; fails when `holder` does not hold the lease.
    fn save(
        &self,
        load_balancer: &str,
        holder: &str,
        state: &JournalState,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Keeps a completed change as its own item (the history).
    fn append_change(
        &self,
        load_balancer: &str,
        change: &ChangeRecord,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// The ARNs of every load balancer with a state (for the periodic review).
    fn load_balancers(&self) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
}

/// Where events go (EventBridge).
pub trait Events: Sync {
    /// Publishes one event with this detail-type and JSON detail.
    fn publish(
        &self,
        detail_type: &str,
        detail: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
