//! IAM least privilege of `template.yaml`.
//!
//! The SAM template is parsed with its CloudFormation short tags (`!Sub`, `!GetAtt`, `!If`, ...).
//! Every IAM identity-policy statement that reaches a function is collected: the inline policies of
//! the `AWS::IAM::Role` named by the function's `Role`, any `AWS::IAM::Policy`/`ManagedPolicy`
//! attached to that role, and, for a function without `Role`, its SAM `Policies` plus what SAM adds
//! on its own (`AWSLambdaBasicExecutionRole`, one statement per `EventInvokeConfig` destination).
//! Statements under `!If` keep the conditions that guard them. Resource values are rendered to
//! strings in which references stay as `${Name}` / `${Name.Attr}`; an `!If` yields one rendering
//! per branch.
//!
//! The checks:
//! - no write action (and no action with a wildcard in its verb) is allowed on `Resource: "*"`;
//! - the detector may only read log objects under `.../AWSLogs/`, invoke the remediator (its
//!   on-success destination), send to the failure queue (on-failure destination) and write its own
//!   logs: nothing of ELB or SSM;
//! - the remediator's actions are the listed ELB/SSM ones, its ELB writes are scoped to application
//!   load balancer ARNs, its SSM writes to parameter ARNs, and `ssm:SendCommand` exists only under
//!   the `HasReloadCommand` condition.
//!
//! Each check also runs on a small wrong template, so a checker that sees nothing cannot pass.

use serde_yaml_ng::{Mapping, Value};

const TEMPLATE: &str = include_str!("../../template.yaml");
const DETECTOR_BINARY: &str = "alb-keepalive-detector";
const REMEDIATOR_BINARY: &str = "alb-keepalive-remediator";

/// The detector's complete list of allowed actions (compared case-insensitively).
const DETECTOR_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "lambda:InvokeFunction",
    "sqs:SendMessage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

/// The remediator's complete list of allowed actions (compared case-insensitively).
const REMEDIATOR_ACTIONS: &[&str] = &[
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:AddTags",
    "ssm:GetParameter",
    "ssm:GetParameterHistory",
    "ssm:PutParameter",
    "ssm:AddTagsToResource",
    "ssm:SendCommand",
    "sqs:SendMessage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

/// Verb prefixes of mutating IAM actions. Covers the explicitly named ones (`Modify*`, `AddTags`,
/// `Set*`, `Create*`, `Delete*`, `PutParameter`, `SendCommand`, `AddTagsToResource`, `s3:Put*`) and
/// their kin.
const WRITE_VERB_PREFIXES: &[&str] = &[
    "Add",
    "Associate",
    "Attach",
    "Authorize",
    "Create",
    "Delete",
    "Deregister",
    "Detach",
    "Disable",
    "Disassociate",
    "Enable",
    "Execute",
    "Invoke",
    "Label",
    "Modify",
    "Publish",
    "Put",
    "Register",
    "Remove",
    "Replace",
    "Reset",
    "Restore",
    "Revoke",
    "Send",
    "Set",
    "Start",
    "Stop",
    "Tag",
    "Unlabel",
    "Untag",
    "Update",
];

/// Upper bound on the renderings of one value (each `!If` doubles them).
const MAX_RENDERINGS: usize = 64;

/// One `Allow` statement of an identity policy, as seen by a function.
#[derive(Debug, Clone)]
struct Statement {
    /// Where it was found, e.g. `DetectorRole/detector/ReadAccessLogObjects`.
    origin: String,
    /// CloudFormation conditions that must hold for the statement to exist (`!Name`: must be
    /// false).
    guards: Vec<String>,
    actions: Vec<String>,
    /// Rendered resources (each alternative of each list item).
    resources: Vec<String>,
    not_action: bool,
    not_resource: bool,
    /// The IAM condition keys the statement tests, e.g. `aws:TagKeys`.
    condition_keys: Vec<String>,
}

/// The permissions of one function.
#[derive(Debug)]
struct FunctionPolicy {
    logical_id: String,
    binary: Option<String>,
    statements: Vec<Statement>,
    /// Policies whose statements are not in the template (managed policies, SAM policy templates).
    opaque: Vec<String>,
}

// -------------------------------------------------------------------------------------------------
// Reading CloudFormation values
// -------------------------------------------------------------------------------------------------

fn parse(yaml: &str) -> Value {
    serde_yaml_ng::from_str(yaml).expect("template is valid YAML")
}

/// `(function name, argument)` of an intrinsic in short (`!Sub x`) or long (`Fn::Sub: x`) form.
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            Some((tag.trim_start_matches('!').to_owned(), &tagged.value))
        }
        Value::Mapping(mapping) if mapping.len() == 1 => {
            let (key, arg) = mapping.iter().next()?;
            let key = key.as_str()?;
            match key {
                "Ref" | "Condition" => Some((key.to_owned(), arg)),
                _ => key.strip_prefix("Fn::").map(|name| (name.to_owned(), arg)),
            }
        }
        _ => None,
    }
}

fn is_no_value(value: &Value) -> bool {
    matches!(
        intrinsic(value),
        Some((name, arg)) if name == "Ref" && arg.as_str() == Some("AWS::NoValue")
    )
}

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_mapping().and_then(|m| m.get(key))
}

fn get_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    get(value, key).and_then(Value::as_str)
}

fn resources(template: &Value) -> &Mapping {
    get(template, "Resources")
        .and_then(Value::as_mapping)
        .expect("template has a Resources mapping")
}

fn resource_type<'a>(template: &'a Value, logical_id: &str) -> Option<&'a str> {
    resources(template).get(logical_id).and_then(|r| get_str(r, "Type"))
}

/// The logical id behind `!Ref X`, `!GetAtt X.Attr` or `!GetAtt [X, Attr]`.
fn referenced_id(value: &Value) -> Option<String> {
    let (name, arg) = intrinsic(value)?;
    match name.as_str() {
        "Ref" => arg.as_str().map(str::to_owned),
        "GetAtt" => match arg {
            Value::String(s) => s.split('.').next().map(str::to_owned),
            Value::Sequence(items) => items.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        },
        _ => None,
    }
}

/// Calls `visit` for each item of a list, expanding `!If` (both branches, with their guard) and
/// dropping `AWS::NoValue`. A non-list value counts as a one-item list.
fn each_item<'a>(value: &'a Value, guards: &[String], visit: &mut dyn FnMut(&'a Value, &[String])) {
    if is_no_value(value) {
        return;
    }
    if let Some((name, arg)) = intrinsic(value)
        && name == "If"
    {
        let branches = arg.as_sequence().expect("Fn::If takes [condition, then, else]");
        let condition = branches[0].as_str().expect("Fn::If condition is a name");
        let mut then_guards = guards.to_vec();
        then_guards.push(condition.to_owned());
        each_item(&branches[1], &then_guards, visit);
        let mut else_guards = guards.to_vec();
        else_guards.push(format!("!{condition}"));
        each_item(&branches[2], &else_guards, visit);
        return;
    }
    match value {
        Value::Sequence(items) => {
            for item in items {
                each_item(item, guards, visit);
            }
        }
        other => visit(other, guards),
    }
}

/// All string renderings of a value; references stay as `${Name}` or `${Name.Attr}`.
fn render(value: &Value) -> Vec<String> {
    if is_no_value(value) {
        return Vec::new();
    }
    if let Some((name, arg)) = intrinsic(value) {
        return match name.as_str() {
            "Ref" => vec![format!("${{{}}}", arg.as_str().unwrap_or("?"))],
            "GetAtt" => match arg {
                Value::String(s) => vec![format!("${{{s}}}")],
                Value::Sequence(items) => {
                    let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                    vec![format!("${{{}}}", parts.join("."))]
                }
                _ => vec!["${GetAtt}".to_owned()],
            },
            "Sub" => render_sub(arg),
            "If" => {
                let branches = arg.as_sequence().expect("Fn::If takes [condition, then, else]");
                let mut out = render(&branches[1]);
                out.extend(render(&branches[2]));
                out
            }
            "Join" => render_join(arg),
            other => vec![format!("${{Fn::{other}}}")],
        };
    }
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        _ => vec!["${?}".to_owned()],
    }
}

fn render_sub(arg: &Value) -> Vec<String> {
    match arg {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => {
            let mut out = vec![items[0].as_str().expect("Fn::Sub template is a string").to_owned()];
            if let Some(vars) = items.get(1).and_then(Value::as_mapping) {
                for (key, value) in vars {
                    let placeholder =
                        format!("${{{}}}", key.as_str().expect("Fn::Sub variable name"));
                    let placeholder = placeholder.as_str();
                    let alternatives = render(value);
                    out = out
                        .iter()
                        .flat_map(|s| {
                            alternatives.iter().map(move |alt| s.replace(placeholder, alt))
                        })
                        .take(MAX_RENDERINGS)
                        .collect();
                }
            }
            out
        }
        _ => vec!["${Fn::Sub}".to_owned()],
    }
}

fn render_join(arg: &Value) -> Vec<String> {
    let items = arg.as_sequence().expect("Fn::Join takes [delimiter, list]");
    let delimiter = items[0].as_str().unwrap_or("");
    let mut out = vec![String::new()];
    let mut first = true;
    each_item(&items[1], &[], &mut |part, _| {
        let alternatives = render(part);
        out = out
            .iter()
            .flat_map(|s| {
                let sep = if first { "" } else { delimiter };
                alternatives.iter().map(move |alt| format!("{s}{sep}{alt}"))
            })
            .take(MAX_RENDERINGS)
            .collect();
        first = false;
    });
    out
}

/// Renders a list-or-scalar field (`Action`, `Resource`) into its flat list of renderings.
fn render_list(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    each_item(value, &[], &mut |item, _| out.extend(render(item)));
    out
}

// -------------------------------------------------------------------------------------------------
// Collecting statements
// -------------------------------------------------------------------------------------------------

/// Adds the `Allow` statements of a policy document (which may itself sit under `!If`).
fn collect_document(document: &Value, origin: &str, guards: &[String], out: &mut Vec<Statement>) {
    each_item(document, guards, &mut |document, guards| {
        let Some(statements) = get(document, "Statement") else {
            return;
        };
        each_item(statements, guards, &mut |statement, guards| {
            let effect = get(statement, "Effect").map(render).unwrap_or_default();
            if effect.iter().all(|e| e != "Allow") {
                return;
            }
            let sid = get_str(statement, "Sid").unwrap_or("(no Sid)");
            let (actions, not_action) =
                match (get(statement, "Action"), get(statement, "NotAction")) {
                    (Some(a), _) => (render_list(a), false),
                    (None, Some(a)) => (render_list(a), true),
                    (None, None) => (Vec::new(), false),
                };
            let (resources, not_resource) =
                match (get(statement, "Resource"), get(statement, "NotResource")) {
                    (Some(r), _) => (render_list(r), false),
                    (None, Some(r)) => (render_list(r), true),
                    (None, None) => (Vec::new(), false),
                };
            let condition_keys = get(statement, "Condition")
                .and_then(Value::as_mapping)
                .into_iter()
                .flat_map(|operators| operators.values())
                .filter_map(Value::as_mapping)
                .flat_map(|keys| keys.keys())
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            out.push(Statement {
                origin: format!("{origin}/{sid}"),
                guards: guards.to_vec(),
                actions,
                resources,
                not_action,
                not_resource,
                condition_keys,
            });
        });
    });
}

/// Statements of an explicit role: its inline `Policies`, its `ManagedPolicyArns` (opaque) and
/// every `AWS::IAM::Policy`/`ManagedPolicy` resource that lists it in `Roles`.
fn collect_role(template: &Value, role_id: &str, policy: &mut FunctionPolicy) {
    let role = resources(template)
        .get(role_id)
        .unwrap_or_else(|| panic!("role {role_id} is not a resource of the template"));
    let properties = get(role, "Properties").cloned().unwrap_or(Value::Null);
    if let Some(policies) = get(&properties, "Policies") {
        each_item(policies, &[], &mut |entry, guards| {
            let name = get_str(entry, "PolicyName").unwrap_or("(unnamed)");
            if let Some(document) = get(entry, "PolicyDocument") {
                collect_document(
                    document,
                    &format!("{role_id}/{name}"),
                    guards,
                    &mut policy.statements,
                );
            }
        });
    }
    if let Some(managed) = get(&properties, "ManagedPolicyArns") {
        for arn in render_list(managed) {
            policy.opaque.push(format!("{role_id}: managed policy {arn}"));
        }
    }
    for (id, resource) in resources(template) {
        let id = id.as_str().unwrap_or("?");
        let kind = get_str(resource, "Type").unwrap_or("");
        if kind != "AWS::IAM::Policy" && kind != "AWS::IAM::ManagedPolicy" {
            continue;
        }
        let Some(roles) = get(resource, "Properties").and_then(|p| get(p, "Roles")) else {
            continue;
        };
        let mut attached = false;
        each_item(roles, &[], &mut |r, _| attached |= referenced_id(r).as_deref() == Some(role_id));
        if attached {
            let guards: Vec<String> =
                get_str(resource, "Condition").map(str::to_owned).into_iter().collect();
            if let Some(document) =
                get(resource, "Properties").and_then(|p| get(p, "PolicyDocument"))
            {
                collect_document(document, id, &guards, &mut policy.statements);
            }
        }
    }
}

/// Statements of a SAM function whose role SAM generates: `Policies` and what SAM adds by itself.
fn collect_sam_generated_role(logical_id: &str, properties: &Value, policy: &mut FunctionPolicy) {
    if let Some(policies) = get(properties, "Policies") {
        each_item(policies, &[], &mut |entry, guards| match entry {
            Value::String(name) => {
                policy.opaque.push(format!("{logical_id}: managed policy {name}"))
            }
            Value::Mapping(_) if get(entry, "Statement").is_some() => {
                collect_document(
                    entry,
                    &format!("{logical_id}/Policies"),
                    guards,
                    &mut policy.statements,
                );
            }
            other => policy.opaque.push(format!("{logical_id}: SAM policy template {other:?}")),
        });
    }
    // SAM attaches AWSLambdaBasicExecutionRole to every role it generates.
    policy.statements.push(Statement {
        origin: format!("{logical_id}/AWSLambdaBasicExecutionRole (added by SAM)"),
        guards: Vec::new(),
        actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
            .map(str::to_owned)
            .to_vec(),
        resources: vec!["*".to_owned()],
        not_action: false,
        not_resource: false,
        condition_keys: Vec::new(),
    });
    // ... and one statement per async destination (samtranslator IAMRolePolicies).
    let destinations =
        get(properties, "EventInvokeConfig").and_then(|c| get(c, "DestinationConfig"));
    for key in ["OnSuccess", "OnFailure"] {
        let Some(destination) = destinations.and_then(|d| get(d, key)) else {
            continue;
        };
        let Some(target) = get(destination, "Destination") else {
            continue;
        };
        let actions: &[&str] = match get_str(destination, "Type").unwrap_or("") {
            "Lambda" => &["lambda:InvokeFunction"],
            "SQS" => &["sqs:SendMessage"],
            "SNS" => &["sns:Publish"],
            "EventBridge" => &["events:PutEvents"],
            "S3Bucket" => &["s3:PutObject", "s3:ListBucket"],
            _ => &[],
        };
        policy.statements.push(Statement {
            origin: format!("{logical_id}/EventInvokeConfig.{key} (added by SAM)"),
            guards: Vec::new(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            resources: render(target),
            not_action: false,
            not_resource: false,
            condition_keys: Vec::new(),
        });
    }
}

/// The permissions of every Lambda function of the template.
fn function_policies(template: &Value) -> Vec<FunctionPolicy> {
    let mut out = Vec::new();
    for (id, resource) in resources(template) {
        let logical_id = id.as_str().expect("logical ids are strings").to_owned();
        let kind = get_str(resource, "Type").unwrap_or("");
        if kind != "AWS::Serverless::Function" && kind != "AWS::Lambda::Function" {
            continue;
        }
        let binary = get(resource, "Metadata")
            .and_then(|m| get(m, "BuildProperties"))
            .and_then(|b| get_str(b, "Binary"))
            .map(str::to_owned);
        let mut policy = FunctionPolicy {
            logical_id: logical_id.clone(),
            binary,
            statements: Vec::new(),
            opaque: Vec::new(),
        };
        let properties = get(resource, "Properties").cloned().unwrap_or(Value::Null);
        match get(&properties, "Role") {
            Some(role) => match referenced_id(role) {
                Some(role_id) if resource_type(template, &role_id) == Some("AWS::IAM::Role") => {
                    collect_role(template, &role_id, &mut policy);
                }
                _ => policy
                    .opaque
                    .push(format!("{logical_id}: role {:?} is not a role of this template", role)),
            },
            None if kind == "AWS::Serverless::Function" => {
                collect_sam_generated_role(&logical_id, &properties, &mut policy);
            }
            None => policy.opaque.push(format!("{logical_id}: AWS::Lambda::Function without Role")),
        }
        out.push(policy);
    }
    out
}

fn function_by_binary<'a>(
    policies: &'a [FunctionPolicy],
    binary: &str,
) -> Option<&'a FunctionPolicy> {
    policies.iter().find(|p| p.binary.as_deref() == Some(binary))
}

// -------------------------------------------------------------------------------------------------
// Checks
// -------------------------------------------------------------------------------------------------

fn is_write(action: &str) -> bool {
    let Some((_, verb)) = action.split_once(':') else {
        return true; // "*"
    };
    if verb.contains(['*', '?']) {
        return true;
    }
    let verb = verb.to_ascii_lowercase();
    WRITE_VERB_PREFIXES.iter().any(|prefix| verb.starts_with(&prefix.to_ascii_lowercase()))
}

fn action_is(action: &str, expected: &str) -> bool {
    action.eq_ignore_ascii_case(expected)
}

fn service(action: &str) -> String {
    action.split_once(':').map_or(action, |(s, _)| s).to_ascii_lowercase()
}

/// True if `condition` must hold whenever one of `guards` holds (directly, or through `Fn::And`).
fn guards_require(template: &Value, guards: &[String], condition: &str) -> bool {
    fn implies(template: &Value, name: &str, condition: &str, depth: usize) -> bool {
        if name == condition {
            return true;
        }
        if depth > 16 {
            return false;
        }
        let Some(definition) = get(template, "Conditions").and_then(|c| get(c, name)) else {
            return false;
        };
        match intrinsic(definition) {
            Some((f, args)) if f == "And" => args.as_sequence().into_iter().flatten().any(|item| {
                matches!(intrinsic(item), Some((c, n)) if c == "Condition"
                    && n.as_str().is_some_and(|n| implies(template, n, condition, depth + 1)))
            }),
            _ => false,
        }
    }
    guards.iter().any(|g| !g.starts_with('!') && implies(template, g, condition, 0))
}

/// Every statement of every function: no `NotAction`/`NotResource`, no write on `Resource: "*"`, no
/// policy that cannot be inspected.
fn check_wildcard_writes(template: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    for policy in function_policies(template) {
        for opaque in &policy.opaque {
            violations.push(format!("{}: cannot be inspected: {opaque}", policy.logical_id));
        }
        for statement in &policy.statements {
            if statement.not_action || statement.not_resource {
                violations.push(format!("{}: Allow with NotAction/NotResource", statement.origin));
            }
            if statement.actions.is_empty() || statement.resources.is_empty() {
                violations
                    .push(format!("{}: statement without Action or Resource", statement.origin));
            }
            let on_everything = statement.resources.iter().any(|r| r == "*");
            for action in statement.actions.iter().filter(|a| is_write(a)) {
                if on_everything {
                    violations.push(format!(
                        "{}: write action {action} on Resource \"*\" (function {})",
                        statement.origin, policy.logical_id
                    ));
                }
            }
        }
    }
    violations
}

/// The detector reads log objects, invokes the remediator, sends failures to a queue, writes its
/// logs.
fn check_detector(template: &Value) -> Vec<String> {
    let policies = function_policies(template);
    let Some(detector) = function_by_binary(&policies, DETECTOR_BINARY) else {
        return vec![format!("no function builds the {DETECTOR_BINARY} binary")];
    };
    let remediator_id =
        function_by_binary(&policies, REMEDIATOR_BINARY).map(|p| p.logical_id.clone());
    let mut violations = Vec::new();
    for statement in &detector.statements {
        for action in &statement.actions {
            let origin = &statement.origin;
            if matches!(service(action).as_str(), "elasticloadbalancing" | "ssm") {
                violations.push(format!("{origin}: detector must not have {action} (ELB/SSM)"));
            }
            if !DETECTOR_ACTIONS.iter().any(|allowed| action_is(action, allowed)) {
                violations.push(format!(
                    "{origin}: detector action {action} is not in {DETECTOR_ACTIONS:?}"
                ));
            }
            if action_is(action, "s3:GetObject") || action_is(action, "s3:GetObjectVersion") {
                for resource in &statement.resources {
                    if !(resource.starts_with("arn:") && resource.contains("/AWSLogs/")) {
                        violations.push(format!(
                            "{origin}: {action} on {resource}, not a .../AWSLogs/ key"
                        ));
                    }
                    // One account's logs of the stack's region: this account, or one of
                    // OtherLogAccountIds (rendered as the `Fn::Select` that picks it).
                    let scoped = ["${AWS::AccountId}", "${Fn::Select}"].iter().any(|account| {
                        resource.ends_with(&format!(
                            "/AWSLogs/{account}/elasticloadbalancing/${{AWS::Region}}/*"
                        ))
                    });
                    if !scoped {
                        violations.push(format!(
                            "{origin}: {action} on {resource}, not one account's logs of this region"
                        ));
                    }
                }
            }
            if action_is(action, "lambda:InvokeFunction") {
                let expected = remediator_id.as_ref().map(|id| format!("${{{id}.Arn}}"));
                for resource in &statement.resources {
                    if Some(resource) != expected.as_ref() {
                        violations
                            .push(format!("{origin}: {action} on {resource}, not the remediator"));
                    }
                }
            }
            if action_is(action, "sqs:SendMessage") {
                for resource in &statement.resources {
                    let queue = resource.strip_prefix("${").and_then(|r| r.strip_suffix(".Arn}"));
                    if queue.and_then(|q| resource_type(template, q)) != Some("AWS::SQS::Queue") {
                        violations.push(format!(
                            "{origin}: {action} on {resource}, not a queue of the stack"
                        ));
                    }
                }
            }
        }
    }
    let reads_logs =
        detector.statements.iter().any(|s| s.actions.iter().any(|a| action_is(a, "s3:GetObject")));
    if !reads_logs {
        violations.push("detector cannot s3:GetObject the log objects".to_owned());
    }
    violations
}

/// The remediator's actions are the listed ones; writes are scoped; SendCommand needs
/// HasReloadCommand.
fn check_remediator(template: &Value) -> Vec<String> {
    let policies = function_policies(template);
    let Some(remediator) = function_by_binary(&policies, REMEDIATOR_BINARY) else {
        return vec![format!("no function builds the {REMEDIATOR_BINARY} binary")];
    };
    let mut violations = Vec::new();
    let mut modifies_load_balancers = false;
    let mut sends_commands = false;
    for statement in &remediator.statements {
        let origin = &statement.origin;
        for action in &statement.actions {
            if !REMEDIATOR_ACTIONS.iter().any(|allowed| action_is(action, allowed)) {
                violations.push(format!(
                    "{origin}: remediator action {action} is not in {REMEDIATOR_ACTIONS:?}"
                ));
            }
            let lb_write = action_is(action, "elasticloadbalancing:ModifyLoadBalancerAttributes")
                || action_is(action, "elasticloadbalancing:AddTags");
            if action_is(action, "elasticloadbalancing:AddTags")
                && !statement.condition_keys.iter().any(|k| k.eq_ignore_ascii_case("aws:TagKeys"))
            {
                violations.push(format!("{origin}: {action} without an aws:TagKeys condition"));
            }
            if lb_write {
                modifies_load_balancers |=
                    action_is(action, "elasticloadbalancing:ModifyLoadBalancerAttributes");
                for resource in &statement.resources {
                    if !(resource.starts_with("arn:") && resource.contains(":loadbalancer/app/")) {
                        violations
                            .push(format!("{origin}: {action} on {resource}, not an ALB ARN"));
                    }
                }
            }
            if action_is(action, "ssm:AddTagsToResource")
                && !statement.condition_keys.iter().any(|k| k.eq_ignore_ascii_case("aws:TagKeys"))
            {
                violations.push(format!("{origin}: {action} without an aws:TagKeys condition"));
            }
            if action_is(action, "ssm:PutParameter") || action_is(action, "ssm:AddTagsToResource") {
                for resource in &statement.resources {
                    if !(resource.starts_with("arn:") && resource.contains(":parameter/")
                        || resource.contains(":parameter${ParameterPrefix}/"))
                    {
                        violations
                            .push(format!("{origin}: {action} on {resource}, not a parameter ARN"));
                    }
                }
            }
            if action_is(action, "ssm:SendCommand") {
                sends_commands = true;
                if !guards_require(template, &statement.guards, "HasReloadCommand") {
                    violations.push(format!(
                        "{origin}: ssm:SendCommand is not conditional on HasReloadCommand \
                         (guards {:?})",
                        statement.guards
                    ));
                }
                // The document must be the stack's own (it runs only ReloadCommand); instances
                // only with a tag condition, in a statement of their own (a condition on a
                // statement that also names the document would never match the document).
                let tag_fenced = statement
                    .condition_keys
                    .iter()
                    .any(|k| k.to_ascii_lowercase().starts_with("ssm:resourcetag/"));
                for resource in &statement.resources {
                    let stack_document = resource
                        .rsplit_once(":document/${")
                        .and_then(|(_, id)| id.strip_suffix('}'))
                        .is_some_and(|id| {
                            resource_type(template, id) == Some("AWS::SSM::Document")
                        });
                    let instance = resource.contains(":ec2:") && resource.ends_with(":instance/*");
                    if instance && !tag_fenced {
                        violations.push(format!(
                            "{origin}: ssm:SendCommand on {resource} without an ssm:resourceTag condition"
                        ));
                    } else if !instance && !stack_document {
                        violations.push(format!(
                            "{origin}: ssm:SendCommand on {resource}, not the stack's own Command document"
                        ));
                    } else if stack_document && tag_fenced {
                        violations.push(format!(
                            "{origin}: the tag condition also applies to the document {resource}, which has no such tag"
                        ));
                    }
                }
            }
        }
    }
    if !modifies_load_balancers {
        violations
            .push("remediator has no elasticloadbalancing:ModifyLoadBalancerAttributes".to_owned());
    }
    if !sends_commands {
        violations
            .push("remediator has no (conditional) ssm:SendCommand for RELOAD_COMMAND".to_owned());
    }
    violations
}

fn assert_clean(check: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "{check}: {} violation(s):\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

// -------------------------------------------------------------------------------------------------
// Tests on template.yaml
// -------------------------------------------------------------------------------------------------

#[test]
fn checker_sees_both_functions_and_all_their_statements() {
    let template = parse(TEMPLATE);
    let policies = function_policies(&template);
    let detector = function_by_binary(&policies, DETECTOR_BINARY).expect("detector function");
    let remediator = function_by_binary(&policies, REMEDIATOR_BINARY).expect("remediator function");
    assert!(detector.statements.len() >= 4, "detector statements: {:#?}", detector.statements);
    assert!(
        remediator.statements.len() >= 7,
        "remediator statements: {:#?}",
        remediator.statements
    );

    // Every role and policy of the template belongs to one of the functions: none escapes the
    // checks.
    let roles_in_use: Vec<String> = resources(&template)
        .values()
        .filter_map(|r| get(r, "Properties").and_then(|p| get(p, "Role")).and_then(referenced_id))
        .collect();
    for (id, resource) in resources(&template) {
        let id = id.as_str().unwrap();
        match get_str(resource, "Type").unwrap_or("") {
            "AWS::IAM::Role" => {
                assert!(roles_in_use.iter().any(|r| r == id), "role {id} is used by no function")
            }
            "AWS::IAM::Policy"
            | "AWS::IAM::ManagedPolicy"
            | "AWS::IAM::User"
            | "AWS::IAM::Group" => {
                panic!(
                    "{id}: standalone IAM resources are not expected; \
                     extend this test to check them"
                )
            }
            _ => {}
        }
    }
}

#[test]
fn no_write_action_is_allowed_on_every_resource() {
    assert_clean("wildcard writes", &check_wildcard_writes(&parse(TEMPLATE)));
}

#[test]
fn detector_only_reads_log_objects_and_hands_off_to_the_remediator() {
    assert_clean("detector", &check_detector(&parse(TEMPLATE)));
}

#[test]
fn remediator_writes_are_scoped_and_send_command_needs_a_reload_command() {
    assert_clean("remediator", &check_remediator(&parse(TEMPLATE)));
}

#[test]
fn remediator_modifies_application_load_balancers_only() {
    let template = parse(TEMPLATE);
    let policies = function_policies(&template);
    let remediator = function_by_binary(&policies, REMEDIATOR_BINARY).expect("remediator function");
    let resources: Vec<&String> = remediator
        .statements
        .iter()
        .filter(|s| {
            s.actions
                .iter()
                .any(|a| action_is(a, "elasticloadbalancing:ModifyLoadBalancerAttributes"))
        })
        .flat_map(|s| &s.resources)
        .collect();
    assert!(!resources.is_empty());
    for resource in resources {
        assert_eq!(
            resource,
            "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:\
             loadbalancer/app/*"
        );
    }
}

#[test]
fn describe_actions_on_every_resource_are_read_only() {
    let template = parse(TEMPLATE);
    for policy in function_policies(&template) {
        for statement in policy.statements.iter().filter(|s| s.resources.iter().any(|r| r == "*")) {
            for action in &statement.actions {
                let verb = action.split_once(':').map_or("", |(_, v)| v);
                assert!(
                    verb.starts_with("Describe")
                        || verb.starts_with("Get")
                        || verb.starts_with("List"),
                    "{}: {action} on \"*\"",
                    statement.origin
                );
            }
        }
    }
}

// -------------------------------------------------------------------------------------------------
// The checks must fail on wrong templates
// -------------------------------------------------------------------------------------------------

const WRONG_REMEDIATOR: &str = r#"
Conditions:
  IsApply: !Equals [!Ref Mode, apply]
  HasReloadCommand: !Not [!Equals [!Ref ReloadCommand, ""]]
Resources:
  RemediatorFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties: {Binary: alb-keepalive-remediator}
    Properties:
      Role: !GetAtt RemediatorRole.Arn
  RemediatorRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: remediator
          PolicyDocument:
            Statement:
              - Sid: WriteEveryParameter
                Effect: Allow
                Action: ssm:PutParameter
                Resource: "*"
              - !If
                - IsApply
                - Sid: RunAnything
                  Effect: Allow
                  Action: [ssm:SendCommand, ssm:AddTagsToResource]
                  Resource:
                    - arn:aws:ec2:us-east-1:111122223333:instance/*
                    - arn:aws:ssm:us-east-1::document/AWS-RunShellScript
                - !Ref AWS::NoValue
              - Sid: TargetGroupsToo
                Effect: Allow
                Action: elasticloadbalancing:ModifyLoadBalancerAttributes
                Resource: !Sub arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:*
              - Sid: AnyTag
                Effect: Allow
                Action: elasticloadbalancing:AddTags
                Resource: arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/*
"#;

const WRONG_DETECTOR: &str = r#"
Resources:
  DetectorFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties: {Binary: alb-keepalive-detector}
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [s3:GetObject, elasticloadbalancing:ModifyLoadBalancerAttributes]
              Resource:
                - arn:aws:s3:::logs/alb/AWSLogs/*
                - arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/*
      EventInvokeConfig:
        DestinationConfig:
          OnSuccess: {Type: Lambda, Destination: !GetAtt SomethingElse.Arn}
"#;

fn has(violations: &[String], needles: &[&str]) -> bool {
    violations.iter().any(|v| needles.iter().all(|n| v.contains(n)))
}

#[test]
fn checker_reports_put_parameter_on_every_resource() {
    let violations = check_wildcard_writes(&parse(WRONG_REMEDIATOR));
    assert!(
        has(&violations, &["WriteEveryParameter", "ssm:PutParameter", "Resource \"*\""]),
        "{violations:#?}"
    );
}

#[test]
fn checker_reports_unconditional_send_command_and_broad_lb_writes() {
    let violations = check_remediator(&parse(WRONG_REMEDIATOR));
    assert!(
        has(&violations, &["RunAnything", "not conditional on HasReloadCommand"]),
        "{violations:#?}"
    );
    assert!(has(&violations, &["TargetGroupsToo", "not an ALB ARN"]), "{violations:#?}");
    assert!(has(&violations, &["AnyTag", "without an aws:TagKeys condition"]), "{violations:#?}");
    assert!(
        has(&violations, &["RunAnything", "AWS-RunShellScript", "not the stack's own"]),
        "{violations:#?}"
    );
    assert!(
        has(&violations, &["RunAnything", "instance/*", "without an ssm:resourceTag condition"]),
        "{violations:#?}"
    );
    assert!(
        has(&violations, &["RunAnything", "ssm:AddTagsToResource", "aws:TagKeys"]),
        "{violations:#?}"
    );
}

#[test]
fn checker_reports_elb_writes_and_foreign_invokes_in_the_detector() {
    let template = parse(WRONG_DETECTOR);
    let violations = check_detector(&template);
    assert!(has(&violations, &["ModifyLoadBalancerAttributes", "ELB/SSM"]), "{violations:#?}");
    assert!(has(&violations, &["not a .../AWSLogs/ key"]), "{violations:#?}");
    assert!(
        has(&violations, &["lambda:InvokeFunction", "SomethingElse", "not the remediator"]),
        "{violations:#?}"
    );
    // The role SAM generates carries AWSLambdaBasicExecutionRole: logs writes on "*".
    let violations = check_wildcard_writes(&template);
    assert!(
        has(&violations, &["AWSLambdaBasicExecutionRole", "logs:CreateLogGroup"]),
        "{violations:#?}"
    );
}

#[test]
fn guards_follow_and_conditions() {
    let template = parse(
        r#"
Conditions:
  HasReloadCommand: !Not [!Equals [!Ref ReloadCommand, ""]]
  IsApply: !Equals [!Ref Mode, apply]
  ApplyWithReload: !And [!Condition IsApply, !Condition HasReloadCommand]
  Nested: !And [!Condition ApplyWithReload, !Condition IsApply]
Resources: {}
"#,
    );
    let guards = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(guards_require(&template, &guards(&["HasReloadCommand"]), "HasReloadCommand"));
    assert!(guards_require(&template, &guards(&["Nested"]), "HasReloadCommand"));
    assert!(!guards_require(&template, &guards(&["IsApply"]), "HasReloadCommand"));
    assert!(!guards_require(&template, &guards(&["!HasReloadCommand"]), "HasReloadCommand"));
}
