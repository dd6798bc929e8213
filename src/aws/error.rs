//! An AWS SDK call that failed, as a person reads it: which service and operation, and what the
//! service said (message, code, request id) or why it was never answered.

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};

use crate::error::Kind;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AwsError {
    /// The service answered with an error.
    #[error(
        "{service} {operation} failed: {} ({}){}",
        .message.as_deref().unwrap_or("no message"),
        .code.as_deref().unwrap_or("unknown error"),
        with_request_id(.request_id)
    )]
    Service {
        service: String,
        operation: String,
        code: Option<String>,
        message: Option<String>,
        request_id: Option<String>,
    },

    /// The service answered an HTTP error with no error code in it (an empty 403 or 500, say):
    /// the status says what happened.
    #[error(
        "HTTP {status} from {service} {operation}: {}{}{}",
        status_meaning(*.status),
        .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default(),
        with_request_id(.request_id)
    )]
    Status {
        service: String,
        operation: String,
        status: u16,
        message: Option<String>,
        request_id: Option<String>,
    },

    #[error("{service} {operation} timed out")]
    TimedOut { service: String, operation: String },

    /// The credential chain found nothing, so the call was never sent.
    #[error(
        "{service} {operation}: no AWS credentials were found (environment, profile, SSO or instance role): set them up (e.g. `aws configure` or `aws sso login`), or try every agent without an account: `opsdeck demo`"
    )]
    NoCredentials { service: String, operation: String },

    /// The credentials could not be obtained (an assumed role refused, say), so the call was
    /// never sent: not an outage, and not fixed by the network.
    #[error("{service} {operation} was not sent: its credentials could not be obtained: {detail}")]
    CredentialsRefused {
        service: String,
        operation: String,
        detail: String,
        /// The error code of the call that refused them (`AccessDenied` for an AssumeRole the
        /// role's trust policy does not allow).
        code: Option<String>,
    },

    /// The request never got an answer.
    #[error(
        "{service} {operation} could not reach the service ({}); check the network, the region, and the endpoint if one is set (--endpoint-url, AWS_ENDPOINT_URL)",
        .cause.as_str()
    )]
    Unreachable {
        service: String,
        operation: String,
        cause: DispatchCause,
    },

    /// Not sent, or not retried: earlier in the same run its endpoint could not be reached
    /// (`reach.rs`).
    #[error(
        "{service} {operation} {}: {endpoint} could not be reached ({first}); check the network, and the endpoint if one is set (--endpoint-url, AWS_ENDPOINT_URL)",
        if *.retry { "was not retried" } else { "was not sent" }
    )]
    NotSent {
        service: String,
        operation: String,
        endpoint: String,
        first: String,
        retry: bool,
    },

    #[error("{service} {operation} returned a response that could not be read")]
    BadResponse { service: String, operation: String },

    #[error("cannot start the AWS client runtime: {detail}")]
    Runtime { detail: String },

    #[error("an AWS call was interrupted")]
    Interrupted,

    /// Someone cancelled the request while it waited (the call in flight is abandoned); the
    /// crate error says "cancelled: " before this.
    #[error("{}", match .waiting_for {
        Some(call) => format!("stopped waiting for {call}"),
        None => "stopped before its next AWS call".to_string(),
    })]
    Cancelled { waiting_for: Option<String> },

    /// Anything else the SDK reported (a request it could not build, say).
    #[error("{service} {operation} failed: {detail}")]
    Other {
        service: String,
        operation: String,
        detail: String,
    },
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchCause {
    Timeout,
    Connection,
    Other,
}

impl DispatchCause {
    fn as_str(self) -> &'static str {
        match self {
            DispatchCause::Timeout => "timeout",
            DispatchCause::Connection => "connection failed",
            DispatchCause::Other => "dispatch failure",
        }
    }
}

/// What an HTTP status says when the answer carries no error code.
fn status_meaning(status: u16) -> &'static str {
    match status {
        400 => "bad request, with no error code in the answer",
        401 | 403 => "access denied",
        404 => "not found",
        429 => "too many requests (throttled); try again shortly",
        500..=599 => {
            "the service failed on its side, with no error code in the answer; try again, and check the endpoint if one is set"
        }
        _ => "no error code in the answer",
    }
}

/// The HTTP status of an SDK call's raw answer.
pub trait HttpStatus {
    fn http_status(&self) -> u16;
    /// The request id the answer's headers carry, if any.
    fn request_id(&self) -> Option<String>;
}

impl HttpStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }

    fn request_id(&self) -> Option<String> {
        let h = self.headers();
        h.get("x-amzn-requestid")
            .or_else(|| h.get("x-amz-request-id"))
            .map(str::to_string)
    }
}

fn with_request_id(id: &Option<String>) -> String {
    id.as_ref()
        .map(|r| format!(", request id {r}"))
        .unwrap_or_default()
}

impl AwsError {
    /// Sorts an SDK error (of any service: they share one `SdkError`).
    pub fn from_sdk<E, R>(service: &str, operation: &str, err: &SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error,
        R: HttpStatus,
    {
        let (service, operation) = (service.to_string(), operation.to_string());
        match err {
            SdkError::ServiceError(se) if se.err().code().is_none() => AwsError::Status {
                service,
                operation,
                status: se.raw().http_status(),
                message: se.err().message().map(str::to_string),
                request_id: se
                    .err()
                    .meta()
                    .extra("aws_request_id")
                    .map(str::to_string)
                    .or_else(|| se.raw().request_id()),
            },
            SdkError::ServiceError(se) => {
                let e = se.err();
                AwsError::Service {
                    service,
                    operation,
                    code: e.code().map(str::to_string),
                    message: e.message().map(str::to_string),
                    request_id: e.meta().extra("aws_request_id").map(str::to_string),
                }
            }
            SdkError::TimeoutError(_) => AwsError::TimedOut { service, operation },
            SdkError::DispatchFailure(d) => {
                if let Some(n) = d
                    .as_connector_error()
                    .and_then(|c| std::error::Error::source(c))
                    .and_then(|e| e.downcast_ref::<super::reach::NotSent>())
                {
                    return AwsError::NotSent {
                        service,
                        operation,
                        endpoint: n.endpoint.clone(),
                        first: n.first.clone(),
                        retry: n.retry,
                    };
                }
                match d.as_connector_error().and_then(|c| credentials_trouble(c)) {
                    Some(CredentialsTrouble::NotFound) => {
                        AwsError::NoCredentials { service, operation }
                    }
                    Some(CredentialsTrouble::Refused { detail, code }) => {
                        AwsError::CredentialsRefused {
                            service,
                            operation,
                            detail,
                            code,
                        }
                    }
                    None => AwsError::Unreachable {
                        service,
                        operation,
                        cause: if d.is_timeout() {
                            DispatchCause::Timeout
                        } else if d.is_io() {
                            DispatchCause::Connection
                        } else {
                            DispatchCause::Other
                        },
                    },
                }
            }
            SdkError::ResponseError(r) if r.raw().http_status() >= 400 => AwsError::Status {
                service,
                operation,
                status: r.raw().http_status(),
                message: None,
                request_id: r.raw().request_id(),
            },
            SdkError::ResponseError(_) => AwsError::BadResponse { service, operation },
            other => AwsError::Other {
                service,
                operation,
                detail: other.to_string(),
            },
        }
    }

    /// The service's error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } | AwsError::CredentialsRefused { code, .. } => {
                code.as_deref()
            }
            _ => None,
        }
    }

    /// Every failed SDK call reads as the service being unavailable to us; callers that know
    /// better (a denial, a missing resource) say so with the crate's own variants.
    pub fn kind(&self) -> Kind {
        match self {
            AwsError::Cancelled { .. } => Kind::Cancelled,
            _ => Kind::Unavailable,
        }
    }
}

/// Why the SDK gave up before sending, when it was the credentials'.
enum CredentialsTrouble {
    /// The credential chain found nothing.
    NotFound,
    /// A provider failed (an AssumeRole the role's trust policy refused, say): as a person
    /// reads it, with the refusing call's error code.
    Refused {
        detail: String,
        code: Option<String>,
    },
}

fn credentials_trouble(error: &(dyn std::error::Error + 'static)) -> Option<CredentialsTrouble> {
    use aws_credential_types::provider::error::CredentialsError;
    type AssumeRoleFailure = SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_sdk_sts::config::http::HttpResponse,
    >;
    let (mut provider, mut refused) = (None, None);
    let mut source = Some(error);
    while let Some(e) = source {
        match e.downcast_ref::<CredentialsError>() {
            // Nothing found anywhere in the chain outranks what a provider said.
            Some(CredentialsError::CredentialsNotLoaded(_)) => {
                return Some(CredentialsTrouble::NotFound);
            }
            Some(c) => {
                provider.get_or_insert(c);
            }
            None => {}
        }
        if provider.is_some() && refused.is_none() {
            refused = e.downcast_ref::<AssumeRoleFailure>();
        }
        source = e.source();
    }
    let provider = provider?;
    if let Some(r) = refused {
        let said = AwsError::from_sdk("STS", "AssumeRole", r);
        return Some(CredentialsTrouble::Refused {
            detail: said.to_string(),
            code: said.code().map(str::to_string),
        });
    }
    // Another provider's failure: what its errors say, each once.
    let mut said: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(provider);
    while let Some(n) = next {
        let text = n.to_string();
        if !text.is_empty() && !said.iter().any(|s| s.contains(&text)) {
            said.push(text);
        }
        next = n.source();
    }
    Some(CredentialsTrouble::Refused {
        detail: said.join(": "),
        code: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> (String, String) {
        ("ec2".into(), "DescribeInstances".into())
    }

    #[test]
    fn a_service_answer_reads_as_service_operation_message_code_and_request_id() {
        let (service, operation) = names();
        let e = AwsError::Service {
            service,
            operation,
            code: Some("UnauthorizedOperation".into()),
            message: Some("You are not authorized".into()),
            request_id: Some("r-1".into()),
        };
        assert_eq!(
            e.to_string(),
            "ec2 DescribeInstances failed: You are not authorized (UnauthorizedOperation), request id r-1"
        );
        assert_eq!(e.code(), Some("UnauthorizedOperation"));
    }

    #[test]
    fn an_http_status_without_a_code_says_what_the_status_means() {
        let (service, operation) = names();
        let e = AwsError::Status {
            service,
            operation,
            status: 403,
            message: None,
            request_id: None,
        };
        assert_eq!(
            e.to_string(),
            "HTTP 403 from ec2 DescribeInstances: access denied"
        );
        let crate_error: crate::Error = e.into();
        assert_eq!(
            (crate_error.code(), crate_error.exit_code()),
            ("unavailable", 6)
        );
    }
}
