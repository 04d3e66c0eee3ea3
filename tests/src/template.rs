//! `template.yaml` resolved as CloudFormation would for given parameters: conditions
//! evaluated, `!If` branches taken, `!Sub`, `!Ref`, `!GetAtt`, `!Select`, `!Split`, `!Join` and
//! `!FindInMap` substituted, so that a role's policy becomes the JSON document IAM would hold.
//!
//! Used by the permission-map test (`tests/tests/permission_map.rs`) and the IAM-enforced
//! emulator run (`tests/tests/iam_enforced.rs`). Resources of the stack get predictable
//! physical names: `Ref` of a resource is `<stack>-<LogicalId>`, `GetAtt X.Arn` an ARN of the
//! resource's service built from that name.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};
use serde_yaml_ng::Value;

/// The template of this repository.
pub const TEMPLATE: &str = include_str!("../../template.yaml");
/// The stack name used for physical names.
pub const STACK: &str = "alb-keepalive";
/// The stack id (its UUID's first block names the new log bucket).
pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/alb-keepalive/1a2b3c4d-0000-4000-8000-000000000000";

/// A template with parameter values, ready to resolve.
#[derive(Debug)]
pub struct Resolved {
    template: Value,
    parameters: BTreeMap<String, String>,
    conditions: BTreeMap<String, bool>,
}

impl Resolved {
    /// `template.yaml` with its defaults overridden by `parameters`.
    ///
    /// # Panics
    ///
    /// When the template cannot be parsed or a condition cannot be evaluated.
    pub fn new(parameters: &[(&str, &str)]) -> Resolved {
        Resolved::of(TEMPLATE, parameters)
    }

    /// Any template text with its defaults overridden by `parameters`.
    ///
    /// # Panics
    ///
    /// When the template cannot be parsed or a condition cannot be evaluated.
    pub fn of(text: &str, parameters: &[(&str, &str)]) -> Resolved {
        let template: Value = serde_yaml_ng::from_str(text).expect("template is YAML");
        let mut values = BTreeMap::new();
        if let Some(declared) = template.get("Parameters").and_then(Value::as_mapping) {
            for (name, spec) in declared {
                let name = name.as_str().expect("parameter name").to_string();
                let default = match spec.get("Default") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => String::new(),
                };
                values.insert(name, default);
            }
        }
        for (name, value) in parameters {
            assert!(values.contains_key(*name), "template has no parameter {name}");
            values.insert((*name).to_string(), (*value).to_string());
        }
        let mut resolved = Resolved { template, parameters: values, conditions: BTreeMap::new() };
        let names: Vec<String> = resolved
            .template
            .get("Conditions")
            .and_then(Value::as_mapping)
            .map(|m| m.keys().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        for name in names {
            let value = resolved.condition(&name);
            resolved.conditions.insert(name, value);
        }
        resolved
    }

    /// Whether a named condition holds.
    pub fn condition(&self, name: &str) -> bool {
        if let Some(value) = self.conditions.get(name) {
            return *value;
        }
        let expression = self
            .template
            .get("Conditions")
            .and_then(|c| c.get(name))
            .unwrap_or_else(|| panic!("no condition {name}"))
            .clone();
        self.truth(&expression)
    }

    fn truth(&self, value: &Value) -> bool {
        let (function, argument) = intrinsic(value).expect("a condition function");
        let items = || argument.as_sequence().expect("condition arguments").clone();
        match function.as_str() {
            "Equals" => {
                let items = items();
                self.resolve(&items[0]) == self.resolve(&items[1])
            }
            "Not" => !self.truth(&items()[0]),
            "And" => items().iter().all(|item| self.truth(item)),
            "Or" => items().iter().any(|item| self.truth(item)),
            "Condition" => self.condition(argument.as_str().expect("condition name")),
            other => panic!("unsupported condition function {other}"),
        }
    }

    /// A resource's properties, resolved; `None` when the resource's condition is false.
    pub fn resource(&self, logical_id: &str) -> Option<Json> {
        let resource = self.template.get("Resources")?.get(logical_id)?;
        if let Some(condition) = resource.get("Condition").and_then(Value::as_str)
            && !self.condition(condition)
        {
            return None;
        }
        Some(self.resolve(resource.get("Properties")?).unwrap_or(Json::Null))
    }

    /// The role's inline policies merged into one policy document.
    ///
    /// # Panics
    ///
    /// When the role does not exist.
    pub fn role_policy(&self, role: &str) -> Json {
        let properties = self.resource(role).unwrap_or_else(|| panic!("no role {role}"));
        let mut statements = Vec::new();
        for policy in properties["Policies"].as_array().into_iter().flatten() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().into_iter().flatten()
            {
                statements.push(statement.clone());
            }
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    /// The physical name of a resource of the stack (what `Ref` gives).
    pub fn physical_name(&self, logical_id: &str) -> String {
        format!("{STACK}-{logical_id}")
    }

    /// Resolves a value; `None` for `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Option<Json> {
        if let Some((function, argument)) = intrinsic(value) {
            return self.call(&function, argument);
        }
        Some(match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(Json::Null),
            Value::String(s) => Json::String(s.clone()),
            Value::Sequence(items) => {
                Json::Array(items.iter().filter_map(|item| self.resolve(item)).collect())
            }
            Value::Mapping(mapping) => Json::Object(
                mapping
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str().expect("string keys").to_string(), self.resolve(v)?))
                    })
                    .collect(),
            ),
            Value::Tagged(_) => unreachable!("tags are intrinsics"),
        })
    }

    fn string(&self, value: &Value) -> String {
        match self.resolve(value) {
            Some(Json::String(s)) => s,
            Some(Json::Number(n)) => n.to_string(),
            other => panic!("expected a string, got {other:?} from {value:?}"),
        }
    }

    fn call(&self, function: &str, argument: &Value) -> Option<Json> {
        let items = || argument.as_sequence().expect("arguments").clone();
        Some(match function {
            "Ref" => {
                let name = argument.as_str().expect("Ref name");
                if name == "AWS::NoValue" {
                    return None;
                }
                Json::String(self.reference(name))
            }
            "GetAtt" => {
                let path = match argument {
                    Value::String(s) => s.clone(),
                    Value::Sequence(parts) => {
                        parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(".")
                    }
                    _ => panic!("GetAtt argument"),
                };
                Json::String(self.attribute(&path))
            }
            "If" => {
                let items = items();
                let name = items[0].as_str().expect("If condition");
                return self.resolve(&items[if self.condition(name) { 1 } else { 2 }]);
            }
            "Sub" => Json::String(self.sub(argument)),
            "Select" => {
                let items = items();
                let index: usize = self.string(&items[0]).parse().expect("Select index");
                let list = self.resolve(&items[1]).expect("Select list");
                list.as_array().and_then(|l| l.get(index)).cloned().expect("Select in range")
            }
            "Split" => {
                let items = items();
                let delimiter = items[0].as_str().expect("Split delimiter");
                Json::Array(
                    self.string(&items[1])
                        .split(delimiter)
                        .map(|s| Json::String(s.into()))
                        .collect(),
                )
            }
            "Join" => {
                let items = items();
                let delimiter = items[0].as_str().expect("Join delimiter");
                let list = self.resolve(&items[1]).expect("Join list");
                let parts: Vec<String> = list
                    .as_array()
                    .expect("Join list")
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect();
                Json::String(parts.join(delimiter))
            }
            "FindInMap" => {
                let items = items();
                let map = self.string(&items[0]);
                let top = self.string(&items[1]);
                let second = self.string(&items[2]);
                let found = self
                    .template
                    .get("Mappings")
                    .and_then(|m| m.get(map.as_str()))
                    .and_then(|m| m.get(top.as_str()))
                    .and_then(|m| m.get(second.as_str()));
                match found {
                    Some(value) => self.resolve(value)?,
                    None => self.resolve(
                        items.get(3).and_then(|d| d.get("DefaultValue")).expect("FindInMap key"),
                    )?,
                }
            }
            "Condition" => Json::Bool(self.condition(argument.as_str().expect("name"))),
            other => panic!("unsupported intrinsic {other}"),
        })
    }

    fn sub(&self, argument: &Value) -> String {
        let (text, variables) = match argument {
            Value::String(s) => (s.clone(), BTreeMap::new()),
            Value::Sequence(items) => {
                let mut variables = BTreeMap::new();
                if let Some(map) = items.get(1).and_then(Value::as_mapping) {
                    for (k, v) in map {
                        variables.insert(k.as_str().expect("variable").to_string(), self.string(v));
                    }
                }
                (items[0].as_str().expect("Sub text").to_string(), variables)
            }
            _ => panic!("Sub argument"),
        };
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closing brace") + start;
            let name = &rest[start + 2..end];
            let value =
                variables.get(name).cloned().unwrap_or_else(|| match name.split_once('.') {
                    Some(_) => self.attribute(name),
                    None => self.reference(name),
                });
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn reference(&self, name: &str) -> String {
        match name {
            "AWS::Region" => "us-east-1".into(),
            "AWS::AccountId" => "123456789012".into(),
            "AWS::Partition" => "aws".into(),
            "AWS::StackName" => STACK.into(),
            "AWS::StackId" => STACK_ID.into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            _ => match self.parameters.get(name) {
                Some(value) => value.clone(),
                None => {
                    assert!(
                        self.template.get("Resources").and_then(|r| r.get(name)).is_some(),
                        "Ref to unknown {name}"
                    );
                    self.physical_name(name)
                }
            },
        }
    }

    fn attribute(&self, path: &str) -> String {
        let (id, attribute) = path.split_once('.').expect("Logical.Attribute");
        let kind = self
            .template
            .get("Resources")
            .and_then(|r| r.get(id))
            .and_then(|r| r.get("Type"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("GetAtt of unknown {id}"));
        let name = self.physical_name(id);
        let prefix = "us-east-1:123456789012";
        match (kind, attribute) {
            ("AWS::Logs::LogGroup", "Arn") => format!("arn:aws:logs:{prefix}:log-group:{name}:*"),
            ("AWS::SQS::Queue", "Arn") => format!("arn:aws:sqs:{prefix}:{name}"),
            ("AWS::SQS::Queue", "QueueName") => name,
            ("AWS::Serverless::Function", "Arn") => {
                format!("arn:aws:lambda:{prefix}:function:{name}")
            }
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::123456789012:role/{name}"),
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{}", self.reference(id)),
            ("AWS::Events::Rule", "Arn") => format!("arn:aws:events:{prefix}:rule/{name}"),
            _ => format!("arn:aws:{}:{prefix}:{name}", kind.to_lowercase()),
        }
    }
}

/// `(function, argument)` of an intrinsic in short (`!Sub x`) or long (`Fn::Sub: x`) form.
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            Some((tagged.tag.to_string().trim_start_matches('!').to_owned(), &tagged.value))
        }
        Value::Mapping(mapping) if mapping.len() == 1 => {
            let (key, argument) = mapping.iter().next()?;
            let key = key.as_str()?;
            match key {
                "Ref" | "Condition" => Some((key.to_owned(), argument)),
                _ => key.strip_prefix("Fn::").map(|name| (name.to_owned(), argument)),
            }
        }
        _ => None,
    }
}

/// What an IAM request carries for the checks below: the action, the resource ARN and the
/// condition keys with their values.
#[derive(Clone, Debug)]
pub struct Request {
    /// `service:Action`.
    pub action: String,
    /// The resource ARN (`*` for actions without resource-level permissions).
    pub resource: String,
    /// Condition keys (multi-valued keys such as `aws:TagKeys` hold several values).
    pub context: Vec<(String, Vec<String>)>,
}

/// Whether a policy document allows the request, evaluating `Action`, `Resource` (wildcards
/// `*` and `?`), and the condition operators the template uses (`StringEquals`, `StringLike`,
/// `ArnEquals`, `ArnLike`, and their `ForAllValues:` forms). An unknown operator denies.
pub fn allows(policy: &Json, request: &Request) -> bool {
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    let matching = |statement: &Json| {
        let listed = |field: &str, value: &str, ignore_case: bool| {
            let values: Vec<String> = match &statement[field] {
                Json::String(s) => vec![s.clone()],
                Json::Array(items) => {
                    items.iter().filter_map(Json::as_str).map(String::from).collect()
                }
                _ => vec![],
            };
            values.iter().any(|pattern| glob(pattern, value, ignore_case))
        };
        listed("Action", &request.action, true)
            && listed("Resource", &request.resource, false)
            && conditions_hold(&statement["Condition"], &request.context)
    };
    let denied = statements.iter().any(|s| s["Effect"] == "Deny" && matching(s));
    !denied && statements.iter().any(|s| s["Effect"] == "Allow" && matching(s))
}

fn conditions_hold(condition: &Json, context: &[(String, Vec<String>)]) -> bool {
    let Some(operators) = condition.as_object() else { return true };
    operators.iter().all(|(operator, keys)| {
        let (for_all, operator) = match operator.strip_prefix("ForAllValues:") {
            Some(rest) => (true, rest),
            None => (false, operator.as_str()),
        };
        let like = match operator {
            "StringEquals" | "ArnEquals" => false,
            "StringLike" | "ArnLike" => true,
            _ => return false,
        };
        keys.as_object().into_iter().flatten().all(|(key, expected)| {
            let expected: Vec<String> = match expected {
                Json::String(s) => vec![s.clone()],
                Json::Array(items) => {
                    items.iter().filter_map(Json::as_str).map(String::from).collect()
                }
                _ => vec![],
            };
            let actual =
                context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone());
            let matches = |value: &String| {
                expected.iter().any(|pattern| {
                    if like { glob(pattern, value, false) } else { pattern == value }
                })
            };
            match actual {
                // ForAllValues over a missing key is true in IAM; a single-valued operator is
                // false on a missing key.
                None => for_all,
                Some(values) if for_all => values.iter().all(matches),
                Some(values) => values.iter().any(matches),
            }
        })
    })
}

/// IAM wildcard matching: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = if ignore_case {
        (pattern.to_lowercase().chars().collect(), value.to_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), value.chars().collect())
    };
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
