//! What went wrong in a call to DynamoDB or S3, sorted by what the store does about it: wait and
//! work from the journal (transient), retry (a condition or a transaction conflict), say what is
//! missing, or report it as the service said it.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::AwsError;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Unreachable, timed out, throttled, or the service failed: the call may work later.
    Transient(String),
    /// A conditional write's condition did not hold.
    Condition(String),
    /// A transaction was cancelled: one reason code per item, in order ("None" where fine),
    /// with the item as stored where a condition failed and its put asked for it.
    Cancelled {
        reasons: Vec<String>,
        items: Vec<Option<HashMap<String, AttributeValue>>>,
        message: String,
    },
    /// A table, bucket or object that is not there.
    Missing(String),
    /// The caller may not do this.
    Denied(String),
    /// Anything else, as the service said it.
    Fatal(String),
}

/// Codes that mean "not now" rather than "no".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
];

const MISSING_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
    "NotFound",
    "TableNotFoundException",
];

impl Fault {
    pub fn is_transient(&self) -> bool {
        matches!(self, Fault::Transient(_))
    }

    pub fn message(&self) -> &str {
        match self {
            Fault::Transient(m)
            | Fault::Condition(m)
            | Fault::Missing(m)
            | Fault::Denied(m)
            | Fault::Fatal(m) => m,
            Fault::Cancelled { message, .. } => message,
        }
    }

    /// Whether a cancelled transaction lost a race (a condition, or another transaction on the
    /// same item) rather than failed for good.
    pub fn lost_race(&self) -> bool {
        match self {
            Fault::Condition(_) => true,
            Fault::Cancelled { reasons, .. } => reasons
                .iter()
                .any(|r| r == "ConditionalCheckFailed" || r == "TransactionConflict"),
            _ => false,
        }
    }

    /// The store error shown to the person at the keyboard.
    pub fn into_error(self) -> StoreError {
        match self {
            Fault::Transient(reason) => StoreError::Unreachable { reason },
            Fault::Missing(detail) => StoreError::Missing { detail },
            Fault::Denied(detail) => StoreError::Denied { detail },
            Fault::Condition(detail) | Fault::Fatal(detail) => StoreError::Backend { detail },
            Fault::Cancelled { message, .. } => StoreError::Backend { detail: message },
        }
    }
}

/// Sorts an SDK error. The message is readable: service, operation, message, code, request id.
pub fn classify<E>(service: &str, operation: &str, err: &SdkError<E, HttpResponse>) -> Fault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = describe(service, operation, err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Fault::Transient(text)
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            let status = se.raw().status().as_u16();
            if TRANSIENT_CODES.contains(&code) || status >= 500 || status == 429 {
                Fault::Transient(text)
            } else if code == "ConditionalCheckFailedException"
                || code == "PreconditionFailed"
                || status == 412
            {
                Fault::Condition(text)
            } else if MISSING_CODES.contains(&code) || status == 404 {
                Fault::Missing(text)
            } else if code.starts_with("AccessDenied")
                || code == "UnrecognizedClientException"
                || code == "InvalidAccessKeyId"
                || code == "ExpiredToken"
                || code == "ExpiredTokenException"
                || status == 403
            {
                Fault::Denied(text)
            } else {
                Fault::Fatal(text)
            }
        }
        _ => Fault::Fatal(text),
    }
}

/// [`crate::aws::describe_error`], plus the innermost cause of a failure to reach the service
/// (connection refused, no credentials, ...), which is what a person needs to act on.
pub fn describe<E>(service: &str, operation: &str, err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // No error code in the reply (an empty 403, say): from_sdk names the HTTP status.
    let base = AwsError::from_sdk(service, operation, err).to_string();
    match err {
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> =
                std::error::Error::source(err);
            let mut last = None;
            while let Some(c) = cause {
                last = Some(c.to_string());
                cause = c.source();
            }
            match last {
                Some(l) if !l.is_empty() && !base.contains(&l) => format!("{base}: {l}"),
                _ => base,
            }
        }
        _ => base,
    }
}
