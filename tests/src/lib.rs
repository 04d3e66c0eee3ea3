//! Home of the repository-level tests, and the harness of the emulator-backed ones.
//!
//! The integration tests (`tests/tests/*.rs`) check facts that span the whole repository
//! rather than one crate, such as the IAM permissions that `template.yaml` grants to the Lambda
//! functions (`tests/tests/template_iam.rs`), and run the two Lambda handlers with the real
//! AWS SDK against a local [moto](https://github.com/getmoto/moto) server.
//!
//! # Brief overview
//!
//! * [`moto`] starts one `moto_server` per test binary (on a free port, found through
//!   `MOTO_SERVER` or `PATH`) and stops it when the test process exits. Tests run in parallel
//!   against it, so each test builds its own [`World`] under unique names instead of resetting
//!   the emulator. It is served through `tests/moto_serialized.py`, one request at a time, so
//!   that DynamoDB's conditional writes are atomic as in AWS (moto's own threaded server lets
//!   two racing conditional writes both succeed).
//! * [`sdk_config`] is an SDK configuration pointing at the emulator with static credentials and
//!   an explicit region, so nothing is read from the process environment and no instance
//!   metadata address is ever tried.
//! * [`World::new`] creates a VPC with two subnets, an ALB (idle timeout left at its 60 s
//!   default), a target group with two registered instances on port 3000, a log bucket, and
//!   uploads the simulated incident log of *this* load balancer (gzip, at the documented key).
//! * [`World::detect`] and [`World::remediate`] invoke the handlers as Lambda would.
//! * [`local_run`] is the main job through the Lambda Runtime API (`cargo lambda watch`), used
//!   by `scripts/local-run` and `tests/tests/runtime_api.rs`.

pub mod fault_proxy;
pub mod local_run;
pub mod template;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use serde_json::{Value, json};

/// The account moto uses for every resource.
pub const ACCOUNT: &str = "123456789012";
/// The region of every test resource.
pub const REGION: &str = "us-east-1";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    _watcher: Child,
}

/// The moto server of this test binary, started on first use.
///
/// # Panics
///
/// When `moto_server` cannot be found or does not answer within a minute; the message says how
/// to install it.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start_moto)
}

/// A tool named by the environment variable `variable`, else `name` on `PATH`.
pub fn find_tool(variable: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn moto_binary() -> PathBuf {
    find_tool("MOTO_SERVER", "moto_server").unwrap_or_else(|| {
        panic!(
            "moto_server not found on PATH and MOTO_SERVER is not set: install it with \
             `pip install \"moto[server]>=5.1,<6\"` (scripts/test does this in .venv-moto) or \
             set MOTO_SERVER=/path/to/moto_server"
        )
    })
}

/// The Python interpreter of a `moto_server` script (its `#!` line), to run
/// `tests/moto_serialized.py` with the same moto; `None` when it is not a Python script.
fn moto_python(binary: &Path) -> Option<PathBuf> {
    let text = std::fs::read(binary).ok()?;
    let first = text.split(|&b| b == b'\n').next()?;
    let interpreter = std::str::from_utf8(first.strip_prefix(b"#!")?).ok()?.trim();
    let interpreter = PathBuf::from(interpreter.split_whitespace().next()?);
    let is_python = interpreter.file_name()?.to_string_lossy().starts_with("python");
    (is_python && interpreter.is_file()).then_some(interpreter)
}

fn start_moto() -> Moto {
    let binary = moto_binary();
    // moto's own server does not make conditional writes atomic (see the wrapper); serve it
    // one request at a time when its interpreter is known.
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("moto_serialized.py");
    let command: Vec<PathBuf> = match moto_python(&binary) {
        Some(python) if wrapper.is_file() => vec![python, wrapper],
        _ => vec![binary.clone()],
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free local port for moto");
    // A watcher shell owns the server and stops it once this test process is gone: statics are
    // never dropped, so the test binary cannot do it on exit itself.
    let script = r#"
        port="$1" parent="$2"
        shift 2
        if [ "$#" -eq 2 ]; then
            "$1" "$2" 127.0.0.1 "$port" >/dev/null 2>&1 &
        else
            "$1" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
        fi
        server=$!
        trap 'kill "$server" 2>/dev/null' EXIT INT TERM
        while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.5; done
    "#;
    let watcher = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("moto-watcher")
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .args(&command)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let endpoint = format!("http://127.0.0.1:{port}");
    while !answers(port) {
        assert!(
            Instant::now() < deadline,
            "{} did not answer on {endpoint} within 60 s (is it moto 5 with the server extra: \
             `pip install \"moto[server]\"`?)",
            binary.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint, _watcher: watcher }
}

/// Whether an HTTP server answers on the port (moto's dashboard API).
fn answers(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        "GET /moto-api/data.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// An SDK configuration for the emulator: its endpoint, static test credentials, us-east-1.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// Form-URL-encodes a key the way S3 event notifications do (space -> `+`, `+` -> `%2B`).
pub fn form_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// An S3 event notification (`ObjectCreated:Put`) for these bucket and key pairs; keys are
/// given decoded and form-encoded here, as S3 does.
pub fn s3_event(objects: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = objects
        .iter()
        .map(|(bucket, key)| {
            json!({
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                "eventTime": "2026-11-27T09:35:12.345Z", "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "alb-access-logs",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": form_encode(key), "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}}
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An EventBridge "Object Created" event for one object (key as S3 stores it).
pub fn eventbridge_event(bucket: &str, key: &str) -> Value {
    json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
        "source": "aws.s3", "account": ACCOUNT, "time": "2026-11-27T09:35:12Z", "region": REGION,
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
            "object": {"key": key, "size": 1024, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189"},
            "request-id": "N4N7GDK58NMKJ12R", "requester": ACCOUNT, "source-ip-address": "127.0.0.1", "reason": "PutObject"}
    })
}

/// An S3 Batch Operations event (`"1.0"` or `"2.0"`) with one task per key (keys are
/// percent-encoded here, as in a CSV manifest).
pub fn batch_event(version: &str, bucket: &str, keys: &[&str]) -> Value {
    let tasks: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let mut task = json!({"taskId": format!("task-{i}"), "s3Key": form_encode(key).replace('+', "%20"), "s3VersionId": null});
            if version == "1.0" {
                task["s3BucketArn"] = json!(format!("arn:aws:s3:::{bucket}"));
            } else {
                task["s3Bucket"] = json!(bucket);
            }
            task
        })
        .collect();
    let mut job = json!({"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"});
    if version == "2.0" {
        job["userArguments"] = json!({"purpose": "backfill"});
    }
    json!({"invocationSchemaVersion": version, "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo", "job": job, "tasks": tasks})
}

/// Gzips `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip to memory");
    encoder.finish().expect("gzip to memory")
}

/// The incident log of `scenario`, gzip-compressed, and how many races it holds.
pub fn incident_object(scenario: &alb_loggen::Scenario) -> (Vec<u8>, u64) {
    let mut text = Vec::new();
    let summary = alb_loggen::write_log(scenario, &mut text).expect("simulate the incident");
    (gzip(&text), summary.keepalive_502)
}

/// An ALB with its target group, instances and log bucket in the emulator, and the incident
/// log of that ALB uploaded.
#[derive(Debug)]
pub struct World {
    /// The emulator configuration the handlers use.
    pub sdk: SdkConfig,
    /// S3 (path-style).
    pub s3: aws_sdk_s3::Client,
    /// ELBv2.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// SSM.
    pub ssm: aws_sdk_ssm::Client,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// The log bucket.
    pub bucket: String,
    /// The load balancer ARN.
    pub lb_arn: String,
    /// `app/<name>/<id>`.
    pub lb_id: String,
    /// The load balancer name.
    pub lb_name: String,
    /// The target group ARN.
    pub tg_arn: String,
    /// The target group name.
    pub tg_name: String,
    /// Registered instance ids.
    pub instances: Vec<String>,
    /// The simulated scenario of this load balancer.
    pub scenario: alb_loggen::Scenario,
    /// The key of the uploaded incident log (decoded, with the prefix).
    pub key: String,
    /// Keep-alive races in the uploaded log (ground truth).
    pub keepalive_502: u64,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// The journal table (created like the template's `JournalTable`).
    pub journal_table: String,
    /// The event bus the remediator publishes to.
    pub event_bus: String,
    /// The queue an EventBridge rule on `source: alb-keepalive` delivers the events to.
    pub events_queue_url: String,
}

impl World {
    /// A world whose names all derive from `name` (unique per test: lowercase letters, digits
    /// and hyphens, at most 20 characters), with the log uploaded at `AWSLogs/...`.
    pub async fn new(name: &str) -> World {
        World::with_prefix(name, "").await
    }

    /// Like [`World::new`], with the log uploaded under `prefix` (e.g. `"my logs/"`).
    pub async fn with_prefix(name: &str, prefix: &str) -> World {
        assert!(name.len() <= 20, "test world name {name:?} is too long");
        let sdk = sdk_config().await;
        let s3 = alb_actions::aws::s3_client(&sdk);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let ec2 = aws_sdk_ec2::Client::new(&sdk);

        let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.expect("CreateVpc");
        let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_string();
        let mut subnets = Vec::new();
        for (cidr, zone) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(cidr)
                .availability_zone(zone)
                .send()
                .await
                .expect("CreateSubnet");
            subnets
                .push(subnet.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_string());
        }
        let lb_name = format!("{name}-alb");
        let created = elb
            .create_load_balancer()
            .name(&lb_name)
            .set_subnets(Some(subnets.clone()))
            .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Application)
            .send()
            .await
            .expect("CreateLoadBalancer");
        let lb_arn = created.load_balancers()[0].load_balancer_arn().expect("lb arn").to_string();
        let lb_id = alb_actions::arn::load_balancer_id(&lb_arn).expect("an ALB ARN").to_string();
        let tg_name = format!("{name}-tg");
        let tg = elb
            .create_target_group()
            .name(&tg_name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(3000)
            .vpc_id(&vpc_id)
            .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Instance)
            .send()
            .await
            .expect("CreateTargetGroup");
        let tg_arn = tg.target_groups()[0].target_group_arn().expect("tg arn").to_string();
        let run = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .min_count(2)
            .max_count(2)
            .subnet_id(&subnets[0])
            .send()
            .await
            .expect("RunInstances");
        let mut instances = Vec::new();
        let mut targets = Vec::new();
        for instance in run.instances() {
            instances.push(instance.instance_id().expect("instance id").to_string());
            targets.push(format!("{}:3000", instance.private_ip_address().expect("private ip")));
        }
        let mut register = elb.register_targets().target_group_arn(&tg_arn);
        for id in &instances {
            register = register.targets(
                aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                    .id(id)
                    .port(3000)
                    .build(),
            );
        }
        register.send().await.expect("RegisterTargets");
        elb.create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .default_actions(
                aws_sdk_elasticloadbalancingv2::types::Action::builder()
                    .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                    .target_group_arn(&tg_arn)
                    .build(),
            )
            .send()
            .await
            .expect("CreateListener");

        let bucket = format!("alb-logs-{name}");
        s3.create_bucket().bucket(&bucket).send().await.expect("CreateBucket");

        let mut scenario = alb_loggen::Scenario::incident();
        let mut parts = lb_id.split('/').skip(1);
        scenario.load_balancer_name = parts.next().expect("lb name").to_string();
        scenario.load_balancer_id = parts.next().expect("lb id").to_string();
        scenario.account_id = ACCOUNT.to_string();
        scenario.region = REGION.to_string();
        let group = &mut scenario.target_groups[0];
        group.name = tg_name.clone();
        group.id = tg_arn.rsplit('/').next().expect("tg id").to_string();
        group.targets = targets;
        let (object, keepalive_502) = incident_object(&scenario);
        assert!(keepalive_502 > 0, "the simulated incident has no race");
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let (journal_table, event_bus, events_queue_url) =
            closed_loop_resources(&sdk, &dynamodb, &sqs, name).await;
        let key = format!("{prefix}{}", alb_loggen::object_key(&scenario));
        let world = World {
            sdk,
            s3,
            elb,
            ssm,
            ec2,
            bucket,
            lb_arn,
            lb_id,
            lb_name,
            tg_arn,
            tg_name,
            instances,
            scenario,
            key,
            keepalive_502,
            dynamodb,
            sqs,
            journal_table,
            event_bus,
            events_queue_url,
        };
        world.put_object(&world.key, object).await;
        world
    }

    /// Uploads an object to the log bucket.
    pub async fn put_object(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
    }

    /// The S3 notification for the uploaded log.
    pub fn s3_event(&self) -> Value {
        s3_event(&[(&self.bucket, &self.key)])
    }

    /// Detector dependencies with this environment (`MAX_UNCOMPRESSED_BYTES`, ...).
    pub fn detector(&self, env: &[(&str, &str)]) -> alb_keepalive_detector::Deps {
        let config =
            alb_keepalive_detector::Config::from_lookup(lookup(env)).expect("detector config");
        alb_keepalive_detector::Deps {
            objects: alb_actions::aws::S3Objects::new(alb_actions::aws::s3_client(&self.sdk)),
            config,
        }
    }

    /// Remediator dependencies with this environment (`MODE`, `ALLOWED_LOAD_BALANCERS`, ...);
    /// `JOURNAL_TABLE` and `EVENT_BUS_NAME` default to this world's.
    pub fn remediator(&self, env: &[(&str, &str)]) -> alb_keepalive_remediator::Deps {
        self.remediator_as(&self.sdk, env)
    }

    /// [`World::remediator`] with clients of another SDK configuration (other credentials, a
    /// proxy in front of moto).
    pub fn remediator_as(
        &self,
        sdk: &SdkConfig,
        env: &[(&str, &str)],
    ) -> alb_keepalive_remediator::Deps {
        let mut env: Vec<(&str, &str)> = env.to_vec();
        for (name, value) in
            [("JOURNAL_TABLE", self.journal_table.as_str()), ("EVENT_BUS_NAME", &self.event_bus)]
        {
            if !env.iter().any(|(k, _)| *k == name) {
                env.push((name, value));
            }
        }
        let config =
            alb_keepalive_remediator::Config::from_lookup(lookup(&env)).expect("remediator config");
        alb_keepalive_remediator::Deps {
            balancers: alb_actions::aws::Elbv2::new(aws_sdk_elasticloadbalancingv2::Client::new(
                sdk,
            )),
            ssm: alb_actions::aws::Ssm::new(aws_sdk_ssm::Client::new(sdk))
                .with_reload_document(config.reload_document.clone()),
            journal: alb_actions::aws::DynamoJournal::new(
                aws_sdk_dynamodb::Client::new(sdk),
                &config.journal_table,
            ),
            events: alb_actions::aws::EventBridge::new(
                aws_sdk_eventbridge::Client::new(sdk),
                &config.event_bus,
            ),
            config,
        }
    }

    /// The events delivered so far through the rule to the queue, as `(detail-type, detail)`,
    /// in the order received (drains the queue).
    pub async fn events(&self) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.events_queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = output.messages();
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                let body: Value =
                    serde_json::from_str(message.body().unwrap_or_default()).expect("event JSON");
                assert_eq!(body["source"], "alb-keepalive", "{body}");
                events.push((
                    body["detail-type"].as_str().unwrap_or_default().to_string(),
                    body["detail"].clone(),
                ));
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.events_queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("DeleteMessage");
                }
            }
        }
    }

    /// The journal's state item of this world's load balancer, parsed.
    pub async fn journal_state(&self) -> Option<Value> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.journal_table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("lb#{}", self.lb_arn)))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem");
        let state = output.item()?.get("state")?.as_s().ok()?.clone();
        Some(serde_json::from_str(&state).expect("state JSON"))
    }

    /// Every item of the journal table (`pk` and the other attributes as text).
    pub async fn journal_items(&self) -> Vec<BTreeMap<String, String>> {
        let output =
            self.dynamodb.scan().table_name(&self.journal_table).send().await.expect("Scan");
        output
            .items()
            .iter()
            .map(|item| {
                item.iter()
                    .map(|(k, v)| {
                        let text = v
                            .as_s()
                            .cloned()
                            .or_else(|_| v.as_n().cloned())
                            .unwrap_or_else(|_| format!("{v:?}"));
                        (k.clone(), text)
                    })
                    .collect()
            })
            .collect()
    }

    /// Invokes the detector with default settings.
    pub async fn detect(
        &self,
        event: Value,
    ) -> Result<Value, alb_keepalive_detector::HandlerError> {
        alb_keepalive_detector::handler::handle(&self.detector(&[]), invocation(event)).await
    }

    /// Invokes the remediator with this environment.
    pub async fn remediate(
        &self,
        env: &[(&str, &str)],
        event: Value,
    ) -> Result<Value, alb_keepalive_remediator::HandlerError> {
        alb_keepalive_remediator::handler::handle(&self.remediator(env), invocation(event)).await
    }

    /// The detector's result for the uploaded log (panics if the detector fails).
    pub async fn findings(&self) -> Value {
        self.detect(self.s3_event()).await.expect("detector result")
    }

    /// `{prefix}/{tg}/{parameter}` with the default prefix.
    pub fn parameter_name(&self, parameter: &str) -> String {
        format!("/alb-keepalive/{}/{parameter}", self.tg_name)
    }

    /// A parameter's value and version, `None` when it does not exist.
    pub async fn parameter(&self, name: &str) -> Option<(String, i64)> {
        match self.ssm.get_parameter().name(name).send().await {
            Ok(output) => {
                let parameter = output.parameter().expect("parameter");
                Some((parameter.value().expect("value").to_string(), parameter.version()))
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => {
                None
            }
            Err(error) => panic!("GetParameter {name}: {error:?}"),
        }
    }

    /// The load balancer's idle timeout (60 when never set).
    pub async fn idle_timeout(&self) -> u32 {
        let output = self
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(&self.lb_arn)
            .send()
            .await
            .expect("DescribeLoadBalancerAttributes");
        output
            .attributes()
            .iter()
            .find(|a| a.key() == Some("idle_timeout.timeout_seconds"))
            .and_then(|a| a.value())
            .map_or(60, |v| v.parse().expect("numeric idle timeout"))
    }

    /// The load balancer's tags.
    pub async fn lb_tags(&self) -> BTreeMap<String, String> {
        let output = self
            .elb
            .describe_tags()
            .resource_arns(&self.lb_arn)
            .send()
            .await
            .expect("DescribeTags");
        output
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect()
    }

    /// Tags the load balancer.
    pub async fn tag_lb(&self, key: &str, value: &str) {
        self.elb
            .add_tags()
            .resource_arns(&self.lb_arn)
            .tags(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder().key(key).value(value).build(),
            )
            .send()
            .await
            .expect("AddTags");
    }

    /// Writes a parameter as the application's operators would (before any remediation).
    pub async fn put_parameter(&self, name: &str, value: &str) {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .expect("PutParameter");
    }
}

/// The journal table (as the template's `JournalTable`: `pk` String, on demand), an event bus,
/// a queue, and a rule on `source: alb-keepalive` from the bus to the queue.
async fn closed_loop_resources(
    sdk: &SdkConfig,
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let table = format!("journal-{name}");
    dynamodb
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("CreateTable");
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let bus = format!("bus-{name}");
    events.create_event_bus().name(&bus).send().await.expect("CreateEventBus");
    let queue =
        sqs.create_queue().queue_name(format!("events-{name}")).send().await.expect("CreateQueue");
    let queue_url = queue.queue_url().expect("queue url").to_string();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:events-{name}");
    events
        .put_rule()
        .name(format!("alb-keepalive-{name}"))
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["alb-keepalive"]}"#)
        .send()
        .await
        .expect("PutRule");
    events
        .put_targets()
        .rule(format!("alb-keepalive-{name}"))
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("PutTargets");
    (table, bus, queue_url)
}

/// A Lambda invocation of `payload`.
pub fn invocation(payload: Value) -> lambda_runtime::LambdaEvent<Value> {
    lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default())
}

fn lookup(env: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> =
        env.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The repository root (for `events/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A query-protocol call (`Action=...`) to the emulator over plain HTTP, for services the
/// tests have no SDK client for (IAM). Only valid while the emulator does not enforce IAM (it
/// then checks no signature). Returns the response body.
///
/// # Panics
///
/// When the emulator cannot be reached or answers with an error status.
pub fn moto_query(service: &str, form: &[(&str, &str)]) -> String {
    let body: Vec<String> =
        form.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect();
    let body = body.join("&");
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let (status, text) = moto_http(
        "POST",
        "/",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", &authorization)],
        &body,
    );
    assert!(status < 300, "{service} {form:?}: HTTP {status}: {text}");
    text
}

/// Switches the emulator's IAM enforcement on (every later request must be signed by a user
/// whose policies allow its action; S3 also checks the resource) or off.
pub fn moto_enforce_iam(on: bool) {
    let count = if on { "0" } else { "inf" };
    let (status, text) = moto_http("POST", "/moto-api/reset-auth", &[], count);
    assert_eq!(status, 200, "reset-auth: {text}");
}

fn moto_http(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use std::io::Read;
    let address = moto().endpoint.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&address).expect("connect to moto");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write to moto");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read from moto");
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let text = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, text)
}

/// The text between `<tag>` and `</tag>` in an XML answer.
pub fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

/// An SDK configuration for the emulator with these credentials.
pub async fn sdk_config_as(access_key: &str, secret_key: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "moto-user"))
        .load()
        .await
}
