//! ELBv2 as [`LoadBalancers`]: attributes, tags, target groups and their instance targets.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerAttribute, Tag};

use crate::error::aws;
use crate::ports::LoadBalancers;
use crate::{Error, arn};

const IDLE_TIMEOUT: &str = "idle_timeout.timeout_seconds";
/// What an ALB uses when the attribute has never been set (the emulator then omits it).
const DEFAULT_IDLE_TIMEOUT_S: u32 = 60;

/// Load balancers through the ELBv2 API.
#[derive(Clone, Debug)]
pub struct Elbv2 {
    client: Client,
}

impl Elbv2 {
    /// Uses this client.
    pub fn new(client: Client) -> Self {
        Elbv2 { client }
    }
}

impl LoadBalancers for Elbv2 {
    async fn find(&self, load_balancer: &str) -> Result<Option<String>, Error> {
        let Some(name) = arn::load_balancer_name(load_balancer) else { return Ok(None) };
        let result = self.client.describe_load_balancers().names(name).send().await;
        let output = match result {
            Ok(output) => output,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_load_balancer_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(aws("DescribeLoadBalancers", load_balancer, &error)),
        };
        Ok(output
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.load_balancer_arn())
            .find(|found| arn::load_balancer_id(found) == Some(load_balancer))
            .map(str::to_string))
    }

    async fn idle_timeout(&self, lb_arn: &str) -> Result<u32, Error> {
        let output = self
            .client
            .describe_load_balancer_attributes()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .map_err(|error| aws("DescribeLoadBalancerAttributes", lb_arn, &error))?;
        let Some(value) = output
            .attributes()
            .iter()
            .find(|a| a.key() == Some(IDLE_TIMEOUT))
            .and_then(|a| a.value())
        else {
            return Ok(DEFAULT_IDLE_TIMEOUT_S);
        };
        value.trim().parse().map_err(|_| Error::Invalid {
            resource: lb_arn.to_string(),
            message: format!("{IDLE_TIMEOUT} is {value:?}, not a number of seconds"),
        })
    }

    async fn set_idle_timeout(&self, lb_arn: &str, seconds: u32) -> Result<(), Error> {
        let attribute =
            LoadBalancerAttribute::builder().key(IDLE_TIMEOUT).value(seconds.to_string()).build();
        self.client
            .modify_load_balancer_attributes()
            .load_balancer_arn(lb_arn)
            .attributes(attribute)
            .send()
            .await
            .map_err(|error| aws("ModifyLoadBalancerAttributes", lb_arn, &error))?;
        Ok(())
    }

    async fn tags(&self, lb_arn: &str) -> Result<BTreeMap<String, String>, Error> {
        let output = self
            .client
            .describe_tags()
            .resource_arns(lb_arn)
            .send()
            .await
            .map_err(|error| aws("DescribeTags", lb_arn, &error))?;
        Ok(output
            .tag_descriptions()
            .iter()
            .filter(|d| d.resource_arn() == Some(lb_arn))
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
            .collect())
    }

    async fn add_tags(&self, lb_arn: &str, tags: &[(&str, String)]) -> Result<(), Error> {
        let mut request = self.client.add_tags().resource_arns(lb_arn);
        for (key, value) in tags {
            request = request.tags(Tag::builder().key(*key).value(value).build());
        }
        request.send().await.map_err(|error| aws("AddTags", lb_arn, &error))?;
        Ok(())
    }

    async fn target_groups(&self, lb_arn: &str) -> Result<Vec<String>, Error> {
        let mut groups = Vec::new();
        let mut marker = None;
        loop {
            let output = self
                .client
                .describe_target_groups()
                .load_balancer_arn(lb_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|error| aws("DescribeTargetGroups", lb_arn, &error))?;
            groups.extend(
                output
                    .target_groups()
                    .iter()
                    .filter_map(|g| g.target_group_arn())
                    .map(str::to_string),
            );
            marker = output.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(groups);
            }
        }
    }

    async fn instance_targets(&self, target_group_arn: &str) -> Result<Vec<String>, Error> {
        let output = self
            .client
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|error| aws("DescribeTargetHealth", target_group_arn, &error))?;
        let mut instances: Vec<String> = output
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target().and_then(|t| t.id()))
            .filter(|id| id.starts_with("i-"))
            .map(str::to_string)
            .collect();
        instances.sort();
        instances.dedup();
        Ok(instances)
    }
}
