//! Direct access to where a tenant's trail is stored, on the local store and on the shared
//! backend (moto): what an attacker with store write can do to it.

use serde_json::Value;

use super::Home;
use super::shared::{SharedBackend, block};

/// Direct access to where the trail is stored: what an attacker with store write can do.
pub trait Storage {
    fn lines(&self) -> Vec<String>;
    /// Replaces the whole trail with `lines` (and sets the head to the last one).
    fn replace(&self, lines: &[String]);
    /// Makes the trail exist but hold nothing.
    fn empty(&self);
    /// Removes the trail entirely, and the published keys too when `keys`.
    fn delete(&self, keys: bool);
    /// Publishes a public key where verifiers look for keys.
    fn add_key(&self, key_id: &str, public_hex: &str);
}

pub struct LocalStorage<'a>(pub &'a Home);

impl Storage for LocalStorage<'_> {
    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.0.audit_file("default"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
    fn replace(&self, lines: &[String]) {
        std::fs::write(self.0.audit_file("default"), lines.join("\n") + "\n").unwrap();
    }
    fn empty(&self) {
        std::fs::write(self.0.audit_file("default"), "").unwrap();
    }
    fn delete(&self, keys: bool) {
        std::fs::remove_file(self.0.audit_file("default")).unwrap();
        if keys {
            std::fs::remove_dir_all(self.0.path().join("keys")).unwrap();
        }
    }
    fn add_key(&self, key_id: &str, public_hex: &str) {
        std::fs::write(
            self.0.path().join("keys").join(format!("{key_id}.pub")),
            public_hex,
        )
        .unwrap();
    }
}

pub struct AwsStorage<'a>(pub &'a SharedBackend);

pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

fn s(v: impl Into<String>) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(v.into())
}

fn n(v: u64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(v.to_string())
}

impl AwsStorage<'_> {
    fn items(&self, pk: &str) -> Vec<Item> {
        let (ddb, _) = self.0.clients();
        let table = self.0.table("audit_runs");
        block(async {
            let mut out = Vec::new();
            let mut start = None;
            loop {
                let page = ddb
                    .query()
                    .table_name(&table)
                    .key_condition_expression("pk = :p")
                    .expression_attribute_values(":p", s(pk))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .unwrap();
                out.extend(page.items().iter().cloned());
                match page.last_evaluated_key() {
                    Some(k) => start = Some(k.clone()),
                    None => return out,
                }
            }
        })
    }
    fn delete_items(&self, table: &str, items: &[Item]) {
        let (ddb, _) = self.0.clients();
        block(async {
            for i in items {
                let key: Item = [("pk", &i["pk"]), ("sk", &i["sk"])]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect();
                ddb.delete_item()
                    .table_name(table)
                    .set_key(Some(key))
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    fn put(&self, table: &str, item: Item) {
        let (ddb, _) = self.0.clients();
        block(async {
            ddb.put_item()
                .table_name(table)
                .set_item(Some(item))
                .send()
                .await
                .unwrap();
        });
    }
    fn set_head(&self, seq: u64, hash: &str) {
        let item: Item = [
            ("pk", s("default#head")),
            ("sk", s("head")),
            ("seq", n(seq)),
            ("hash", s(hash)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.put(&self.0.table("audit_runs"), item);
    }
}

impl Storage for AwsStorage<'_> {
    fn lines(&self) -> Vec<String> {
        self.items("default")
            .iter()
            .map(|i| i["line"].as_s().unwrap().clone())
            .collect()
    }
    fn replace(&self, lines: &[String]) {
        let table = self.0.table("audit_runs");
        self.delete_items(&table, &self.items("default"));
        // Items are keyed by the seq the record claims, as the backend stores them; a record
        // moved elsewhere in the order is stored under the position it now takes.
        for (i, line) in lines.iter().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            let item: Item = [
                ("pk", s("default")),
                ("sk", s(format!("{:020}", i + 1))),
                ("seq", n(i as u64 + 1)),
                ("line", s(line.clone())),
                ("hash", s(v["hash"].as_str().unwrap())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            self.put(&table, item);
        }
        let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        self.set_head(lines.len() as u64, last["hash"].as_str().unwrap());
    }
    fn empty(&self) {
        let table = self.0.table("audit_runs");
        self.delete_items(&table, &self.items("default"));
        self.delete_items(&table, &self.items("default#event"));
    }
    fn delete(&self, keys: bool) {
        self.empty();
        let table = self.0.table("audit_runs");
        self.delete_items(&table, &self.items("default#head"));
        if keys {
            let (ddb, _) = self.0.clients();
            let tenants = self.0.table("tenants");
            let items = block(async {
                ddb.query()
                    .table_name(&tenants)
                    .key_condition_expression("pk = :p and begins_with(sk, :k)")
                    .expression_attribute_values(":p", s("default"))
                    .expression_attribute_values(":k", s("key#"))
                    .send()
                    .await
                    .unwrap()
                    .items()
                    .to_vec()
            });
            assert!(!items.is_empty());
            self.delete_items(&tenants, &items);
        }
    }
    fn add_key(&self, key_id: &str, public_hex: &str) {
        let item: Item = [
            ("pk", s("default")),
            ("sk", s(format!("key#{key_id}"))),
            ("public", s(public_hex)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.put(&self.0.table("tenants"), item);
    }
}

/// alice as a member who never verified this local store before: the same store, her own
/// identity dir under `elsewhere` (so no pins and no checkpoints of her own).
pub fn fresh_member(home: &Home, elsewhere: &Home) -> opsdeck::pipeline::Deck {
    opsdeck::pipeline::Deck::open(opsdeck::pipeline::OpenOptions {
        home: Some(home.path().to_path_buf()),
        identity_dir: Some(elsewhere.path().join("identity")),
        user: Some("alice".into()),
        ..Default::default()
    })
    .unwrap()
}
