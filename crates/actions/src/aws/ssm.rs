//! SSM as [`Parameters`] (Parameter Store) and [`Reload`] (Run Command).

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};

use crate::Error;
use crate::error::aws;
use crate::ports::{ParameterVersion, Parameters, Reload};

/// Parameter Store and Run Command.
#[derive(Clone, Debug)]
pub struct Ssm {
    client: Client,
    reload_document: Option<String>,
}

/// The AWS-owned document that runs any shell command: only used when no reload document of
/// the stack is configured (local runs, the emulator).
const RUN_SHELL_SCRIPT: &str = "AWS-RunShellScript";

impl Ssm {
    /// Uses this client; the reload runs through `AWS-RunShellScript` with the command.
    pub fn new(client: Client) -> Self {
        Ssm { client, reload_document: None }
    }

    /// Runs the reload through this Command document instead (the stack's own document, which
    /// holds the reload command itself and takes no parameters, so the role's `SendCommand`
    /// can be granted on it alone).
    pub fn with_reload_document(mut self, document: Option<String>) -> Self {
        self.reload_document = document.filter(|name| !name.trim().is_empty());
        self
    }
}

impl Parameters for Ssm {
    async fn get(&self, name: &str) -> Result<Option<String>, Error> {
        match self.client.get_parameter().name(name).send().await {
            Ok(output) => Ok(output.parameter().and_then(|p| p.value()).map(str::to_string)),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => {
                Ok(None)
            }
            Err(error) => Err(aws("GetParameter", name, &error)),
        }
    }

    async fn put(&self, name: &str, value: &str, description: &str) -> Result<(), Error> {
        // PutParameter refuses Tags together with Overwrite: tags go on separately.
        self.client
            .put_parameter()
            .name(name)
            .value(value)
            .description(description)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|error| aws("PutParameter", name, &error))?;
        Ok(())
    }

    async fn tag(&self, name: &str, tags: &[(&str, String)]) -> Result<(), Error> {
        let mut request = self
            .client
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name);
        for (key, value) in tags {
            request = request.tags(Tag::builder().key(*key).value(value).build().map_err(|e| {
                Error::Invalid { resource: name.to_string(), message: e.to_string() }
            })?);
        }
        request.send().await.map_err(|error| aws("AddTagsToResource", name, &error))?;
        Ok(())
    }

    async fn history(&self, name: &str) -> Result<Vec<ParameterVersion>, Error> {
        let mut versions = Vec::new();
        let mut token = None;
        loop {
            let result =
                self.client.get_parameter_history().name(name).set_next_token(token).send().await;
            let output = match result {
                Ok(output) => output,
                Err(error)
                    if error.as_service_error().is_some_and(|e| e.is_parameter_not_found()) =>
                {
                    return Ok(Vec::new());
                }
                Err(error) => return Err(aws("GetParameterHistory", name, &error)),
            };
            versions.extend(output.parameters().iter().map(|p| ParameterVersion {
                version: p.version(),
                value: p.value().unwrap_or_default().to_string(),
                description: p.description().map(str::to_string),
            }));
            token = output.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        versions.sort_by_key(|v| v.version);
        Ok(versions)
    }
}

impl Reload for Ssm {
    async fn run(&self, instance_ids: &[String], command: &str) -> Result<String, Error> {
        let request = self
            .client
            .send_command()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .comment("alb-keepalive: reload after keep-alive timeouts changed");
        let request = match &self.reload_document {
            Some(document) => request.document_name(document),
            None => request
                .document_name(RUN_SHELL_SCRIPT)
                .parameters("commands", vec![command.to_string()]),
        };
        let document = self.reload_document.as_deref().unwrap_or(RUN_SHELL_SCRIPT);
        let output = request.send().await.map_err(|error| {
            aws("SendCommand", format!("{document} on {}", instance_ids.join(",")), &error)
        })?;
        output.command().and_then(|c| c.command_id()).map(str::to_string).ok_or_else(|| {
            Error::Invalid {
                resource: instance_ids.join(","),
                message: "SendCommand returned no command id".into(),
            }
        })
    }
}
