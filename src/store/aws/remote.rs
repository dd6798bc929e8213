//! The DynamoDB and S3 calls the shared backend makes, as plain async functions over owned
//! values (they run on the access's own runtime). Each turns SDK errors into a [`Fault`].

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};

use super::fault::{Fault, classify};

pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct Clients {
    pub ddb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    /// The tenants' TOTP keys (envelope encryption of TOTP secrets).
    pub kms: aws_sdk_kms::Client,
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

pub fn get_n(item: &Item, k: &str) -> Option<u64> {
    match item.get(k) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// A condition expression with its placeholders.
#[derive(Debug, Clone, Default)]
pub struct Cond {
    pub expr: String,
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, AttributeValue)>,
}

impl Cond {
    /// The item must not exist yet.
    pub fn absent() -> Option<Cond> {
        Some(Cond {
            expr: "attribute_not_exists(pk)".into(),
            ..Cond::default()
        })
    }

    pub fn present() -> Option<Cond> {
        Some(Cond {
            expr: "attribute_exists(pk)".into(),
            ..Cond::default()
        })
    }

    /// The stored version is `version` (optimistic concurrency).
    pub fn version(version: u64) -> Option<Cond> {
        Some(Cond {
            expr: "#v = :v".into(),
            names: vec![("#v".into(), "version".into())],
            values: vec![(":v".into(), n(version))],
        })
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.iter().cloned().collect())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.iter().cloned().collect())
    }
}

pub async fn get_item(c: Clients, table: String, key: Item) -> Result<Option<Item>, Fault> {
    c.ddb
        .get_item()
        .table_name(&table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map(|o| o.item)
        .map_err(|e| classify("DynamoDB", "GetItem", &e))
}

pub async fn put_item(
    c: Clients,
    table: String,
    item: Item,
    cond: Option<Cond>,
) -> Result<(), Fault> {
    let mut req = c.ddb.put_item().table_name(&table).set_item(Some(item));
    if let Some(cond) = cond {
        req = req
            .condition_expression(&cond.expr)
            .set_expression_attribute_names(cond.names())
            .set_expression_attribute_values(cond.values());
    }
    req.send()
        .await
        .map(|_| ())
        .map_err(|e| classify("DynamoDB", "PutItem", &e))
}

/// Deletes an item, returning it if it existed.
pub async fn delete_item(
    c: Clients,
    table: String,
    key: Item,
    cond: Option<Cond>,
) -> Result<Option<Item>, Fault> {
    let mut req = c
        .ddb
        .delete_item()
        .table_name(&table)
        .set_key(Some(key))
        .return_values(ReturnValue::AllOld);
    if let Some(cond) = cond {
        req = req
            .condition_expression(&cond.expr)
            .set_expression_attribute_names(cond.names())
            .set_expression_attribute_values(cond.values());
    }
    req.send()
        .await
        .map(|o| o.attributes.filter(|a| !a.is_empty()))
        .map_err(|e| classify("DynamoDB", "DeleteItem", &e))
}

/// One page of a partition, in sort-key order; `sk_prefix` narrows to keys starting with it.
pub async fn query_page(
    c: Clients,
    table: String,
    pk: String,
    sk_prefix: Option<String>,
    start: Option<Item>,
    limit: Option<i32>,
) -> Result<(Vec<Item>, Option<Item>), Fault> {
    let sk = sk_prefix.map_or(SortKey::Any, SortKey::Prefix);
    query_page_where(c, table, pk, sk, start, limit).await
}

/// Which sort keys of a partition a query reads.
pub enum SortKey {
    Any,
    Prefix(String),
    /// Those that sort after this one.
    After(String),
}

/// One page of a partition's items whose sort keys meet `sk`.
pub async fn query_page_where(
    c: Clients,
    table: String,
    pk: String,
    sk: SortKey,
    start: Option<Item>,
    limit: Option<i32>,
) -> Result<(Vec<Item>, Option<Item>), Fault> {
    let mut req = c
        .ddb
        .query()
        .table_name(&table)
        .consistent_read(true)
        .expression_attribute_values(":pk", s(pk))
        .set_exclusive_start_key(start)
        .set_limit(limit);
    req = match sk {
        SortKey::Prefix(p) => req
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":p", s(p)),
        SortKey::After(a) => req
            .key_condition_expression("pk = :pk AND sk > :a")
            .expression_attribute_values(":a", s(a)),
        SortKey::Any => req.key_condition_expression("pk = :pk"),
    };
    let out = req
        .send()
        .await
        .map_err(|e| classify("DynamoDB", "Query", &e))?;
    Ok((
        out.items.unwrap_or_default(),
        out.last_evaluated_key.filter(|k| !k.is_empty()),
    ))
}

/// Every item of a partition (or of a sort-key prefix in it).
pub async fn query_all(
    c: Clients,
    table: String,
    pk: String,
    sk_prefix: Option<String>,
) -> Result<Vec<Item>, Fault> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let (items, next) = query_page(
            c.clone(),
            table.clone(),
            pk.clone(),
            sk_prefix.clone(),
            start,
            None,
        )
        .await?;
        out.extend(items);
        match next {
            Some(k) => start = Some(k),
            None => return Ok(out),
        }
    }
}

/// Every item of a partition whose sort key sorts after `after`, in order.
pub async fn query_after(
    c: Clients,
    table: String,
    pk: String,
    after: String,
) -> Result<Vec<Item>, Fault> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let (items, next) = query_page_where(
            c.clone(),
            table.clone(),
            pk.clone(),
            SortKey::After(after.clone()),
            start,
            None,
        )
        .await?;
        out.extend(items);
        match next {
            Some(k) => start = Some(k),
            None => return Ok(out),
        }
    }
}

/// Every item whose sort key is `sk` (a table-wide scan: only for listing tenants).
pub async fn scan_sk(c: Clients, table: String, sk: String) -> Result<Vec<Item>, Fault> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let o = c
            .ddb
            .scan()
            .table_name(&table)
            .filter_expression("sk = :sk")
            .expression_attribute_values(":sk", s(sk.clone()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("DynamoDB", "Scan", &e))?;
        out.extend(o.items.unwrap_or_default());
        match o.last_evaluated_key.filter(|k| !k.is_empty()) {
            Some(k) => start = Some(k),
            None => return Ok(out),
        }
    }
}

/// Items by key (any order; missing ones are simply absent).
pub async fn batch_get(c: Clients, table: String, keys: Vec<Item>) -> Result<Vec<Item>, Fault> {
    let mut out = Vec::new();
    for chunk in keys.chunks(100) {
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(|e| Fault::Fatal(format!("DynamoDB BatchGetItem: {e}")))?,
        );
        let mut rounds = 0;
        while let Some(req) = pending.take() {
            let o = c
                .ddb
                .batch_get_item()
                .request_items(&table, req)
                .send()
                .await
                .map_err(|e| classify("DynamoDB", "BatchGetItem", &e))?;
            if let Some(mut r) = o.responses
                && let Some(items) = r.remove(&table)
            {
                out.extend(items);
            }
            pending = o
                .unprocessed_keys
                .and_then(|mut u| u.remove(&table))
                .filter(|k| !k.keys.is_empty());
            rounds += 1;
            if pending.is_some() {
                if rounds > 20 {
                    return Err(Fault::Transient(
                        "DynamoDB BatchGetItem kept returning unprocessed keys (throttled)".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(10 << rounds.min(6))).await;
            }
        }
    }
    Ok(out)
}

pub fn tx_put(table: &str, item: Item, cond: Option<Cond>) -> Result<TransactWriteItem, Fault> {
    tx_put_returning(table, item, cond, false)
}

/// A transactional put; `old` asks for the stored item back when its condition fails (what a
/// writer that lost a race needs, without reading it again).
pub fn tx_put_returning(
    table: &str,
    item: Item,
    cond: Option<Cond>,
    old: bool,
) -> Result<TransactWriteItem, Fault> {
    let mut put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .return_values_on_condition_check_failure(if old {
            ReturnValuesOnConditionCheckFailure::AllOld
        } else {
            ReturnValuesOnConditionCheckFailure::None
        });
    if let Some(cond) = cond {
        put = put
            .condition_expression(&cond.expr)
            .set_expression_attribute_names(cond.names())
            .set_expression_attribute_values(cond.values());
    }
    let put = put
        .build()
        .map_err(|e| Fault::Fatal(format!("DynamoDB TransactWriteItems: {e}")))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// All or nothing. A cancelled transaction reports one reason code per item.
pub async fn transact(c: Clients, items: Vec<TransactWriteItem>) -> Result<(), Fault> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match c
        .ddb
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            if let Some(TransactWriteItemsError::TransactionCanceledException(tc)) =
                e.as_service_error()
            {
                let reasons: Vec<String> = tc
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_string())
                    .collect();
                let items: Vec<Option<Item>> = tc
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.item().cloned().filter(|i| !i.is_empty()))
                    .collect();
                // Throttling inside a transaction is a reason code, not an error code.
                if reasons
                    .iter()
                    .any(|r| r == "ThrottlingError" || r == "ProvisionedThroughputExceeded")
                {
                    return Err(Fault::Transient(super::fault::describe(
                        "DynamoDB",
                        "TransactWriteItems",
                        &e,
                    )));
                }
                return Err(Fault::Cancelled {
                    reasons,
                    items,
                    message: super::fault::describe("DynamoDB", "TransactWriteItems", &e),
                });
            }
            Err(classify("DynamoDB", "TransactWriteItems", &e))
        }
    }
}

/// Writes an object unless one exists under the key (`If-None-Match: *`): nothing is ever
/// overwritten. `keep` says how long it stays (its tenant's retention). Returns whether it was
/// written now.
pub async fn s3_put_new(
    c: Clients,
    bucket: String,
    key: String,
    bytes: Vec<u8>,
    keep: super::retention::ObjectRetention,
) -> Result<bool, Fault> {
    let put = |lock: bool| {
        let mut req =
            c.s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .if_none_match("*")
                .set_tagging(keep.tagging())
                .body(aws_sdk_s3::primitives::ByteStream::from(bytes.clone()));
        if let (true, Some((mode, until))) = (lock, keep.lock) {
            req = req
                .object_lock_mode(super::retention::ObjectRetention::s3_mode(mode))
                .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(until));
        }
        req.send()
    };
    let mut sent = put(true).await;
    if keep.lock.is_some()
        && let Err(e) = &sent
        && aws_sdk_s3::error::ProvideErrorMetadata::code(e) == Some("InvalidRequest")
    {
        // A bucket without Object Lock refuses lock headers: the evidence is still written
        // (unlocked), and `backend check` reports the bucket.
        tracing::warn!(
            bucket,
            key,
            "the bucket has no Object Lock; written without a lock"
        );
        sent = put(false).await;
    }
    match sent {
        Ok(_) => Ok(true),
        Err(e) => match classify("S3", "PutObject", &e) {
            Fault::Condition(_) => Ok(false),
            // A concurrent writer of the same key: its bytes are ours (content-addressed).
            Fault::Fatal(m) if m.contains("ConditionalRequestConflict") => Ok(false),
            f => Err(f),
        },
    }
}

pub async fn s3_get(c: Clients, bucket: String, key: String) -> Result<Vec<u8>, Fault> {
    let out =
        c.s3.get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| classify("S3", "GetObject", &e))?;
    out.body
        .collect()
        .await
        .map(|b| b.into_bytes().to_vec())
        .map_err(|e| {
            Fault::Transient(format!(
                "S3 GetObject s3://{bucket}/{key}: reading the body failed: {e}"
            ))
        })
}

/// Binary attribute helper (kept for items that carry small payloads).
pub fn blob(bytes: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(bytes))
}
