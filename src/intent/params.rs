//! The parameters of an intent, typed: one field per key `docs/intents.md` documents. A key
//! that does not exist is a compile error where it is read, and an error naming it where it
//! comes from outside (a stored plan, the model's answer after `llm::validate`).
//!
//! The JSON shape is the one `--json`, MCP, stored plans, audit events and the labelled corpus
//! have always had: an object with the keys in alphabetical order (the fields are declared in
//! that order, and a test holds them to it), absent values and empty lists left out.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A closed set of values a parameter may take, serialized as the words requests and stored
/// plans have always used.
macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        #[cfg(test)]
        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant),+];
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set! {
    /// The environment a request names (`production` → `prod`), or its `Env=` tag's.
    Environment {
        Prod = "prod",
        Staging = "staging",
        Dev = "dev",
        Qa = "qa",
        Test = "test",
        Uat = "uat",
        Sandbox = "sandbox",
    }
}

closed_set! {
    /// The kind of load balancer put in front of instances.
    LoadBalancer {
        Alb = "alb",
        Nlb = "nlb",
    }
}

closed_set! {
    /// How a cost query is bucketed in time.
    Granularity {
        Hourly = "hourly",
        Daily = "daily",
        Monthly = "monthly",
    }
}

closed_set! {
    /// A database engine.
    Engine {
        Postgres = "postgres",
        Mysql = "mysql",
        Mariadb = "mariadb",
        AuroraPostgresql = "aurora-postgresql",
    }
}

closed_set! {
    /// The kind of infrastructure named when no service says it.
    Resource {
        Vpc = "vpc",
        SecurityGroup = "security_group",
        AutoscalingGroup = "autoscaling_group",
    }
}

closed_set! {
    /// What a security scan covers.
    ScanScope {
        S3 = "s3",
        Ec2 = "ec2",
        Iam = "iam",
    }
}

closed_set! {
    /// The log level a request filters on ("error logs").
    LogLevel {
        Error = "error",
    }
}

closed_set! {
    /// How an alarm compares its metric with the threshold (CloudWatch's names).
    Comparison {
        GreaterThanThreshold = "GreaterThanThreshold",
        GreaterThanOrEqualToThreshold = "GreaterThanOrEqualToThreshold",
        LessThanThreshold = "LessThanThreshold",
    }
}

closed_set! {
    /// The model family an ml request names, which is what allows text to be sent to one.
    TextModel {
        Bedrock = "bedrock",
    }
}

/// `Key=Value` tags a request names, in the order it names them (as JSON has always kept
/// them); a key named again keeps its place and takes the new value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<(String, String)>);

impl Tags {
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The tags by key: the order filters, selectors and labels list them in.
    pub fn by_key(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }

    /// (key, value) pairs in the order the request named them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Tags {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut tags = Tags::default();
        for (k, v) in iter {
            tags.insert(k, v);
        }
        tags
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = (&'a str, &'a str);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a str, &'a str),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of tag keys and string values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
                let mut tags = Tags::default();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    tags.insert(k, v);
                }
                Ok(tags)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// How a parameter's value says it is unset (left out of JSON), and how a follow-up's value
/// refines the previous one.
pub trait Slot {
    fn is_unset(&self) -> bool;
    fn overlay(&mut self, newer: Self);
}

impl<T> Slot for Option<T> {
    fn is_unset(&self) -> bool {
        self.is_none()
    }
    fn overlay(&mut self, newer: Self) {
        *self = newer;
    }
}

impl<T> Slot for Vec<T> {
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
    fn overlay(&mut self, newer: Self) {
        *self = newer;
    }
}

/// Tags add up: a follow-up's tags join the previous ones.
impl Slot for Tags {
    fn is_unset(&self) -> bool {
        self.is_empty()
    }
    fn overlay(&mut self, newer: Self) {
        for (k, v) in &newer {
            self.insert(k, v);
        }
    }
}

/// Declares [`Params`] and what is generated from its list of fields: the keys, and the
/// overlay a follow-up makes.
macro_rules! params {
    ($($(#[doc = $doc:literal])* $field:ident: $ty:ty,)+) => {
        /// Extracted parameters; `docs/intents.md` says what each means and where it is read
        /// from. Fields are in alphabetical order: that is the order of the keys in JSON.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Params {
            $(
                $(#[doc = $doc])*
                #[serde(skip_serializing_if = "Slot::is_unset")]
                pub $field: $ty,
            )+
        }

        impl Params {
            /// Every key, in the order JSON has them.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),+];

            /// Takes every value `newer` sets (tags join), and says which keys those were.
            pub(crate) fn overlay(&mut self, newer: Params) -> Vec<&'static str> {
                let mut set = Vec::new();
                $(
                    if !newer.$field.is_unset() {
                        self.$field.overlay(newer.$field);
                        set.push(stringify!($field));
                    }
                )+
                set
            }
        }
    };
}

params! {
    /// For ops, the ops action; for security scans, `scan`.
    action: Option<String>,
    bucket: Option<String>,
    /// `arn:aws:acm:…`, for a load balancer's HTTPS listener.
    certificate_arn: Option<String>,
    /// An IPv4 range; "from anywhere" is `0.0.0.0/0`.
    cidr: Option<String>,
    /// A command to run, as typed (data, never words to interpret).
    command: Option<String>,
    comparison: Option<Comparison>,
    /// How many instances; held to the tenant's limit by `ranges::check`.
    count: Option<u64>,
    deep_archive_days: Option<u64>,
    encryption: Option<bool>,
    /// A SageMaker endpoint's name.
    endpoint: Option<String>,
    engine: Option<Engine>,
    engine_version: Option<String>,
    environment: Option<Environment>,
    expire_days: Option<u64>,
    /// A Lambda function's name.
    function: Option<String>,
    glacier_days: Option<u64>,
    granularity: Option<Granularity>,
    /// How a cost query is broken down: `service`, `region`, `instance_type`, `usage_type`,
    /// `account` or `tag:<Key>`.
    group_by: Option<String>,
    handler: Option<String>,
    health_check_path: Option<String>,
    ia_days: Option<u64>,
    instance_ids: Vec<String>,
    instance_type: Option<String>,
    /// The file given with `opsdeck ask --inventory FILE` (never taken from the words).
    inventory: Option<String>,
    key_name: Option<String>,
    level: Option<LogLevel>,
    load_balancer: Option<LoadBalancer>,
    load_balancer_name: Option<String>,
    log_group: Option<String>,
    max_size: Option<u64>,
    memory_mb: Option<u64>,
    metric: Option<String>,
    min_size: Option<u64>,
    model: Option<TextModel>,
    model_id: Option<String>,
    multi_az: Option<bool>,
    /// For ops, the `Name` tag after "named"/"called".
    name: Option<String>,
    nat: Option<bool>,
    nat_per_az: Option<bool>,
    older_than_days: Option<u64>,
    /// Lower-case package names.
    packages: Vec<String>,
    /// A load balancer's target port.
    port: Option<u64>,
    /// Security group ports (to open, or to close).
    ports: Vec<u64>,
    prefix: Option<String>,
    private_subnets: Option<u64>,
    /// Access for everyone was asked for (a bucket made public): planned as asked, so the
    /// policy that denies it is seen refusing it.
    public: Option<bool>,
    public_subnets: Option<u64>,
    /// A region code; held to the known regions by `ranges::check`.
    region: Option<String>,
    resource: Option<Resource>,
    retention_days: Option<u64>,
    role_arn: Option<String>,
    runtime: Option<String>,
    scope: Vec<ScanScope>,
    /// A Secrets Manager name, never a value.
    secret: Option<String>,
    security_groups: Vec<String>,
    /// `EC2`, `S3`, `Lambda`, `RDS`, `EBS`, `ELB`, `CloudWatch`, `IAM`, ...
    service: Option<String>,
    severity: Option<String>,
    sns_topic: Option<String>,
    stack: Option<String>,
    stat: Option<String>,
    storage_gb: Option<u64>,
    subnet_id: Option<String>,
    tags: Tags,
    /// Text given to an ml action verbatim (a quoted string outside ops).
    text: Option<String>,
    threshold: Option<f64>,
    timeout_s: Option<u64>,
    tls: Option<bool>,
    volume_ids: Vec<String>,
    vpc_id: Option<String>,
    /// `15m`, `1h`, `24h`, `7d`, `30d`, `mtd`; held to 1 minute to 455 days by `ranges::check`.
    window: Option<String>,
}

impl Params {
    /// Whether no parameter is set.
    pub fn is_empty(&self) -> bool {
        *self == Params::default()
    }

    /// The parameters as a JSON object, keys in alphabetical order: for views that list them
    /// and for checks that walk them by name (the schema's bounds, redaction).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            // Plain data with string keys: serializing it cannot fail or be anything else.
            _ => serde_json::Map::new(),
        }
    }

    /// Parameters from a JSON object, an error naming the key when one does not exist or
    /// holds a value of the wrong kind.
    pub fn from_json(map: serde_json::Map<String, serde_json::Value>) -> Result<Params, String> {
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
    }
}

/// A closed set of keys that name parameters, and where each one's value goes: the lexicon
/// names parameters by these, so a word can only point at one that exists.
macro_rules! param_keys {
    ($($(#[$meta:meta])* $name:ident in $slot:ident -> $ty:ty {
        $($variant:ident = $text:literal => $field:ident,)+
    })+) => {$(
        closed_set! { $(#[$meta])* $name { $($variant = $text,)+ } }

        impl Params {
            pub(crate) fn $slot(&mut self, key: $name) -> &mut $ty {
                match key {
                    $($name::$variant => &mut self.$field,)+
                }
            }
        }
    )+};
}

// Their names are the evidence's ("setting:timeout_s", "lifecycle:glacier").

param_keys! {
    /// A yes/no setting a word switches on ("multi-az", "nat").
    Flag in flag_mut -> Option<bool> {
        MultiAz = "multi_az" => multi_az,
        Nat = "nat" => nat,
        NatPerAz = "nat_per_az" => nat_per_az,
    }

    /// A parameter whose value is the name after its keyword ("key pair ops-key").
    NameKey in name_mut -> Option<String> {
        KeyName = "key_name" => key_name,
        Handler = "handler" => handler,
        HealthCheckPath = "health_check_path" => health_check_path,
    }

    /// A parameter an id or ARN fills by its shape (`subnet-…`, `arn:aws:acm:…`).
    IdKey in id_mut -> Option<String> {
        SubnetId = "subnet_id" => subnet_id,
        VpcId = "vpc_id" => vpc_id,
        CertificateArn = "certificate_arn" => certificate_arn,
        RoleArn = "role_arn" => role_arn,
    }

    /// A parameter whose value is the number (with its unit) after its word ("timeout 30s").
    Setting in setting_mut -> Option<u64> {
        MemoryMb = "memory_mb" => memory_mb,
        StorageGb = "storage_gb" => storage_gb,
        TimeoutS = "timeout_s" => timeout_s,
        RetentionDays = "retention_days" => retention_days,
        MinSize = "min_size" => min_size,
        MaxSize = "max_size" => max_size,
    }

    /// An S3 lifecycle step and the parameter its days go to.
    Lifecycle in lifecycle_days_mut -> Option<u64> {
        Expire = "expire" => expire_days,
        Glacier = "glacier" => glacier_days,
        Ia = "ia" => ia_days,
        DeepArchive = "deep_archive" => deep_archive_days,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// Every parameter set, so each key shows up once.
    fn full() -> Params {
        let mut p: Params = serde_json::from_str(
            r#"{
            "action": "scan", "bucket": "b", "certificate_arn": "arn:aws:acm:x", "cidr": "10.0.0.0/8",
            "command": "uptime", "comparison": "LessThanThreshold", "count": 3, "deep_archive_days": 1,
            "encryption": true, "endpoint": "e", "engine": "aurora-postgresql", "engine_version": "16",
            "environment": "prod", "expire_days": 2, "function": "f", "glacier_days": 3,
            "granularity": "daily", "group_by": "tag:Team", "handler": "h", "health_check_path": "/",
            "ia_days": 4, "instance_ids": ["i-0123abcd"], "instance_type": "t3.micro",
            "inventory": "hosts.ini", "key_name": "k", "level": "error", "load_balancer": "nlb",
            "load_balancer_name": "lb", "log_group": "/g", "max_size": 5, "memory_mb": 128,
            "metric": "cpu", "min_size": 1, "model": "bedrock", "model_id": "m", "multi_az": false,
            "name": "web-1", "nat": true, "nat_per_az": false, "older_than_days": 90,
            "packages": ["nginx"], "port": 8080, "ports": [22, 443], "prefix": "p/",
            "private_subnets": 2, "public": true, "public_subnets": 2, "region": "eu-west-1", "resource": "vpc",
            "retention_days": 14, "role_arn": "arn:aws:iam::123456789012:role/r",
            "runtime": "python3.12", "scope": ["s3", "iam"], "secret": "s",
            "security_groups": ["sg-0123abcd"], "service": "EC2", "severity": "HIGH",
            "sns_topic": "arn:aws:sns:t", "stack": "web", "stat": "p99", "storage_gb": 20,
            "subnet_id": "subnet-0123abcd", "tags": {"Env": "prod", "App": "x"}, "text": "hi",
            "threshold": 80.5, "timeout_s": 30, "tls": true, "volume_ids": ["vol-0123abcd"],
            "vpc_id": "vpc-0123abcd", "window": "24h"
        }"#,
        )
        .unwrap();
        p.tags.insert("Team", "ops");
        p
    }

    #[test]
    fn keys_serialize_in_alphabetical_order_as_they_always_have() {
        let keys: Vec<String> = full().to_json().keys().cloned().collect();
        assert_eq!(keys, Params::KEYS, "full() sets every parameter");
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "declare Params' fields in alphabetical order");
    }

    #[test]
    fn docs_name_every_key() {
        let docs = include_str!("../../docs/intents.md");
        for key in Params::KEYS {
            assert!(
                docs.contains(&format!("`{key}`")),
                "{key} is not in docs/intents.md"
            );
        }
    }

    #[test]
    fn json_round_trips_and_leaves_out_what_is_unset() {
        let p = full();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(serde_json::from_value::<Params>(v.clone()).unwrap(), p);
        // Tags keep the order the request named them in.
        assert_eq!(
            serde_json::to_string(&v["tags"]).unwrap(),
            r#"{"Env":"prod","App":"x","Team":"ops"}"#
        );
        assert_eq!(serde_json::to_string(&Params::default()).unwrap(), "{}");
        let some = Params {
            count: Some(3),
            region: Some("ap-south-1".into()),
            load_balancer: Some(LoadBalancer::Alb),
            ..Params::default()
        };
        assert_eq!(
            serde_json::to_string(&some).unwrap(),
            r#"{"count":3,"load_balancer":"alb","region":"ap-south-1"}"#
        );
    }

    #[test]
    fn unknown_keys_and_values_are_errors_that_name_them() {
        let e = Params::from_json(json!({"shell": "rm -rf /"}).as_object().unwrap().clone())
            .unwrap_err();
        assert!(e.contains("unknown field `shell`"), "{e}");
        let e = serde_json::from_value::<Params>(json!({"load_balancer": "elb"})).unwrap_err();
        assert!(e.to_string().contains("elb"), "{e}");
        assert!(serde_json::from_value::<Params>(json!({"count": -3})).is_err());
        assert!(serde_json::from_value::<Params>(Value::Null).is_err());
    }

    /// A lexicon key fills the parameter it is named after (lifecycle steps, `<step>_days`).
    #[test]
    fn lexicon_keys_fill_the_parameter_they_name() {
        let filled = |fill: &dyn Fn(&mut Params)| {
            let mut p = Params::default();
            fill(&mut p);
            p.to_json().keys().cloned().collect::<Vec<_>>()
        };
        for &k in Flag::ALL {
            assert_eq!(filled(&|p| *p.flag_mut(k) = Some(true)), [k.as_str()]);
        }
        for &k in NameKey::ALL {
            assert_eq!(filled(&|p| *p.name_mut(k) = Some("x".into())), [k.as_str()]);
        }
        for &k in IdKey::ALL {
            assert_eq!(filled(&|p| *p.id_mut(k) = Some("x".into())), [k.as_str()]);
        }
        for &k in Setting::ALL {
            assert_eq!(filled(&|p| *p.setting_mut(k) = Some(1)), [k.as_str()]);
        }
        for &k in Lifecycle::ALL {
            assert_eq!(
                filled(&|p| *p.lifecycle_days_mut(k) = Some(1)),
                [format!("{k}_days")]
            );
        }
    }

    /// Stored intents are redacted through their JSON and read back (`redact_intent`): no
    /// value of a closed set may change under redaction, or it would no longer read.
    #[test]
    fn closed_sets_survive_redaction() {
        let values = [
            Environment::ALL
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
            LoadBalancer::ALL.iter().map(|v| v.as_str()).collect(),
            Granularity::ALL.iter().map(|v| v.as_str()).collect(),
            Engine::ALL.iter().map(|v| v.as_str()).collect(),
            Resource::ALL.iter().map(|v| v.as_str()).collect(),
            ScanScope::ALL.iter().map(|v| v.as_str()).collect(),
            LogLevel::ALL.iter().map(|v| v.as_str()).collect(),
            Comparison::ALL.iter().map(|v| v.as_str()).collect(),
            TextModel::ALL.iter().map(|v| v.as_str()).collect(),
        ];
        for v in values.concat() {
            assert_eq!(crate::redact::redact(v), v);
        }
    }

    #[test]
    fn closed_sets_read_as_they_are_written() {
        for e in [Environment::Prod, Environment::Sandbox] {
            assert_eq!(serde_json::to_value(e).unwrap(), json!(e.as_str()));
        }
        assert_eq!(Engine::AuroraPostgresql.to_string(), "aurora-postgresql");
        assert_eq!(Setting::TimeoutS.as_str(), "timeout_s");
    }
}
