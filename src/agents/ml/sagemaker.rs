//! SageMaker endpoints: list them, and invoke one with an input the user typed.

use aws_smithy_types::Blob;
use serde_json::{Value, json};

use crate::agents::insight::{aws_error, error_code, from_smithy, short_time};
use crate::error::{Error, Result};

pub async fn list(client: aws_sdk_sagemaker::Client) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut pages = client.list_endpoints().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("SageMaker", "ListEndpoints", &e))?;
        for e in page.endpoints() {
            out.push(json!({
                "name": e.endpoint_name(),
                "status": e.endpoint_status().map(|s| s.as_str().to_string()),
                "created": e.creation_time().and_then(from_smithy).map(short_time),
                "modified": e.last_modified_time().and_then(from_smithy).map(short_time),
            }));
        }
    }
    Ok(out)
}

/// `application/json` for JSON, `text/csv` for comma-separated numbers, else `text/plain`.
pub fn content_type(input: &str) -> &'static str {
    let t = input.trim();
    if (t.starts_with('{') || t.starts_with('[')) && serde_json::from_str::<Value>(t).is_ok() {
        "application/json"
    } else if t.split(',').all(|x| x.trim().parse::<f64>().is_ok()) {
        "text/csv"
    } else {
        "text/plain"
    }
}

pub struct Invocation {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub variant: Option<String>,
    pub status: String,
}

/// Checks the endpoint is in service, then invokes it.
pub async fn invoke(
    sm: aws_sdk_sagemaker::Client,
    rt: aws_sdk_sagemakerruntime::Client,
    endpoint: String,
    input: String,
) -> Result<Invocation> {
    let status = match sm.describe_endpoint().endpoint_name(&endpoint).send().await {
        Ok(d) => d
            .endpoint_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        Err(e) if error_code(&e) == Some("ValidationException") => {
            return Err(Error::not_found(
                "SageMaker endpoint",
                &endpoint,
                "`opsdeck ask \"list sagemaker endpoints\"` lists them",
            ));
        }
        Err(e) => return Err(aws_error("SageMaker", "DescribeEndpoint", &e)),
    };
    if status != "InService" {
        return Err(Error::Unavailable(format!(
            "SageMaker endpoint {endpoint} is {status}, not InService: it cannot answer yet"
        )));
    }
    let out = rt
        .invoke_endpoint()
        .endpoint_name(&endpoint)
        .content_type(content_type(&input))
        .body(Blob::new(input.into_bytes()))
        .send()
        .await
        .map_err(|e| aws_error("SageMaker Runtime", "InvokeEndpoint", &e))?;
    Ok(Invocation {
        body: out.body().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
        content_type: out.content_type().map(str::to_string),
        variant: out.invoked_production_variant().map(str::to_string),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("1, 2.5,3"), "text/csv");
        assert_eq!(content_type("{\"x\": 1}"), "application/json");
        assert_eq!(content_type("is this spam?"), "text/plain");
    }
}
