//! Realistic accounts in moto, made through the same SDK the agents use: a fleet tagged
//! Env=staging and Env=prod, a stopped instance that keeps its EBS volume, volumes attached and
//! not, secrets (one with a rotation function), budgets with alerts, load balancers with and
//! without traffic, an IAM user who may only look.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification, VolumeType};
use serde_json::{Value, json};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// SDK configuration for moto: static test credentials, no retries.
pub fn conf(endpoint: &str, region: &str) -> SdkConfig {
    conf_as(endpoint, region, "testing", "testing")
}

pub fn conf_as(endpoint: &str, region: &str, key: &str, secret: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                key,
                secret,
                None,
                None,
                "opsdeck-tests",
            )),
        )
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

/// The account every test fleet lives in (moto's default).
pub const ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone)]
pub struct Fleet {
    pub region: String,
    /// Running, Env=staging Role=web (t3.medium).
    pub staging_web: Vec<String>,
    /// Running, Env=prod Role=web (t3.medium).
    pub prod_web: Vec<String>,
    /// Stopped, Env=staging Role=batch (t3.large), with its root EBS volume.
    pub stopped_batch: String,
    /// A 50 GB gp3 data volume attached to the first staging web instance.
    pub attached_data: String,
    /// 100 GB gp3 (Name=old-data) and 20 GB gp2 (Env=staging), attached to nothing.
    pub unattached: Vec<String>,
}

impl Fleet {
    pub fn all_staging(&self) -> Vec<String> {
        let mut v = self.staging_web.clone();
        v.push(self.stopped_batch.clone());
        v
    }
}

fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

pub async fn image(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.describe_images()
        .owners("amazon")
        .send()
        .await
        .expect("describe images")
        .images()[0]
        .image_id()
        .unwrap()
        .to_string()
}

/// Launches `n` instances of a type with tags, `per_call` per RunInstances (one reservation
/// each call: moto pages DescribeInstances by reservation, AWS by instance); their ids.
pub async fn launch(
    ec2: &aws_sdk_ec2::Client,
    ami: &str,
    n: usize,
    per_call: usize,
    instance_type: &str,
    pairs: &[(&str, &str)],
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut left = n;
    while left > 0 {
        let batch = left.min(per_call.max(1));
        let out = ec2
            .run_instances()
            .image_id(ami)
            .instance_type(InstanceType::from(instance_type))
            .min_count(batch as i32)
            .max_count(batch as i32)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(tags(pairs)))
                    .build(),
            )
            .send()
            .await
            .expect("run instances");
        ids.extend(
            out.instances()
                .iter()
                .map(|i| i.instance_id().unwrap().to_string()),
        );
        left -= batch;
    }
    ids
}

pub fn fleet(endpoint: &str, region: &str) -> Fleet {
    runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&conf(endpoint, region));
        let ami = image(&ec2).await;
        let mut staging_web = Vec::new();
        for n in 1..=3 {
            let name = format!("web-staging-{n}");
            staging_web.extend(
                launch(
                    &ec2,
                    &ami,
                    1,
                    1,
                    "t3.medium",
                    &[("Env", "staging"), ("Role", "web"), ("Name", &name)],
                )
                .await,
            );
        }
        let mut prod_web = Vec::new();
        for n in 1..=2 {
            let name = format!("web-prod-{n}");
            prod_web.extend(
                launch(
                    &ec2,
                    &ami,
                    1,
                    1,
                    "t3.medium",
                    &[("Env", "prod"), ("Role", "web"), ("Name", &name)],
                )
                .await,
            );
        }
        let stopped_batch = launch(
            &ec2,
            &ami,
            1,
            1,
            "t3.large",
            &[
                ("Env", "staging"),
                ("Role", "batch"),
                ("Name", "batch-staging"),
            ],
        )
        .await
        .remove(0);
        ec2.stop_instances()
            .instance_ids(&stopped_batch)
            .send()
            .await
            .expect("stop");
        let zone = format!("{region}a");
        let volume = |size: i32, kind: VolumeType, pairs: &[(&str, &str)]| {
            ec2.create_volume()
                .availability_zone(&zone)
                .size(size)
                .volume_type(kind)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Volume)
                        .set_tags(Some(tags(pairs)))
                        .build(),
                )
                .send()
        };
        let attached_data = volume(
            50,
            VolumeType::Gp3,
            &[("Name", "web-data"), ("Env", "staging")],
        )
        .await
        .expect("create volume")
        .volume_id()
        .unwrap()
        .to_string();
        ec2.attach_volume()
            .volume_id(&attached_data)
            .instance_id(&staging_web[0])
            .device("/dev/sdf")
            .send()
            .await
            .expect("attach volume");
        let mut unattached = Vec::new();
        for (size, kind, pairs) in [
            (100, VolumeType::Gp3, vec![("Name", "old-data")]),
            (20, VolumeType::Gp2, vec![("Env", "staging")]),
        ] {
            unattached.push(
                volume(size, kind, &pairs)
                    .await
                    .expect("create volume")
                    .volume_id()
                    .unwrap()
                    .to_string(),
            );
        }
        Fleet {
            region: region.to_string(),
            staging_web,
            prod_web,
            stopped_batch,
            attached_data,
            unattached,
        }
    })
}

/// Secrets: `staging/db-password` rotated by a Lambda function, `staging/plain` with no
/// rotation, `prod/api-key` tagged Env=prod (also rotated). Lambda runs without Docker in moto
/// for this (`/moto-api/config`); [`restore_lambda_config`] undoes it.
pub fn secrets(endpoint: &str, region: &str) {
    post(
        endpoint,
        "/moto-api/config",
        &json!({"lambda": {"use_docker": false}}).to_string(),
    );
    runtime().block_on(async {
        let c = conf(endpoint, region);
        let iam = aws_sdk_iam::Client::new(&c);
        let role = iam
            .create_role()
            .role_name("secret-rotation")
            .assume_role_policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .expect("create role")
            .role()
            .unwrap()
            .arn()
            .to_string();
        let function = create_function(endpoint, region, &role).await;
        let sm = aws_sdk_secretsmanager::Client::new(&c);
        for (name, env, value) in [
            ("staging/db-password", "staging", "s3cr3t-Staging-Value"),
            ("staging/plain", "staging", "plain-Secret-Value"),
            ("prod/api-key", "prod", "pr0d-Secret-Value"),
        ] {
            sm.create_secret()
                .name(name)
                .secret_string(value)
                .tags(
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key("Env")
                        .value(env)
                        .build(),
                )
                .send()
                .await
                .expect("create secret");
        }
        for name in ["staging/db-password", "prod/api-key"] {
            // Configures rotation without rotating yet (what the console's "edit rotation" does).
            sm.rotate_secret()
                .secret_id(name)
                .rotation_lambda_arn(&function)
                .rotation_rules(
                    aws_sdk_secretsmanager::types::RotationRulesType::builder()
                        .automatically_after_days(30)
                        .build(),
                )
                .rotate_immediately(false)
                .send()
                .await
                .expect("configure rotation");
        }
    });
}

pub fn restore_lambda_config(endpoint: &str) {
    post(
        endpoint,
        "/moto-api/config",
        &json!({"lambda": {"use_docker": true}}).to_string(),
    );
}

/// A Lambda function created through moto's REST API (its body is a zip with one file).
async fn create_function(endpoint: &str, region: &str, role: &str) -> String {
    // Lambda's API is REST-JSON; a minimal zip (one stored file) is enough for moto.
    let zip = tiny_zip(
        "rotate.py",
        b"def handler(event, context):\n    return None\n",
    );
    use base64::Engine;
    let body = json!({
        "FunctionName": "secret-rotator",
        "Runtime": "python3.12",
        "Role": role,
        "Handler": "rotate.handler",
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
    })
    .to_string();
    let reply = http(
        endpoint,
        "POST",
        "/2015-03-31/functions",
        &body,
        &[(
            "Authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential=testing/20240101/{region}/lambda/aws4_request, SignedHeaders=host, Signature=0"
            ),
        )],
    );
    let v: Value =
        serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap_or("{}")).unwrap_or(Value::Null);
    v["FunctionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("create function: {reply}"))
        .to_string()
}

/// A zip archive holding one stored (uncompressed) file.
fn tiny_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let mut z = Vec::new();
    let local = |z: &mut Vec<u8>| {
        z.extend_from_slice(&0x04034b50u32.to_le_bytes());
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(data.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name.as_bytes());
        z.extend_from_slice(data);
    };
    local(&mut z);
    let central_at = z.len() as u32;
    z.extend_from_slice(&0x02014b50u32.to_le_bytes());
    z.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&[0; 12]);
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(name.as_bytes());
    let central_len = z.len() as u32 - central_at;
    z.extend_from_slice(&0x06054b50u32.to_le_bytes());
    z.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    z.extend_from_slice(&central_len.to_le_bytes());
    z.extend_from_slice(&central_at.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Plays the rotation function's last step, which moto does not: once RotateSecret has staged a
/// new AWSPENDING version (other than `before`), promote it to AWSCURRENT as `finishSecret` does.
pub async fn finish_rotation(endpoint: &str, region: &str, name: &str, before: Option<String>) {
    let sm = aws_sdk_secretsmanager::Client::new(&conf(endpoint, region));
    for _ in 0..300 {
        let d = sm
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .expect("describe secret");
        let stages = d.version_ids_to_stages().cloned().unwrap_or_default();
        let pending = stages
            .iter()
            .find(|(v, s)| s.iter().any(|x| x == "AWSPENDING") && Some(*v) != before.as_ref())
            .map(|(v, _)| v.clone());
        let current = stages
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == "AWSCURRENT"))
            .map(|(v, _)| v.clone());
        if let (Some(p), Some(c)) = (pending, current) {
            sm.update_secret_version_stage()
                .secret_id(name)
                .version_stage("AWSCURRENT")
                .move_to_version_id(&p)
                .remove_from_version_id(&c)
                .send()
                .await
                .expect("promote the new version");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no rotation of {name} was started");
}

/// The AWSPENDING version staged when rotation was configured, if any.
pub fn pending_version(endpoint: &str, region: &str, name: &str) -> Option<String> {
    runtime().block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&conf(endpoint, region));
        let d = sm.describe_secret().secret_id(name).send().await.ok()?;
        d.version_ids_to_stages()?
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == "AWSPENDING"))
            .map(|(v, _)| v.clone())
    })
}

/// Budgets: `prod-monthly` over its limit with an alert in ALARM, `dev-monthly` well under.
pub fn budgets(endpoint: &str) {
    use aws_sdk_budgets::types::{
        Budget, BudgetType, CalculatedSpend, ComparisonOperator, Notification, NotificationState,
        NotificationType, NotificationWithSubscribers, Spend, Subscriber, SubscriptionType,
        ThresholdType, TimeUnit,
    };
    runtime().block_on(async {
        let b = aws_sdk_budgets::Client::new(&conf(endpoint, "us-east-1"));
        let spend = |a: &str| Spend::builder().amount(a).unit("USD").build().unwrap();
        for (name, limit, actual, forecast, state) in [
            (
                "prod-monthly",
                "1000",
                "1120.50",
                "1400",
                NotificationState::Alarm,
            ),
            ("dev-monthly", "500", "125", "260", NotificationState::Ok),
        ] {
            b.create_budget()
                .account_id(ACCOUNT)
                .budget(
                    Budget::builder()
                        .budget_name(name)
                        .budget_limit(spend(limit))
                        .time_unit(TimeUnit::Monthly)
                        .budget_type(BudgetType::Cost)
                        .calculated_spend(
                            CalculatedSpend::builder()
                                .actual_spend(spend(actual))
                                .forecasted_spend(spend(forecast))
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .notifications_with_subscribers(
                    NotificationWithSubscribers::builder()
                        .notification(
                            Notification::builder()
                                .notification_type(NotificationType::Actual)
                                .comparison_operator(ComparisonOperator::GreaterThan)
                                .threshold(80.0)
                                .threshold_type(ThresholdType::Percentage)
                                .notification_state(state)
                                .build()
                                .unwrap(),
                        )
                        .subscribers(
                            Subscriber::builder()
                                .subscription_type(SubscriptionType::Email)
                                .address("ops@example.com")
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .expect("create budget");
        }
    });
}

/// Two ALBs in the default VPC, `busy-alb` and `idle-alb`; their ARNs. (Which one has traffic
/// is CloudWatch's answer: see [`request_count`], or a stub scripted by the test.)
pub fn load_balancers(endpoint: &str, region: &str) -> Vec<String> {
    runtime().block_on(async {
        let c = conf(endpoint, region);
        let ec2 = aws_sdk_ec2::Client::new(&c);
        let subnets: Vec<String> = ec2
            .describe_subnets()
            .send()
            .await
            .expect("subnets")
            .subnets()
            .iter()
            .take(2)
            .map(|s| s.subnet_id().unwrap().to_string())
            .collect();
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&c);
        let mut arns = Vec::new();
        for name in ["busy-alb", "idle-alb"] {
            let lb = elb
                .create_load_balancer()
                .name(name)
                .set_subnets(Some(subnets.clone()))
                .send()
                .await
                .expect("create load balancer");
            arns.push(
                lb.load_balancers()[0]
                    .load_balancer_arn()
                    .unwrap()
                    .to_string(),
            );
        }
        arns
    })
}

/// Records `count` requests an hour ago for the load balancer `arn` in CloudWatch, as ELBv2
/// would. The SDK speaks Smithy RPC v2 CBOR to CloudWatch, which moto answers from 5.2.6 on;
/// an older moto refuses it, and the error says so.
pub fn request_count(endpoint: &str, region: &str, arn: &str, count: f64) -> Result<(), String> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    // CloudWatch names a load balancer by the end of its ARN: app/<name>/<id>.
    let (_, dimension) = arn.split_once(":loadbalancer/").expect("an ELBv2 ARN");
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3_600);
    runtime().block_on(async {
        aws_sdk_cloudwatch::Client::new(&conf(endpoint, region))
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("RequestCount")
                    .dimensions(
                        Dimension::builder()
                            .name("LoadBalancer")
                            .value(dimension)
                            .build(),
                    )
                    .timestamp(an_hour_ago.into())
                    .value(count)
                    .unit(StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{:?}", aws_sdk_cloudwatch::error::DisplayErrorContext(&e)))
    })
}

/// An IAM user whose policy allows `actions` on everything; its access key and secret.
pub fn iam_user(endpoint: &str, name: &str, actions: &[&str]) -> (String, String) {
    runtime().block_on(async {
        let iam = aws_sdk_iam::Client::new(&conf(endpoint, "us-east-1"));
        iam.create_user()
            .user_name(name)
            .send()
            .await
            .expect("create user");
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "*"}]});
        iam.put_user_policy()
            .user_name(name)
            .policy_name("opsdeck-test")
            .policy_document(policy.to_string())
            .send()
            .await
            .expect("put user policy");
        let key = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("create access key");
        let k = key.access_key().unwrap();
        (
            k.access_key_id().to_string(),
            k.secret_access_key().to_string(),
        )
    })
}

/// Cost Explorer answers queued in moto: one result per distinct request, in order.
pub fn queue_cost_results(endpoint: &str, results: &[Value]) {
    post(
        endpoint,
        "/moto-api/static/ce/cost-and-usage-results",
        &json!({ "results": results }).to_string(),
    );
}

/// One GetCostAndUsage result: a day per amount from `start`, the last one estimated.
pub fn daily(start: jiff::civil::Date, amounts: &[f64]) -> Value {
    let results: Vec<Value> = amounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let day = start.checked_add(jiff::Span::new().days(i as i64)).unwrap();
            let next = day.tomorrow().unwrap();
            json!({"TimePeriod": {"Start": day.to_string(), "End": next.to_string()},
                   "Total": {"UnblendedCost": {"Amount": format!("{a}"), "Unit": "USD"}},
                   "Groups": [], "Estimated": i + 1 == amounts.len()})
        })
        .collect();
    json!({"ResultsByTime": results, "DimensionValueAttributes": []})
}

/// One grouped GetCostAndUsage result: per day, an amount per group key.
pub fn grouped(start: jiff::civil::Date, days: usize, groups: &[(&str, f64)]) -> Value {
    let results: Vec<Value> = (0..days)
        .map(|i| {
            let day = start.checked_add(jiff::Span::new().days(i as i64)).unwrap();
            json!({"TimePeriod": {"Start": day.to_string(), "End": day.tomorrow().unwrap().to_string()},
                   "Total": {},
                   "Groups": groups.iter().map(|(k, a)| json!({"Keys": [k],
                        "Metrics": {"UnblendedCost": {"Amount": format!("{a}"), "Unit": "USD"}}})).collect::<Vec<_>>(),
                   "Estimated": false})
        })
        .collect();
    json!({"ResultsByTime": results, "DimensionValueAttributes": []})
}

/// POSTs to a moto API path (moto answers 200 or 201).
pub fn post(endpoint: &str, path: &str, body: &str) -> String {
    let reply = http(endpoint, "POST", path, body, &[]);
    let status = reply.split_whitespace().nth(1).unwrap_or("");
    assert!(
        status.starts_with('2'),
        "moto {path}: {}",
        reply.lines().next().unwrap_or("")
    );
    reply
}

fn http(endpoint: &str, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("connect to moto");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write to moto");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read moto reply");
    reply
}
