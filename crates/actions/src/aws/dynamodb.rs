//! DynamoDB as the [`Journal`]: one table, partition key `pk` (String), no sort key.
//!
//! * `lb#<load balancer ARN>`: `state` (the [`JournalState`] as JSON text), the lease
//!   (`lease_holder`, `lease_until` in unix seconds) and `updated_at`.
//! * `change#<load balancer ARN>#<unix seconds>#<id>`: one completed change (`change`, JSON).
//!
//! Every write of the state is conditional on holding the lease, so two invocations never both
//! decide for one load balancer; a lease whose `lease_until` has passed (its holder crashed)
//! can be taken.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::Error;
use crate::error::aws;
use crate::journal::{ChangeRecord, JournalState};
use crate::ports::Journal;

/// The journal table.
#[derive(Clone, Debug)]
pub struct DynamoJournal {
    client: Client,
    table: String,
}

fn state_key(load_balancer: &str) -> AttributeValue {
    AttributeValue::S(format!("lb#{load_balancer}"))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoJournal {
    /// The journal in `table`, through this client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoJournal { client, table: table.into() }
    }

    fn resource(&self, load_balancer: &str) -> String {
        format!("table {} item lb#{load_balancer}", self.table)
    }
}

impl Journal for DynamoJournal {
    async fn acquire(
        &self,
        load_balancer: &str,
        holder: &str,
        now: u64,
        until: u64,
    ) -> Result<bool, Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", state_key(load_balancer))
            .update_expression("SET lease_holder = :h, lease_until = :u, load_balancer = :lb")
            .condition_expression(
                "attribute_not_exists(lease_until) OR lease_until < :now OR lease_holder = :h",
            )
            .expression_attribute_values(":h", s(holder))
            .expression_attribute_values(":u", n(until))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":lb", s(load_balancer))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(aws("UpdateItem", self.resource(load_balancer), &error)),
        }
    }

    async fn release(&self, load_balancer: &str, holder: &str) -> Result<(), Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", state_key(load_balancer))
            .update_expression("REMOVE lease_holder, lease_until")
            .condition_expression("lease_holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(aws("UpdateItem", self.resource(load_balancer), &error)),
        }
    }

    async fn load(&self, load_balancer: &str) -> Result<JournalState, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", state_key(load_balancer))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| aws("GetItem", self.resource(load_balancer), &error))?;
        let Some(text) =
            output.item().and_then(|item| item.get("state")).and_then(|v| v.as_s().ok())
        else {
            return Ok(JournalState::default());
        };
        serde_json::from_str(text).map_err(|e| Error::Invalid {
            resource: self.resource(load_balancer),
            message: format!("state is not a journal state: {e}"),
        })
    }

    async fn save(
        &self,
        load_balancer: &str,
        holder: &str,
        state: &JournalState,
    ) -> Result<(), Error> {
        let text = serde_json::to_string(state).map_err(|e| Error::Invalid {
            resource: self.resource(load_balancer),
            message: format!("cannot serialize the state: {e}"),
        })?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", state_key(load_balancer))
            .update_expression("SET #state = :s, updated_at = :t")
            .condition_expression("lease_holder = :h")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":s", s(text))
            .expression_attribute_values(":t", n(now))
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(Error::Lease {
                    load_balancer: load_balancer.to_string(),
                    message: "the journal lease was lost (expired and taken by another invocation); the state was not saved".into(),
                })
            }
            Err(error) => Err(aws("UpdateItem", self.resource(load_balancer), &error)),
        }
    }

    async fn append_change(&self, load_balancer: &str, change: &ChangeRecord) -> Result<(), Error> {
        let key = format!("change#{load_balancer}#{}#{}", change.at, change.id);
        let text = serde_json::to_string(change).map_err(|e| Error::Invalid {
            resource: key.clone(),
            message: format!("cannot serialize the change: {e}"),
        })?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key.clone()))
            .item("load_balancer", s(load_balancer))
            .item("at", n(change.at))
            .item("change", s(text))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Written by an earlier attempt: the history already has it.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(aws("PutItem", format!("table {} item {key}", self.table), &error)),
        }
    }

    async fn load_balancers(&self) -> Result<Vec<String>, Error> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", s("lb#"))
                .projection_expression("pk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| aws("Scan", format!("table {}", self.table), &error))?;
            found.extend(
                output
                    .items()
                    .iter()
                    .filter_map(|item| item.get("pk")?.as_s().ok()?.strip_prefix("lb#"))
                    .map(str::to_string),
            );
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                found.sort();
                return Ok(found);
            }
        }
    }
}
