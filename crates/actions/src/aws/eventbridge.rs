//! EventBridge as [`Events`]: `PutEvents` on one bus, source [`crate::notify::SOURCE`].

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::Error;
use crate::error::aws;
use crate::notify::SOURCE;
use crate::ports::Events;

/// One event bus.
#[derive(Clone, Debug)]
pub struct EventBridge {
    client: Client,
    bus: String,
}

impl EventBridge {
    /// Publishes to `bus` (a name or ARN; `default` is the account's default bus).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBridge { client, bus: bus.into() }
    }
}

impl Events for EventBridge {
    async fn publish(&self, detail_type: &str, detail: &str) -> Result<(), Error> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|error| aws("PutEvents", format!("event bus {}", self.bus), &error))?;
        // PutEvents answers 200 with per-entry failures.
        if output.failed_entry_count() > 0 {
            let reason = output
                .entries()
                .iter()
                .find_map(|e| e.error_message().or(e.error_code()))
                .unwrap_or("unknown");
            return Err(Error::Aws {
                operation: "PutEvents",
                resource: format!("event bus {}", self.bus),
                message: format!("entry {detail_type} not accepted: {reason}"),
                retryable: true,
            });
        }
        Ok(())
    }
}
